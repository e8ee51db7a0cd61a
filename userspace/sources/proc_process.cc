// proc_process: see sources.h.
#include "podstat/procfs/process_top.h"
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

void RegisterProcProcessFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(app, "collector.process", config.collect_process,
                   "Per process (opt-in, default off): the top N processes of each container by "
                   "CPU, with pid and comm labels: CPU seconds by mode, VmRSS, VmSize, RssFile "
                   "from /proc/<pid>/stat, status.");
  // Capped: each process is 5 series per container, and they are high-cardinality.
  flags::AddUint(app, "collector.process.top", config.process_top, 1, 50,
                 "N for --collector.process (default 5, at most 50).");
}
namespace {

class ProcProcessSource final : public Source {
 public:
  explicit ProcProcessSource(size_t top) : top_(top) {}
  const SourceInfo& info() const override { return kProcProcessInfo; }
  bool active() const override { return top_ > 0; }
  bool walks_cgroups() const override { return top_ > 0; }
  std::string Describe() const override {
    return top_ > 0 ? "top " + std::to_string(top_) +
                          " processes of each container from /proc/<pid>/stat and status"
                    : "opt-in: --collector.process";
  }

  void CollectCgroup(const Pass& pass, const WalkedCgroup& cgroup, Sink& sink) override {
    if (!cgroup.container) return;  // pods and the root are not processes' owners
    const std::string dir = cgroup.path == "/" ? pass.cgroup_root : pass.cgroup_root + cgroup.path;
    auto processes = procfs::TopProcesses(pass.paths, procfs::PidsOfCgroup(dir), top_);
    if (processes.empty()) return;
    auto& into = sink.Cgroup(cgroup.id).processes;
    into.insert(into.end(), std::make_move_iterator(processes.begin()),
                std::make_move_iterator(processes.end()));
  }

 private:
  size_t top_;
};

}  // namespace

std::unique_ptr<Source> MakeProcProcessSource(size_t top) {
  return std::make_unique<ProcProcessSource>(top);
}

}  // namespace podstat::sources
