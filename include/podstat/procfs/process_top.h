// The opt-in per-process view (DESIGN.md §5): the processes of a container's cgroup and the top N
// of them by CPU time, with their memory. Processes come and go while this runs: a pid that
// vanished between listing and reading is normal and is skipped silently.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "podstat/model/snapshot.h"
#include "podstat/util/host_paths.h"

namespace podstat::procfs {

using ProcessSample = model::ProcessStats;

// The pids in <cgroup_dir>/cgroup.procs (cgroup v2; v1 hierarchies have the file too), ascending.
// Only the cgroup's own members: processes in its child cgroups are not listed. A cgroup removed
// meanwhile, or any unreadable file, gives an empty list.
std::vector<pid_t> PidsOfCgroup(const std::string& cgroup_dir);

// Reads /proc/<pid>/stat of every pid, and /proc/<pid>/status of the ones that make the cut, and
// returns at most n samples ordered by total CPU time (user + system) descending, ties by pid
// ascending. Pids that vanished (or whose files do not parse) are skipped, and the next one in
// line takes their place. Ticks are converted with sysconf(_SC_CLK_TCK).
//
// Cost: two small reads per process, at most: one stat (~300 bytes) for each pid and one status
// (~1.4 KiB) for each of the top n only. Each read is an open/read/close on procfs that briefly
// takes the task's locks: cheap for the processes of a few containers, but it is why this is
// opt-in and capped rather than run over every process of the host.
std::vector<ProcessSample> TopProcesses(const HostPaths& paths, const std::vector<pid_t>& pids,
                                        size_t n);

}  // namespace podstat::procfs
