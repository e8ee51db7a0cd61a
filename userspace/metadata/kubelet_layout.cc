#include <dirent.h>

#include <memory>
#include <optional>

#include "podstat/cgroup/container_ref.h"
#include "podstat/metadata/provider.h"
#include "podstat/util/strings.h"

namespace podstat::metadata {
namespace {

// Directory entries of a path; empty when it does not exist.
std::vector<std::string> ListDir(const std::string& path, bool* exists) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  *exists = dir != nullptr;
  if (!dir) return names;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

class KubeletLayoutProvider : public Provider {
 public:
  explicit KubeletLayoutProvider(HostPaths paths) : paths_(std::move(paths)) {}
  std::string_view name() const override { return "kubelet"; }

  bool Fetch(Catalog& out, std::string* /*error*/) override {
    bool pods_exist = false, containers_exist = false;
    for (const std::string& name : ListDir(paths_.Root("var/log/pods"), &pods_exist)) {
      if (auto parsed = ParsePodLogDirName(name)) out.pods[parsed->second] = parsed->first;
    }
    for (const std::string& name : ListDir(paths_.Root("var/log/containers"), &containers_exist)) {
      const auto parsed = ParseContainerLogName(name);
      if (!parsed) continue;
      ContainerInfo& info = out.containers[parsed->container_id];
      info.pod = parsed->pod;
      info.namespace_ = parsed->namespace_;
      info.container = parsed->container;
      info.name = parsed->container;
    }
    // Fill pod UIDs of containers from the pod directories (namespace + pod name match).
    for (auto& [id, info] : out.containers) {
      for (const auto& [uid, pod] : out.pods) {
        if (pod.pod == info.pod && pod.namespace_ == info.namespace_) info.pod_uid = uid;
      }
    }
    return true;  // absent directories just mean "not a Kubernetes node"
  }

 private:
  HostPaths paths_;
};

}  // namespace

std::optional<std::pair<PodInfo, std::string>> ParsePodLogDirName(std::string_view name) {
  // <namespace>_<pod>_<uid>: namespaces and pod names are DNS names, which have no '_'.
  const auto parts = SplitFields(name, "_");
  if (parts.size() != 3 || parts[2].size() != 36) return std::nullopt;
  // Directory names are bytes, whoever made them; namespace and pod become label values.
  return std::make_pair(PodInfo{EscapeInvalidUtf8(parts[0]), EscapeInvalidUtf8(parts[1])},
                        std::string(parts[2]));
}

std::optional<ContainerLogName> ParseContainerLogName(std::string_view name) {
  // <pod>_<namespace>_<container>-<64-hex id>.log
  if (!name.ends_with(".log")) return std::nullopt;
  name.remove_suffix(4);
  const size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || !cgroup::IsContainerId(name.substr(dash + 1)))
    return std::nullopt;
  const auto parts = SplitFields(name.substr(0, dash), "_");
  if (parts.size() != 3) return std::nullopt;
  return ContainerLogName{EscapeInvalidUtf8(parts[0]), EscapeInvalidUtf8(parts[1]),
                          EscapeInvalidUtf8(parts[2]), std::string(name.substr(dash + 1))};
}

std::unique_ptr<Provider> MakeKubeletLayoutProvider(HostPaths paths) {
  return std::make_unique<KubeletLayoutProvider>(std::move(paths));
}

}  // namespace podstat::metadata
