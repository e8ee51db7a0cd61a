// cgroup path -> which container (and pod) it belongs to, by the naming conventions of the
// container runtimes and the kubelet's cgroup drivers. Pure: a table of patterns over strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podstat::cgroup {

enum class Runtime { kUnknown, kDocker, kContainerd, kCrio, kPodman };
enum class QosClass { kNone, kGuaranteed, kBurstable, kBestEffort };

std::string_view RuntimeName(Runtime runtime);

// A container id as runtimes write it: exactly 64 lower-case hex digits.
bool IsContainerId(std::string_view text);
std::string_view QosClassName(QosClass qos);

struct ContainerRef {
  Runtime runtime = Runtime::kUnknown;
  std::string container_id;  // 64 lower-case hex digits
  std::string pod_uid;       // Kubernetes pod UID with dashes ("_" of the systemd driver undone)
  QosClass qos = QosClass::kNone;
  // The container's own cgroup: the path up to and including the component that named it, so
  // sub-cgroups a container makes inside itself fold into it. For pod-level refs, the pod's.
  std::string cgroup_path;

  bool operator==(const ContainerRef&) const = default;
};

// The container a cgroup path (relative to a cgroup root, v1 or v2) belongs to: the deepest
// path component that names one decides. nullopt for paths that are not containers (systemd
// services, slices, the root, conmon and other runtime helpers), though pod-level cgroups such
// as kubepods-burstable-pod<uid>.slice return a ref with pod_uid and no container_id.
std::optional<ContainerRef> ParseContainerPath(std::string_view cgroup_path);

}  // namespace podstat::cgroup
