// cgroup_cpu: see sources.h.
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

void RegisterCgroupCpuFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(app, "collector.cpu", config.collect_cpu,
                   "CPU per container, pod and the root (default on): "
                   "container_cpu_usage_seconds_total and run-queue wait from eBPF on "
                   "sched_switch, user/system split from cgroup accounting.");
}
namespace {

class CgroupCpuSource final : public Source {
 public:
  CgroupCpuSource(bool active, const cgroupfs::Hierarchies& hierarchies)
      : active_(active), hierarchies_(hierarchies) {}
  const SourceInfo& info() const override { return kCgroupCpuInfo; }
  bool active() const override { return active_; }
  bool walks_cgroups() const override { return active_; }
  std::string Describe() const override {
    if (!active_) return "--no-collector.cpu";
    return "cgroup v2 cpu.stat" + (hierarchies_.v1_cpuacct
                                       ? ", else v1 cpuacct (" + *hierarchies_.v1_cpuacct + ")"
                                       : std::string());
  }

  void CollectCgroup(const Pass& /*pass*/, const WalkedCgroup& cgroup, Sink& sink) override {
    // Absent when the cgroup was removed since the walk.
    if (auto cpu = cgroupfs::ReadCpu(hierarchies_, cgroup.path)) sink.Cgroup(cgroup.id).cpu = cpu;
  }

 private:
  bool active_;
  cgroupfs::Hierarchies hierarchies_;
};

}  // namespace

std::unique_ptr<Source> MakeCgroupCpuSource(bool active, const cgroupfs::Hierarchies& hierarchies) {
  return std::make_unique<CgroupCpuSource>(active, hierarchies);
}

}  // namespace podstat::sources
