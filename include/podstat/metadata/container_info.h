// What a metadata provider knows about one container.
#pragma once

#include <map>
#include <string>

namespace podstat::metadata {

struct ContainerInfo {
  std::string name;        // runtime's name (Docker: without the leading '/')
  std::string image;       // image reference as the runtime reports it
  std::string pod;         // Kubernetes pod name, empty outside Kubernetes
  std::string namespace_;  // Kubernetes namespace
  std::string container;   // Kubernetes container name
  std::string pod_uid;
  // The container's cgroup, relative to the cgroup v2 root, where the runtime itself reports it;
  // empty when the provider does not know. Only a reported path lets a container id found nested
  // inside another container's cgroup be trusted (cgroup::ParseContainerPath). Neither the Docker
  // container list nor the kubelet's log layout carries it, so today no provider fills it in.
  std::string cgroup_path;
  std::map<std::string, std::string> labels;  // runtime labels, for providers that have them

  bool operator==(const ContainerInfo&) const = default;
};

}  // namespace podstat::metadata
