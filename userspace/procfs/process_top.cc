#include "podstat/procfs/process_top.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "podstat/procfs/pid_stats.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::procfs {
namespace {

struct Candidate {
  ProcStat stat;
  uint64_t cpu_ticks = 0;
};

}  // namespace

std::vector<pid_t> PidsOfCgroup(const std::string& cgroup_dir) {
  std::vector<pid_t> pids;
  const auto text = ReadFile(HostPaths::Join(cgroup_dir, "cgroup.procs"));
  if (!text) return pids;  // ENOENT/ENODEV: the cgroup was removed; nothing to report
  for (std::string_view line : SplitLines(*text)) {
    const auto pid = ParseUint64(Trim(line));
    if (pid && *pid > 0 && *pid <= static_cast<uint64_t>(std::numeric_limits<pid_t>::max())) {
      pids.push_back(static_cast<pid_t>(*pid));
    }
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

std::vector<ProcessSample> TopProcesses(const HostPaths& paths, const std::vector<pid_t>& pids,
                                        size_t n) {
  std::vector<ProcessSample> samples;
  if (n == 0) return samples;
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return samples;

  // First pass: stat of every pid, for the CPU times to rank by.
  std::vector<Candidate> candidates;
  candidates.reserve(pids.size());
  for (pid_t pid : pids) {
    const auto text = ReadFile(paths.Proc(pid, "stat"));
    if (!text) continue;  // exited since it was listed
    auto stat = ParseProcStat(*text);
    if (!stat || stat->pid != pid) continue;
    const uint64_t cpu_ticks = stat->utime_ticks + stat->stime_ticks;
    candidates.push_back({std::move(*stat), cpu_ticks});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.cpu_ticks != b.cpu_ticks) return a.cpu_ticks > b.cpu_ticks;
    return a.stat.pid < b.stat.pid;
  });

  // Second pass, in rank order: status for memory, until n samples are complete. A process that
  // exited between the two reads drops out and the next one moves up.
  const double seconds_per_tick = 1.0 / static_cast<double>(ticks_per_second);
  for (const Candidate& candidate : candidates) {
    if (samples.size() == n) break;
    const auto text = ReadFile(paths.Proc(candidate.stat.pid, "status"));
    if (!text) continue;
    const auto status = ParseProcStatus(*text);
    if (!status) continue;
    samples.push_back(ProcessSample{
        .pid = candidate.stat.pid,
        // comm is whatever the process set with prctl(PR_SET_NAME): any 15 bytes.
        .comm = EscapeInvalidUtf8(candidate.stat.comm),
        .cpu_user_seconds = static_cast<double>(candidate.stat.utime_ticks) * seconds_per_tick,
        .cpu_system_seconds = static_cast<double>(candidate.stat.stime_ticks) * seconds_per_tick,
        .rss_bytes = status->vm_rss_bytes,
        .vm_size_bytes = status->vm_size_bytes,
        .rss_file_bytes = status->rss_file_bytes,
    });
  }
  return samples;
}

}  // namespace podstat::procfs
