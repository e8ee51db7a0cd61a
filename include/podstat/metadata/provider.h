// Metadata providers turn container ids and pod UIDs into the names users think in. Each one
// fetches everything it knows in one go into a Catalog, which the cache swaps in whole: a
// provider's knowledge is replaced, never appended to, so churn cannot grow it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podstat/metadata/container_info.h"
#include "podstat/util/host_paths.h"

namespace podstat::metadata {

struct PodInfo {
  std::string namespace_;
  std::string pod;
};

struct Catalog {
  std::unordered_map<std::string, ContainerInfo> containers;  // by 64-hex container id
  std::unordered_map<std::string, PodInfo> pods;              // by pod UID
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view name() const = 0;
  // Everything the provider knows now. false with *error when the source is unavailable.
  virtual bool Fetch(Catalog& out, std::string* error) = 0;
};

// Docker Engine API over its unix socket: names, images, labels, and the Kubernetes names that
// dockershim and cri-dockerd put into labels.
std::unique_ptr<Provider> MakeDockerProvider(std::string socket_path);

// A CRI runtime (containerd, CRI-O) at `endpoint` ("unix:///run/containerd/containerd.sock"):
// pods and containers from ListPodSandbox and ListContainers (cri_catalog.h says what each label
// comes from), the sandbox named as a container of its pod.
std::unique_ptr<Provider> MakeCriProvider(std::string endpoint);

// The CRI endpoint to use: `flag` itself ("unix:///path" or a path) unless it is "auto"; for
// "auto", the first of these that is a unix socket under the host root: /run/containerd/
// containerd.sock, /run/k3s/containerd/containerd.sock, /var/run/crio/crio.sock,
// /run/crio/crio.sock. Empty when none is (or when `flag` is empty: disabled), with *why saying
// what was looked at.
std::string ResolveCriEndpoint(const std::string& flag, const HostPaths& paths, std::string* why);

// The candidates "auto" looks at, relative to the host root, in order.
const std::vector<std::string_view>& CriEndpointCandidates();

// The kubelet's on-disk layout under the host root: /var/log/pods/<namespace>_<pod>_<uid>/
// <container>/ and /var/log/containers/<pod>_<namespace>_<container>-<id>.log. Works with any
// CRI runtime, without talking to it. A node without these directories is not an error.
std::unique_ptr<Provider> MakeKubeletLayoutProvider(HostPaths paths);

// Pure parsers of the kubelet's names, for tests.
std::optional<std::pair<PodInfo, std::string>> ParsePodLogDirName(std::string_view name);
struct ContainerLogName {
  std::string pod, namespace_, container, container_id;
};
std::optional<ContainerLogName> ParseContainerLogName(std::string_view name);

}  // namespace podstat::metadata
