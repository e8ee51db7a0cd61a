// The sources that read /proc and cgroup files. Each is one file in userspace/sources/; the
// loader (sources/loader.h) builds them from the flags, the collector runs them.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "podstat/cgroupfs/stats.h"
#include "podstat/sources/source.h"
#include "podstat/util/flags.h"

namespace podstat::sources {

// proc_sockstat: /proc/<pid>/net/sockstat{,6} of every network namespace on its owner, the
// kernel-wide fields once, and each namespace's TIME_WAIT count (timewait sockets carry no
// cgroup) as its owner's time_wait state.
std::unique_ptr<Source> MakeProcSockstatSource();

// proc_net_dev: /proc/<pid>/net/dev per namespace; `lo` only with include_loopback.
std::unique_ptr<Source> MakeProcNetDevSource(bool active, bool include_loopback);

// proc_tcp_tables: TCP states per namespace from /proc/<pid>/net/tcp{,6}, on the owner. Active
// when the BPF TCP source is not (its declared fallback). TIME_WAIT comes from proc_sockstat.
std::unique_ptr<Source> MakeProcTcpTablesSource(bool active);

// proc_socket_tables: open sockets per namespace from /proc/<pid>/net/{tcp,udp,udplite,raw}{,6}
// and the UDP queue sums, on the owner. Active when the BPF socket programs are not.
std::unique_ptr<Source> MakeProcSocketTablesSource(bool active);

// cgroup_cpu: cpu.stat (v2), else cpuacct (v1), of every container, pod and the root.
std::unique_ptr<Source> MakeCgroupCpuSource(bool active, const cgroupfs::Hierarchies& hierarchies);

// cgroup_memory: memory.current/memory.stat (v2) or the v1 memory controller's files.
std::unique_ptr<Source> MakeCgroupMemorySource(bool active,
                                               const cgroupfs::Hierarchies& hierarchies);

// node_memory: the kubelet's memory.available inputs, node-wide.
std::unique_ptr<Source> MakeNodeMemorySource(bool active, const cgroupfs::Hierarchies& hierarchies);

// cgroup_pressure: PSI (cpu, memory, io .pressure) of every container, pod and the root, from
// their cgroup v2 directories.
std::unique_ptr<Source> MakeCgroupPressureSource(bool active);

// One PSI file: the "some" and "full" lines' total= (microseconds since boot). nullopt when the
// text has no "some" total (PSI off: the kernel answers EOPNOTSUPP, or a malformed file).
struct Pressure {
  uint64_t some_us = 0;
  std::optional<uint64_t> full_us;  // cpu.pressure has "full" since 5.13
};
std::optional<Pressure> ParsePressure(std::string_view text);

// proc_process: the top `top` processes of each container by CPU (0: off).
std::unique_ptr<Source> MakeProcProcessSource(size_t top);

// Each source's own flags, defined in its file and called by RegisterSourceFlags (loader.h).
struct SourceConfig;
void RegisterBpfTcpFlags(CLI::App& app, SourceConfig& config);        // bpf_tcp.cc
void RegisterBpfCpuFlags(CLI::App& app, SourceConfig& config);        // bpf_cpu.cc
void RegisterCgroupCpuFlags(CLI::App& app, SourceConfig& config);     // cgroup_cpu.cc
void RegisterCgroupMemoryFlags(CLI::App& app, SourceConfig& config);  // also node_memory's
void RegisterCgroupPressureFlags(CLI::App& app, SourceConfig& config);
void RegisterProcProcessFlags(CLI::App& app, SourceConfig& config);
void RegisterProcNetDevFlags(CLI::App& app, SourceConfig& config);

}  // namespace podstat::sources
