// Per-cgroup TCP state counts from BPF (ps_tcp_states), made true by sock_diag baselines: seeded
// on the first collection (sockets that existed before the agent), reconciled every
// --bpf.reconcile-interval (drift is corrected and counted). Reconciliation dumps one network
// namespace at a time through a netlink socket opened inside it and kept while it lives.
#pragma once

#ifdef PODSTAT_HAVE_BPF

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "podstat/bpf/sock_state_program.h"
#include "podstat/model/snapshot.h"
#include "podstat/netlink/sock_diag.h"
#include "podstat/procfs/process.h"
#include "podstat/sources/tcp_baseline.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

namespace podstat::sources {

class TcpStateSource {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
    // After a round that had to skip busy cgroups, retry sooner than the full interval.
    std::chrono::milliseconds retry_interval{std::chrono::seconds(2)};
    // When the kernel skipped runs of the state program (recursion misses: transitions that were
    // never counted), the next round starts at once instead of at the interval, but no sooner
    // than this after the previous one: a kernel that skips constantly costs at most one round
    // (one sock_diag dump per network namespace) per gap.
    std::chrono::milliseconds early_reconcile_gap{std::chrono::seconds(10)};
  };

  TcpStateSource(const bpf::SockStateProgram& program, HostPaths paths, Logger& logger,
                 Options options);

  struct CgroupCounts {
    uint64_t cgroup_id = 0;
    model::TcpStateCounts tcp{};                 // IPv4 and IPv6
    model::TcpStateCounts tcp_inet6{};           // IPv6 alone
    std::optional<model::SocketCounts> sockets;  // when the cgroup socket programs are attached
    model::TcpEvents events;
  };

  // Reads the map (reconciling first when due; the first call seeds) and returns the current
  // counts of every cgroup the map or the baselines know.
  std::vector<CgroupCounts> Collect(const std::vector<procfs::NetworkNamespace>& namespaces);

  // Called for a cgroup whose directory is gone: drops its map entry and baseline once it holds
  // no sockets. Returns true if it was dropped.
  bool ForgetIfEmpty(uint64_t cgroup_id);

  uint64_t drift() const { return drift_; }
  size_t map_entries() const { return last_view_.size(); }
  uint64_t reconciliations() const { return reconciliations_; }
  // Rounds started early because the state program's runs were skipped.
  uint64_t early_reconciliations() const { return early_reconciliations_; }

 private:
  bool ReadMap(MapView& view);
  void Reconcile(const std::vector<procfs::NetworkNamespace>& namespaces);
  netlink::SockDiagClient* ClientFor(const procfs::NetworkNamespace& ns);

  const bpf::SockStateProgram& program_;
  HostPaths paths_;
  Logger& logger_;
  Options options_;
  TcpBaseline baseline_;
  MapView last_view_;
  std::map<uint64_t, netlink::SockDiagClient> clients_;  // netns inode -> client inside it
  Clock::time_point next_reconcile_{};                   // epoch: the first Collect seeds
  Clock::time_point last_round_{};
  uint64_t misses_at_round_ = 0;  // the state program's recursion misses when the round began
  bool misses_reported_ = false;  // the first skip is logged at warn, later ones at info
  bool seeded_ = false;
  bool udp_diag_missing_ = false;  // the kernel has no UDP sock_diag: UDP counts not reconciled
  bool tcp_diag_missing_ = false;  // no TCP sock_diag (modules not loaded): nothing reconciled
  uint64_t drift_ = 0;
  uint64_t reconciliations_ = 0;
  uint64_t early_reconciliations_ = 0;
};

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
