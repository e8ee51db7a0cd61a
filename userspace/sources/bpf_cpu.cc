// bpf_cpu: on-CPU time and run-queue wait per cgroup from the sched_switch program's map
// (ps_cpu_cgroups), charged hierarchically and continued from cgroup accounting. See
// bpf_sources.h.
#include "podstat/sources/loader.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

// Registered in every build, so that the flags mean the same with or without eBPF built in.
void RegisterBpfCpuFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(app, "bpf.cpu", config.bpf_cpu,
                   "Use the sched_switch program for CPU (default on); without it, or where it "
                   "cannot load, usage comes from cgroup accounting and no run-queue wait is "
                   "exported.");
  flags::AddUint(app, "bpf.max-tasks", config.bpf_max_tasks, 1024, 1u << 22,
                 "Threads the CPU program can track at once: its map is sized min(pid_max, N), "
                 "~96 bytes each (default 65536, ~6.3 MB).");
}

}  // namespace podstat::sources

#ifdef PODSTAT_HAVE_BPF

#include <sys/stat.h>

#include "podstat/sources/bpf_sources.h"
#include "podstat/sources/registry.h"
#include "podstat/util/strings.h"

namespace podstat::sources {
namespace {

// "/a/b" -> "/a", "/a" -> "/", "/" -> "/".
std::string_view ParentPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? std::string_view("/")
                                                       : path.substr(0, slash);
}

class BpfCpuSource final : public Source {
 public:
  BpfCpuSource(std::unique_ptr<bpf::TaskCpuProgram> program, Logger& logger, std::string why_off)
      : program_(std::move(program)), logger_(logger), why_off_(std::move(why_off)) {}
  const SourceInfo& info() const override { return kBpfCpuInfo; }
  bool active() const override { return program_ != nullptr; }
  std::string Describe() const override {
    if (!program_) return why_off_ + "; usage from cgroup_cpu, no run-queue wait";
    return program_->attached_program() + " + sched_wakeup_new" +
           (program_->runqueue_wait_supported() ? ""
                                                : " (no run-queue wait: CONFIG_SCHED_INFO is off)");
  }

  // Adds BPF on-CPU and run-queue time to every reported cgroup that has CPU, hierarchically (a
  // container's sub-cgroups and a pod's containers count towards it, as cgroup accounting does).
  void Refine(const Pass& pass, ResolvedCgroups& by_path) override;
  void AddSelfStats(model::SelfStats& self) override;

 private:
  struct CpuTime {
    uint64_t on_cpu_ns = 0, wait_ns = 0;
  };
  // Every cgroup id in ps_cpu_cgroups: when it was first read there (it existed then), where it
  // last resolved, and its totals then.
  struct CpuEntry {
    cgroup::CgroupResolver::Clock::time_point first_read;
    std::string path;  // empty until it resolves
    CpuTime totals;
    uint64_t read_in = 0;  // the last collection (reads_) that found it in the map
  };
  // Keeps a removed cgroup's totals on the nearest ancestor of `path` that still exists.
  void FoldDeparted(const Pass& pass, const std::string& path, const CpuTime& totals);

  std::unique_ptr<bpf::TaskCpuProgram> program_;
  Logger& logger_;
  std::string why_off_;
  std::array<uint64_t, PS_CPU_DROP_REASON_COUNT> last_drops_{};
  std::unordered_map<uint64_t, CpuEntry> entries_;
  uint64_t reads_ = 0;
  // BPF counts from attach; cgroup accounting from the cgroup's creation. At a cgroup's first
  // collection the difference is kept and added from then on, so usage continues the kernel's
  // count instead of starting at 0 (as TCP gauges start from sock_diag). Entries go with the path.
  std::map<std::string, int64_t, std::less<>> offsets_;
  // The final totals of removed cgroups, kept on their nearest existing ancestor so that its
  // counters (and those above it) do not drop when a child goes: the kernel keeps a removed
  // child's time in its parent's cpu.stat too. Moved up when that ancestor goes in turn.
  std::map<std::string, CpuTime, std::less<>> departed_;
};

bool CgroupExists(const Pass& pass, const std::string& path) {
  struct stat st {};
  const std::string full = path == "/" ? pass.cgroup_root : pass.cgroup_root + path;
  return ::stat(full.c_str(), &st) == 0;
}

void BpfCpuSource::FoldDeparted(const Pass& pass, const std::string& path, const CpuTime& totals) {
  std::string holder(ParentPath(path));
  while (holder != "/" && !CgroupExists(pass, holder)) holder = ParentPath(holder);
  CpuTime& folded = departed_[holder];
  folded.on_cpu_ns += totals.on_cpu_ns;
  folded.wait_ns += totals.wait_ns;
}

void BpfCpuSource::Refine(const Pass& pass, ResolvedCgroups& by_path) {
  std::vector<bpf::TaskCpuProgram::CgroupCpuTotals> totals;
  std::string error;
  const auto read_at = cgroup::CgroupResolver::Clock::now();
  if (!program_->ReadCgroupTotals(totals, &error)) {
    logger_.Warn("bpf", "reading CPU totals: ", error, "; keeping cgroup accounting");
    return;
  }
  ++reads_;
  std::map<std::string, CpuTime, std::less<>> sums;  // only for paths that are reported
  for (const auto& [path, entry] : by_path) {
    if (entry.cpu) sums[path];
  }
  // Charge a cgroup and every reported ancestor: "/a/b/c" -> "/a/b/c", "/a/b", "/a", "/".
  // sums is keyed by escaped paths (labels); '/' is ASCII and never part of an escape, so the
  // escaped path's prefixes are the escaped prefixes.
  auto charge = [&sums](std::string_view path, const CpuTime& time) {
    const std::string label = EscapeInvalidUtf8(path);
    std::string_view prefix = label;
    for (;;) {
      if (const auto it = sums.find(prefix); it != sums.end()) {
        it->second.on_cpu_ns += time.on_cpu_ns;
        it->second.wait_ns += time.wait_ns;
      }
      if (prefix == "/") break;
      prefix = ParentPath(prefix);
    }
  };

  // Folded time whose holder has gone too moves up to the nearest ancestor still there.
  std::map<std::string, CpuTime, std::less<>> departed;
  departed.swap(departed_);
  for (const auto& [path, time] : departed) {
    if (path == "/" || CgroupExists(pass, path)) {
      CpuTime& kept = departed_[path];
      kept.on_cpu_ns += time.on_cpu_ns;
      kept.wait_ns += time.wait_ns;
    } else {
      FoldDeparted(pass, path, time);
    }
  }

  for (const auto& total : totals) {
    CpuEntry& entry =
        entries_.try_emplace(total.cgroup_id, CpuEntry{read_at, {}, {}, 0}).first->second;
    entry.read_in = reads_;
    const CpuTime now{total.on_cpu_ns, total.runqueue_wait_ns};
    if (const auto path = pass.resolver.Resolve(total.cgroup_id)) {
      entry.path = *path;
      entry.totals = now;
      charge(*path, now);
      continue;
    }
    if (pass.resolver.CertainlyGone(total.cgroup_id, entry.first_read)) {
      // No task runs in a removed cgroup: the map holds its final totals. They stay with its
      // ancestors; the entry goes (by handle, or because a full walk since no longer finds it).
      if (!entry.path.empty()) FoldDeparted(pass, entry.path, now);
      program_->DeleteCgroup(total.cgroup_id);
      entries_.erase(total.cgroup_id);
      continue;
    }
    // Not found but not proven gone (made since the last walk, or gone but not yet proven): one
    // seen before still counts where it was, so its ancestors do not dip meanwhile.
    if (!entry.path.empty()) charge(entry.path, now);
  }
  // Entries no longer in the map (deleted elsewhere): their last totals stay with the ancestors.
  std::erase_if(entries_, [&](const auto& id_entry) {
    const CpuEntry& entry = id_entry.second;
    if (entry.read_in == reads_) return false;
    if (!entry.path.empty()) FoldDeparted(pass, entry.path, entry.totals);
    return true;
  });
  for (const auto& [path, time] : departed_) charge(path, time);

  const bool wait_supported = program_->runqueue_wait_supported();
  std::erase_if(offsets_, [&](const auto& entry) { return !sums.contains(entry.first); });
  for (auto& [path, sum] : sums) {
    model::CgroupCpu& cpu = *by_path[path].cpu;
    const auto offset = offsets_.try_emplace(
        path, static_cast<int64_t>(cpu.usage_ns) - static_cast<int64_t>(sum.on_cpu_ns));
    const int64_t usage = static_cast<int64_t>(sum.on_cpu_ns) + offset.first->second;
    cpu.usage_ns = usage > 0 ? static_cast<uint64_t>(usage) : 0;  // user/system: cgroup's own
    if (wait_supported) cpu.runqueue_wait_ns = sum.wait_ns;
  }
}

void BpfCpuSource::AddSelfStats(model::SelfStats& self) {
  for (std::string_view name : bpf::TaskCpuProgram::kPrograms) {
    self.programs.push_back({std::string(name), program_ && program_->attached_program() == name});
  }
  if (!program_) return;
  const auto drops = program_->ReadDrops();
  static constexpr const char* kReasons[PS_CPU_DROP_REASON_COUNT] = {
      "task_map_full", "cpu_cgroup_map_full", "cpu_cgroup_map_busy"};
  for (size_t i = 0; i < drops.size(); ++i) {
    self.bpf_drops.push_back({kReasons[i], drops[i]});
    if (drops[i] > last_drops_[i]) {
      logger_.Warn("bpf", drops[i] - last_drops_[i], " CPU slices dropped (", kReasons[i],
                   "): CPU usage from BPF undercounts until the maps have room");
    }
  }
  last_drops_ = drops;
  for (const auto& stats : program_->ReadRunStats()) {
    if (stats.tracing && stats.recursion_misses_reported) {
      self.recursion_misses.push_back({stats.name, stats.recursion_misses});
    }
  }
}

}  // namespace

std::unique_ptr<Source> MakeBpfCpuSource(std::unique_ptr<bpf::TaskCpuProgram> program,
                                         Logger& logger, std::string why_off) {
  return std::make_unique<BpfCpuSource>(std::move(program), logger, std::move(why_off));
}

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
