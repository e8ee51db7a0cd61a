// Memory and CPU of a cgroup from its cgroupfs files, cgroup v1 and v2; and the node's memory as
// the kubelet computes it for eviction. The parsers are pure functions of file contents; the
// Read* functions do the I/O and treat a vanished cgroup as "no data", never as an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "podstat/model/snapshot.h"
#include "podstat/util/host_paths.h"

namespace podstat::cgroupfs {

// "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat, /proc/meminfo with the
// colon and the kB unit handled by ParseMeminfo).
std::map<std::string, uint64_t, std::less<>> ParseFlatKeyed(std::string_view text);
// /proc/meminfo, values in bytes.
std::map<std::string, uint64_t, std::less<>> ParseMeminfo(std::string_view text);

using Memory = model::CgroupMemory;

// v2: memory.current, memory.stat, memory.max, memory.events.
std::optional<Memory> ParseMemoryV2(std::string_view current, std::string_view stat,
                                    std::string_view max, std::string_view events);
// v1: memory.usage_in_bytes, memory.stat (hierarchical total_* fields), memory.limit_in_bytes,
// memory.oom_control.
std::optional<Memory> ParseMemoryV1(std::string_view usage, std::string_view stat,
                                    std::string_view limit, std::string_view oom_control);

using Cpu = model::CgroupCpu;
// v2 cpu.stat (usage_usec, user_usec, system_usec). Present in every v2 cgroup, hybrid hosts
// included (DESIGN.md section 10), whichever hierarchy the cpu controller is on.
std::optional<Cpu> ParseCpuStatV2(std::string_view cpu_stat);
// v1 cpuacct.usage (ns) and cpuacct.usage_user / usage_sys (ns, 4.6+), else cpuacct.stat
// (USER_HZ ticks, converted with ticks_per_second).
std::optional<Cpu> ParseCpuacctV1(std::string_view usage, std::string_view usage_user,
                                  std::string_view usage_sys, std::string_view stat,
                                  uint64_t ticks_per_second);

// The kubelet's memory.available (seed 000), see model::NodeMemory.
using NodeMemory = model::NodeMemory;
NodeMemory ComputeNodeMemory(uint64_t capacity, uint64_t usage, uint64_t inactive_file,
                             std::string source);

// Where the hierarchies are (nullopt = absent), found once at start.
struct Hierarchies {
  std::string v2_root;     // cgroup2 mount
  bool v2_memory = false;  // "memory" in the v2 root's cgroup.subtree_control: its children have it
  bool v2_memory_available = false;       // "memory" in its cgroup.controllers (maybe not enabled)
  std::optional<std::string> v1_memory;   // v1 memory mount
  std::optional<std::string> v1_cpuacct;  // v1 cpuacct mount
};
Hierarchies FindHierarchies(const HostPaths& paths, const std::string& v2_root);

// Where memory comes from, for the log and --check: "cgroup v2 (/sys/fs/cgroup)", "cgroup v1
// (...)", or "nowhere: ..." saying why (no controller, or one available on v2 but not enabled).
std::string DescribeMemorySource(const Hierarchies& hierarchies);

// I/O. `path` is relative to the hierarchy root ("/" or "/docker/<id>"): on hybrid hosts Docker
// and the kubelet put a container at the same path in every hierarchy (DESIGN.md section 10).
std::optional<Memory> ReadMemory(const Hierarchies& hierarchies, const std::string& path);
std::optional<Cpu> ReadCpu(const Hierarchies& hierarchies, const std::string& path);
std::optional<NodeMemory> ReadNodeMemory(const HostPaths& paths, const Hierarchies& hierarchies);

}  // namespace podstat::cgroupfs
