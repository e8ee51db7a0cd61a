// cgroup_memory: see sources.h.
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

void RegisterCgroupMemoryFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(app, "collector.memory", config.collect_memory,
                   "Memory per container, pod and the root (container_memory_*, "
                   "container_spec_memory_limit_bytes, container_oom_kills_total) and the "
                   "kubelet's node_memory_available_bytes (default on).");
}
namespace {

class CgroupMemorySource final : public Source {
 public:
  CgroupMemorySource(bool active, const cgroupfs::Hierarchies& hierarchies)
      : active_(active), hierarchies_(hierarchies) {}
  const SourceInfo& info() const override { return kCgroupMemoryInfo; }
  bool active() const override { return active_; }
  bool walks_cgroups() const override { return active_; }
  // Asked for, but no hierarchy has memory files (hybrid mode without CONFIG_MEMCG_V1).
  bool degraded() const override {
    return active_ && !hierarchies_.v2_memory && !hierarchies_.v1_memory;
  }
  std::string Describe() const override {
    if (!active_) return "--no-collector.memory";
    return cgroupfs::DescribeMemorySource(hierarchies_);
  }

  void CollectCgroup(const Pass& /*pass*/, const WalkedCgroup& cgroup, Sink& sink) override {
    if (auto memory = cgroupfs::ReadMemory(hierarchies_, cgroup.path)) {
      sink.Cgroup(cgroup.id).memory = memory;
    }
  }

 private:
  bool active_;
  cgroupfs::Hierarchies hierarchies_;
};

}  // namespace

std::unique_ptr<Source> MakeCgroupMemorySource(bool active,
                                               const cgroupfs::Hierarchies& hierarchies) {
  return std::make_unique<CgroupMemorySource>(active, hierarchies);
}

}  // namespace podstat::sources
