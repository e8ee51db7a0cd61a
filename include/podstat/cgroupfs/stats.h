// Memory and CPU of a cgroup from its cgroupfs files, cgroup v1 and v2; and the node's memory as
// the kubelet computes it for eviction. The parsers are pure functions of file contents; the
// Read* functions do the I/O and treat a vanished cgroup as "no data", never as an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "podstat/util/host_paths.h"

namespace podstat::cgroupfs {

// "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat, /proc/meminfo with the
// colon and the kB unit handled by ParseMeminfo).
std::map<std::string, uint64_t, std::less<>> ParseFlatKeyed(std::string_view text);
// /proc/meminfo, values in bytes.
std::map<std::string, uint64_t, std::less<>> ParseMeminfo(std::string_view text);

struct Memory {
  uint64_t usage_bytes = 0;
  uint64_t working_set_bytes = 0;  // usage - inactive_file, floored at 0 (kubelet, cAdvisor)
  uint64_t rss_bytes = 0;          // anonymous memory: v1 total_rss, v2 anon
  uint64_t cache_bytes = 0;        // page cache: v1 total_cache, v2 file
  uint64_t inactive_file_bytes = 0;
  std::optional<uint64_t> limit_bytes;  // absent when unlimited
  uint64_t oom_kills = 0;               // v1 memory.oom_control oom_kill (4.13+), v2 memory.events
};

// v2: memory.current, memory.stat, memory.max, memory.events.
std::optional<Memory> ParseMemoryV2(std::string_view current, std::string_view stat,
                                    std::string_view max, std::string_view events);
// v1: memory.usage_in_bytes, memory.stat (hierarchical total_* fields), memory.limit_in_bytes,
// memory.oom_control.
std::optional<Memory> ParseMemoryV1(std::string_view usage, std::string_view stat,
                                    std::string_view limit, std::string_view oom_control);

struct Cpu {
  uint64_t usage_ns = 0;
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
};
// v2 cpu.stat (usage_usec, user_usec, system_usec). Present in every v2 cgroup, hybrid hosts
// included (DESIGN.md section 10), whichever hierarchy the cpu controller is on.
std::optional<Cpu> ParseCpuStatV2(std::string_view cpu_stat);
// v1 cpuacct.usage (ns) and cpuacct.usage_user / usage_sys (ns, 4.6+), else cpuacct.stat
// (USER_HZ ticks, converted with ticks_per_second).
std::optional<Cpu> ParseCpuacctV1(std::string_view usage, std::string_view usage_user,
                                  std::string_view usage_sys, std::string_view stat,
                                  uint64_t ticks_per_second);

// The kubelet's memory.available (seed 000): capacity - working set, working set = usage -
// inactive_file floored at 0.
struct NodeMemory {
  uint64_t capacity_bytes = 0;  // MemTotal
  uint64_t usage_bytes = 0;     // node_cgroup_memory_usage_bytes
  uint64_t inactive_file_bytes = 0;
  uint64_t working_set_bytes = 0;
  int64_t available_bytes = 0;  // may go negative in theory; the kubelet's formula allows it
  std::string source;           // which files: "cgroup v1 root", "cgroup v2 kubepods", "meminfo"
};
NodeMemory ComputeNodeMemory(uint64_t capacity, uint64_t usage, uint64_t inactive_file,
                             std::string source);

// Where the hierarchies are (nullopt = absent), found once at start.
struct Hierarchies {
  std::string v2_root;                    // cgroup2 mount
  bool v2_memory = false;                 // "memory" in the v2 root's cgroup.controllers
  std::optional<std::string> v1_memory;   // v1 memory mount
  std::optional<std::string> v1_cpuacct;  // v1 cpuacct mount
};
Hierarchies FindHierarchies(const HostPaths& paths, const std::string& v2_root);

// I/O. `path` is relative to the hierarchy root ("/" or "/docker/<id>"): on hybrid hosts Docker
// and the kubelet put a container at the same path in every hierarchy (DESIGN.md section 10).
std::optional<Memory> ReadMemory(const Hierarchies& hierarchies, const std::string& path);
std::optional<Cpu> ReadCpu(const Hierarchies& hierarchies, const std::string& path);
std::optional<NodeMemory> ReadNodeMemory(const HostPaths& paths, const Hierarchies& hierarchies);

}  // namespace podstat::cgroupfs
