#include "podstat/cgroupfs/stats.h"

#include <unistd.h>

#include "podstat/procfs/mountinfo.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::cgroupfs {
namespace {

// v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 on 4 KiB pages); any
// value this large cannot be a real limit.
constexpr uint64_t kUnlimitedThreshold = uint64_t{1} << 62;

uint64_t Get(const std::map<std::string, uint64_t, std::less<>>& map, std::string_view key) {
  const auto it = map.find(key);
  return it == map.end() ? 0 : it->second;
}

std::optional<uint64_t> Single(std::string_view text) { return ParseUint64(Trim(text)); }

std::string Join(const std::string& root, const std::string& path, std::string_view file) {
  std::string full = root;
  if (path != "/") full += path;
  full += '/';
  full += file;
  return full;
}

std::string ReadOr(const std::string& path) { return ReadFile(path).value_or(""); }

}  // namespace

std::map<std::string, uint64_t, std::less<>> ParseFlatKeyed(std::string_view text) {
  std::map<std::string, uint64_t, std::less<>> values;
  for (std::string_view line : SplitLines(text)) {
    const auto fields = SplitFields(line);
    if (fields.size() != 2) continue;
    if (const auto value = ParseUint64(fields[1])) values[std::string(fields[0])] = *value;
  }
  return values;
}

std::map<std::string, uint64_t, std::less<>> ParseMeminfo(std::string_view text) {
  std::map<std::string, uint64_t, std::less<>> values;
  for (std::string_view line : SplitLines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto fields = SplitFields(line.substr(colon + 1));
    if (fields.empty()) continue;
    const auto value = ParseUint64(fields[0]);
    if (!value) continue;
    const uint64_t scale = fields.size() > 1 && fields[1] == "kB" ? 1024 : 1;
    values[std::string(line.substr(0, colon))] = *value * scale;
  }
  return values;
}

std::optional<Memory> ParseMemoryV2(std::string_view current, std::string_view stat,
                                    std::string_view max, std::string_view events) {
  const auto usage = Single(current);
  if (!usage) return std::nullopt;
  const auto stats = ParseFlatKeyed(stat);
  Memory memory;
  memory.usage_bytes = *usage;
  memory.rss_bytes = Get(stats, "anon");
  memory.cache_bytes = Get(stats, "file");
  memory.inactive_file_bytes = Get(stats, "inactive_file");
  memory.working_set_bytes =
      *usage > memory.inactive_file_bytes ? *usage - memory.inactive_file_bytes : 0;
  if (Trim(max) != "max") memory.limit_bytes = Single(max);
  memory.oom_kills = Get(ParseFlatKeyed(events), "oom_kill");
  return memory;
}

std::optional<Memory> ParseMemoryV1(std::string_view usage_text, std::string_view stat,
                                    std::string_view limit, std::string_view oom_control) {
  const auto usage = Single(usage_text);
  if (!usage) return std::nullopt;
  const auto stats = ParseFlatKeyed(stat);
  Memory memory;
  memory.usage_bytes = *usage;
  // total_* are hierarchical (this cgroup and its descendants), matching usage_in_bytes.
  memory.rss_bytes = Get(stats, "total_rss");
  memory.cache_bytes = Get(stats, "total_cache");
  memory.inactive_file_bytes = Get(stats, "total_inactive_file");
  memory.working_set_bytes =
      *usage > memory.inactive_file_bytes ? *usage - memory.inactive_file_bytes : 0;
  if (const auto value = Single(limit); value && *value < kUnlimitedThreshold) {
    memory.limit_bytes = value;
  }
  memory.oom_kills = Get(ParseFlatKeyed(oom_control), "oom_kill");
  return memory;
}

std::optional<Cpu> ParseCpuStatV2(std::string_view cpu_stat) {
  const auto stats = ParseFlatKeyed(cpu_stat);
  if (!stats.contains("usage_usec")) return std::nullopt;
  Cpu cpu;
  cpu.usage_ns = Get(stats, "usage_usec") * 1000;
  cpu.user_ns = Get(stats, "user_usec") * 1000;
  cpu.system_ns = Get(stats, "system_usec") * 1000;
  return cpu;
}

std::optional<Cpu> ParseCpuacctV1(std::string_view usage, std::string_view usage_user,
                                  std::string_view usage_sys, std::string_view stat,
                                  uint64_t ticks_per_second) {
  const auto total = Single(usage);
  if (!total) return std::nullopt;
  Cpu cpu;
  cpu.usage_ns = *total;
  const auto user = Single(usage_user);
  const auto sys = Single(usage_sys);
  if (user && sys) {
    cpu.user_ns = *user;
    cpu.system_ns = *sys;
  } else if (ticks_per_second > 0) {
    const auto ticks = ParseFlatKeyed(stat);
    cpu.user_ns = Get(ticks, "user") * 1000000000 / ticks_per_second;
    cpu.system_ns = Get(ticks, "system") * 1000000000 / ticks_per_second;
  }
  return cpu;
}

NodeMemory ComputeNodeMemory(uint64_t capacity, uint64_t usage, uint64_t inactive_file,
                             std::string source) {
  NodeMemory node;
  node.capacity_bytes = capacity;
  node.usage_bytes = usage;
  node.inactive_file_bytes = inactive_file;
  node.working_set_bytes = usage > inactive_file ? usage - inactive_file : 0;
  node.available_bytes =
      static_cast<int64_t>(capacity) - static_cast<int64_t>(node.working_set_bytes);
  node.source = std::move(source);
  return node;
}

Hierarchies FindHierarchies(const HostPaths& /*paths*/, const std::string& v2_root) {
  Hierarchies hierarchies;
  hierarchies.v2_root = v2_root;
  // Named, not temporaries: the loops read views into them. The files end in a newline, which
  // must separate too, or a last-listed "memory" is "memory\n" and missed.
  // Available on v2 (not bound to a v1 hierarchy) is not enough: the root's children have memory
  // files only once the root's cgroup.subtree_control enables it, as systemd does on pure v2 and
  // does not in hybrid mode (where a kernel without CONFIG_MEMCG_V1, 6.12+, then has no memory
  // accounting anyone reads).
  const std::string available = ReadOr(v2_root + "/cgroup.controllers");
  for (std::string_view controller : SplitFields(available, " \t\n")) {
    if (controller == "memory") hierarchies.v2_memory_available = true;
  }
  const std::string enabled = ReadOr(v2_root + "/cgroup.subtree_control");
  for (std::string_view controller : SplitFields(enabled, " \t\n")) {
    if (controller == "memory") hierarchies.v2_memory = true;
  }
  // The agent's own mount table: cgroupfs is mounted (or bind-mounted) in its mount namespace.
  const auto mounts = procfs::ParseMountInfo(ReadOr("/proc/self/mountinfo"));
  hierarchies.v1_memory = procfs::FindCgroup1Mount(mounts, "memory");
  hierarchies.v1_cpuacct = procfs::FindCgroup1Mount(mounts, "cpuacct");
  return hierarchies;
}

std::string DescribeMemorySource(const Hierarchies& h) {
  if (h.v2_memory) return "cgroup v2 (" + h.v2_root + ")";
  if (h.v1_memory) return "cgroup v1 (" + *h.v1_memory + ")";
  if (h.v2_memory_available) {
    return "nowhere: the memory controller is on cgroup v2 but not enabled in " + h.v2_root +
           "/cgroup.subtree_control (hybrid mode on a kernel without CONFIG_MEMCG_V1?), so no "
           "cgroup has memory files and no container_memory_* series are exported";
  }
  return "nowhere: no memory controller is mounted (v1) or enabled (v2), so no "
         "container_memory_* series are exported";
}

std::optional<Memory> ReadMemory(const Hierarchies& h, const std::string& path) {
  if (h.v2_memory) {
    const auto current = ReadFile(Join(h.v2_root, path, "memory.current"));
    if (!current) return std::nullopt;
    return ParseMemoryV2(*current, ReadOr(Join(h.v2_root, path, "memory.stat")),
                         ReadOr(Join(h.v2_root, path, "memory.max")),
                         ReadOr(Join(h.v2_root, path, "memory.events")));
  }
  if (!h.v1_memory) return std::nullopt;
  const auto usage = ReadFile(Join(*h.v1_memory, path, "memory.usage_in_bytes"));
  if (!usage) return std::nullopt;  // not in the v1 tree (or gone)
  return ParseMemoryV1(*usage, ReadOr(Join(*h.v1_memory, path, "memory.stat")),
                       ReadOr(Join(*h.v1_memory, path, "memory.limit_in_bytes")),
                       ReadOr(Join(*h.v1_memory, path, "memory.oom_control")));
}

std::optional<Cpu> ReadCpu(const Hierarchies& h, const std::string& path) {
  if (const auto stat = ReadFile(Join(h.v2_root, path, "cpu.stat"))) {
    if (auto cpu = ParseCpuStatV2(*stat)) return cpu;
  }
  if (!h.v1_cpuacct) return std::nullopt;
  const auto usage = ReadFile(Join(*h.v1_cpuacct, path, "cpuacct.usage"));
  if (!usage) return std::nullopt;
  return ParseCpuacctV1(*usage, ReadOr(Join(*h.v1_cpuacct, path, "cpuacct.usage_user")),
                        ReadOr(Join(*h.v1_cpuacct, path, "cpuacct.usage_sys")),
                        ReadOr(Join(*h.v1_cpuacct, path, "cpuacct.stat")),
                        static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
}

std::optional<NodeMemory> ReadNodeMemory(const HostPaths& paths, const Hierarchies& h) {
  const auto meminfo = ParseMeminfo(ReadOr(paths.Proc("meminfo")));
  const uint64_t capacity = Get(meminfo, "MemTotal");
  if (capacity == 0) return std::nullopt;
  if (!h.v2_memory && h.v1_memory) {
    // Exactly the kubelet's script (seed 000): the v1 root's usage and total_inactive_file.
    const auto usage = Single(ReadOr(*h.v1_memory + "/memory.usage_in_bytes"));
    if (usage) {
      const auto stat = ParseFlatKeyed(ReadOr(*h.v1_memory + "/memory.stat"));
      return ComputeNodeMemory(capacity, *usage, Get(stat, "total_inactive_file"),
                               "cgroup v1 root");
    }
  }
  if (h.v2_memory) {
    // The v2 root has no memory.current: the kubelet's v2 script uses the kubepods cgroup.
    for (const char* kubepods : {"/kubepods.slice", "/kubepods"}) {
      const auto usage = Single(ReadOr(h.v2_root + kubepods + "/memory.current"));
      if (!usage) continue;
      const auto stat = ParseFlatKeyed(ReadOr(h.v2_root + kubepods + "/memory.stat"));
      return ComputeNodeMemory(capacity, *usage, Get(stat, "inactive_file"),
                               std::string("cgroup v2 ") + (kubepods + 1));
    }
  }
  // No usable cgroup: the whole machine, from /proc/meminfo.
  const uint64_t free_bytes = Get(meminfo, "MemFree");
  return ComputeNodeMemory(capacity, capacity > free_bytes ? capacity - free_bytes : 0,
                           Get(meminfo, "Inactive(file)"), "meminfo");
}

}  // namespace podstat::cgroupfs
