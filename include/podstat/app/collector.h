// One collection pass: it lists the network namespaces and their owners, runs every active
// source (sources/source.h), then resolves the cgroup ids they wrote to paths, folds each
// container's sub-cgroups into it, names it, sums what one label set was given and fills the
// self-metrics. What is read, and how, is the sources'. Runs only on the sampler thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "podstat/cgroup/container_ref.h"
#include "podstat/cgroup/resolver.h"
#include "podstat/metadata/cache.h"
#include "podstat/model/snapshot.h"
#include "podstat/sources/source.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

namespace podstat::app {

class Collector {
 public:
  struct Options {
    HostPaths paths;
    std::string cgroup_root;
    // Container names; may be null (then only container_id and id name a container). Not owned.
    metadata::MetadataCache* metadata = nullptr;
  };

  // sources: in the order they run (sources::LoadSources gives the registry's).
  Collector(Options options, std::vector<std::unique_ptr<sources::Source>> sources, Logger& logger);
  ~Collector();

  model::Snapshot Collect();

 private:
  std::optional<uint64_t> CgroupIdOfPath(const std::string& path) const;
  // The network namespaces whose owner cgroup is known, in listing order.
  std::vector<sources::OwnedNamespace> OwnedNamespaces(
      const std::vector<procfs::NetworkNamespace>& namespaces) const;
  // Every container's and pod's own cgroup and the root, from the resolver's last walk.
  std::vector<sources::WalkedCgroup> WalkedCgroups() const;
  // The container (or pod) a cgroup path belongs to; a container id nested in another's cgroup
  // only where the metadata says the runtime put it there.
  std::optional<cgroup::ContainerRef> ContainerOf(const std::string& path) const;
  // The folded path and the labels of a cgroup path: its container's own cgroup and names.
  std::pair<std::string, model::ContainerLabels> Identify(const std::string& path);

  Options options_;
  std::vector<std::unique_ptr<sources::Source>> sources_;
  Logger& logger_;
  cgroup::CgroupResolver resolver_;
  std::optional<uint64_t> host_netns_;
  // `id` labels two cgroup paths gave in the last collection (see Collect): logged when new.
  std::set<std::string> colliding_ids_;
};

}  // namespace podstat::app
