// One collection pass: every source read once, cgroup ids resolved to paths, per-namespace
// TIME_WAIT attributed, self-metrics filled in. Runs only on the sampler thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "podstat/cgroup/resolver.h"
#include "podstat/cgroupfs/stats.h"
#include "podstat/metadata/cache.h"
#include "podstat/model/snapshot.h"
#include "podstat/procfs/process.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

#ifdef PODSTAT_HAVE_BPF
#include "podstat/bpf/sock_state_program.h"
#include "podstat/bpf/task_cpu_program.h"
#include "podstat/sources/tcp_state_source.h"
#endif

namespace podstat::app {

class Collector {
 public:
  struct Options {
    HostPaths paths;
    std::string cgroup_root;
    std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
    // Container names; may be null (then only container_id and id name a container). Not owned.
    metadata::MetadataCache* metadata = nullptr;
    bool collect_cpu = true;        // --collector.cpu
    bool collect_memory = true;     // --collector.memory
    size_t process_top = 0;         // --collector.process: top N processes per container, 0 = off
    bool collect_network = true;    // --collector.network: sockstat and interfaces per netns
    bool include_loopback = false;  // --collector.network.loopback: report "lo" too
  };

  // Without BPF: only the /proc and cgroupfs sources.
  Collector(Options options, Logger& logger);
#ifdef PODSTAT_HAVE_BPF
  // cpu_program may be null: CPU then comes from cgroup accounting alone.
  Collector(Options options, std::unique_ptr<bpf::SockStateProgram> program,
            std::unique_ptr<bpf::TaskCpuProgram> cpu_program, Logger& logger);
#endif
  ~Collector();

  model::Snapshot Collect();

 private:
  // What both constructors do: first walk, host namespace, hierarchies, one log line.
  void Init();
  // What is read per network namespace and reported on the cgroup that owns it.
  struct NamespaceData {
    model::NetworkStats network;
    model::TcpStateCounts tcp{};  // TIME_WAIT always; every state without the BPF program
    model::TcpStateCounts tcp_inet6{};
    std::optional<model::SocketCounts> sockets;  // without the BPF socket programs
  };
  // Reads sockstat (and dev, and the socket tables where BPF does not count) of every namespace
  // once, keyed by the id of the cgroup it is reported on. Fills snapshot.node_sockstat.
  std::unordered_map<uint64_t, NamespaceData> ReadNamespaces(
      const std::vector<procfs::NetworkNamespace>& namespaces, model::Snapshot& snapshot);
  bool BpfCountsTcp() const;
  bool BpfCountsSockets() const;
  std::optional<uint64_t> CgroupIdOfPath(const std::string& path) const;
  // The container (or pod) a cgroup path belongs to; a container id nested in another's cgroup
  // only where the metadata says the runtime put it there.
  std::optional<cgroup::ContainerRef> ContainerOf(const std::string& path) const;
  // The folded path and the labels of a cgroup path: its container's own cgroup and names.
  std::pair<std::string, model::ContainerLabels> Identify(const std::string& path);

  Options options_;
  Logger& logger_;
  cgroup::CgroupResolver resolver_;
#ifdef PODSTAT_HAVE_BPF
  std::unique_ptr<bpf::SockStateProgram> program_;
  std::unique_ptr<sources::TcpStateSource> tcp_;
  std::array<uint64_t, PS_DROP_REASON_COUNT> last_drops_{};  // to log only increases
  std::unique_ptr<bpf::TaskCpuProgram> cpu_program_;
  std::array<uint64_t, PS_CPU_DROP_REASON_COUNT> last_cpu_drops_{};
  // BPF counts from attach; cgroup accounting from the cgroup's creation. At a cgroup's first
  // collection the difference is kept and added from then on, so usage continues the kernel's
  // count instead of starting at 0 (as TCP gauges start from sock_diag). Entries go with the path.
  std::map<std::string, int64_t, std::less<>> cpu_offsets_;
  struct CpuTime {
    uint64_t on_cpu_ns = 0, wait_ns = 0;
  };
  // Every cgroup id in ps_cpu_cgroups: when it was first read there (it existed then), where it
  // last resolved, and its totals then.
  struct CpuEntry {
    cgroup::CgroupResolver::Clock::time_point first_read;
    std::string path;  // empty until it resolves
    CpuTime totals;
    uint64_t read_in = 0;  // the last collection (cpu_reads_) that found it in the map
  };
  std::unordered_map<uint64_t, CpuEntry> cpu_entries_;
  uint64_t cpu_reads_ = 0;
  // The final totals of removed cgroups, kept on their nearest existing ancestor so that its
  // counters (and those above it) do not drop when a child goes: the kernel keeps a removed
  // child's time in its parent's cpu.stat too. Moved up when that ancestor goes in turn.
  std::map<std::string, CpuTime, std::less<>> cpu_departed_;
  // Adds BPF on-CPU and run-queue time to every reported cgroup, hierarchically (a container's
  // sub-cgroups and a pod's containers count towards it, as cgroup accounting does).
  void AddBpfCpu(std::map<std::string, model::CgroupStats>& by_path, model::Snapshot& snapshot);
  // Keeps a removed cgroup's totals on the nearest ancestor of `path` that still exists.
  void FoldDeparted(const std::string& path, const CpuTime& totals);
#endif
  std::optional<uint64_t> host_netns_;
  cgroupfs::Hierarchies hierarchies_;
  // `id` labels two cgroup paths gave in the last collection (see Collect): logged when new.
  std::set<std::string> colliding_ids_;
};

}  // namespace podstat::app
