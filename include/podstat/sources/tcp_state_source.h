// Per-cgroup TCP state counts from BPF (ps_tcp_states), made true by sock_diag baselines: seeded
// on the first collection (sockets that existed before the agent), reconciled every
// --bpf.reconcile-interval (drift is corrected and counted). Reconciliation dumps one network
// namespace at a time through a netlink socket opened inside it for that dump and closed after:
// a round holds two descriptors at most, however many namespaces the node has (keeping one
// socket per namespace cost 327 fds for 302 namespaces and ran into RLIMIT_NOFILE). Re-opening
// costs a thread, a setns() and a socket() per namespace and round (measured: see the commit).
//
// A namespace that cannot be dumped is counted (failures(), by reason), logged (rate-limited),
// leaves the counts of the cgroups it may hold as they are, and makes the next round come soon.
#pragma once

#ifdef PODSTAT_HAVE_BPF

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
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
    // After a round that had to skip busy cgroups still waiting for their seed, retry sooner than
    // the full interval (doubling while one stays busy, up to the interval).
    std::chrono::milliseconds retry_interval{std::chrono::seconds(2)};
    // When the kernel skipped runs of the state program (recursion misses: transitions that were
    // never counted), the next round starts at once instead of at the interval, but no sooner
    // than this after the previous one: a kernel that skips constantly costs at most one round
    // (one sock_diag dump per network namespace) per gap.
    std::chrono::milliseconds early_reconcile_gap{std::chrono::seconds(10)};
    // The cgroup v2 mount: the cgroups of a failed namespace's processes are looked up under it.
    std::string cgroup_root;
  };

  // Why a network namespace could not be dumped (podstat_sock_diag_failures_total{reason}).
  enum FailureReason : size_t {
    kListFailed,   // "netns_list": no namespace could be listed from /proc
    kNetnsOpen,    // "netns_open": /proc/<pid>/ns/net could not be opened (EMFILE, EACCES...)
    kNetlinkOpen,  // "netlink_open": setns() or socket(NETLINK_SOCK_DIAG) failed
    kDumpFailed,   // "dump": the dump itself failed
    kFailureReasonCount
  };
  static constexpr const char* kFailureReasonNames[kFailureReasonCount] = {
      "netns_list", "netns_open", "netlink_open", "dump"};

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
  double reconciliation_seconds() const { return reconciliation_seconds_; }
  // Namespaces that could not be dumped, cumulative, by FailureReason.
  const std::array<uint64_t, kFailureReasonCount>& failures() const { return failures_; }

 private:
  enum class DumpOutcome { kOk, kGone, kFailed, kTcpUnsupported, kUdpUnsupported };
  struct NamespaceFailure {
    uint64_t inode = 0;
    FailureReason reason = kNetnsOpen;
    std::string error;
  };
  bool ReadMap(MapView& view);
  // for_lost_events: started early because the state program's runs were skipped.
  void Reconcile(const std::vector<procfs::NetworkNamespace>& namespaces, bool for_lost_events);
  // Opens a sock_diag socket inside the namespace of pid (which must still be `inode`), dumps it
  // into sockets and closes the socket again. kGone: the pid left the namespace (or exited).
  DumpOutcome DumpNamespace(uint64_t inode, pid_t pid, bool udp,
                            std::vector<netlink::DiagSocket>& sockets, NamespaceFailure& failure);
  // Per namespace of interest: its processes' cgroup ids, and a pid still in it. false when /proc
  // could not be read completely (the caller must then assume any cgroup could be held).
  bool ScanProcesses(const std::set<uint64_t>& inodes,
                     std::map<uint64_t, std::set<uint64_t>>& cgroups,
                     std::map<uint64_t, pid_t>& some_pid) const;
  // Counts one more failed round and says when to retry.
  std::chrono::milliseconds NextRetryAfterFailure();
  void ReportFailures(const std::vector<NamespaceFailure>& failed, size_t listed,
                      uint64_t deferred_cgroups, std::chrono::milliseconds retry_in);

  const bpf::SockStateProgram& program_;
  HostPaths paths_;
  Logger& logger_;
  Options options_;
  TcpBaseline baseline_;
  MapView last_view_;
  // netns inode -> cgroup ids its last good dump saw: a later failed dump of it defers them.
  std::map<uint64_t, std::vector<uint64_t>> namespace_cgroups_;
  // Namespaces listed at the seed that could not be dumped since: their sockets predate the
  // agent, so their first good dump seeds rather than corrects.
  std::set<uint64_t> unseeded_namespaces_;
  std::array<uint64_t, kFailureReasonCount> failures_{};
  uint32_t failed_rounds_in_a_row_ = 0;     // backs the retry off, and says when to log again
  uint32_t busy_seed_rounds_in_a_row_ = 0;  // rounds that left a busy cgroup unseeded: backs off
  Clock::time_point last_failure_warning_{};
  Clock::time_point next_reconcile_{};  // epoch: the first Collect seeds
  Clock::time_point last_round_{};
  uint64_t misses_at_round_ = 0;  // the state program's recursion misses when the round began
  bool misses_reported_ = false;  // the first skip is logged at warn, later ones at info
  bool seeded_ = false;
  bool udp_diag_missing_ = false;  // the kernel has no UDP sock_diag: UDP counts not reconciled
  bool tcp_in_one_walk_ = false;   // the last namespace's TCP came in one (compat) dump
  bool tcp_diag_missing_ = false;  // no TCP sock_diag (modules not loaded): nothing reconciled
  uint64_t drift_ = 0;
  uint64_t reconciliations_ = 0;
  uint64_t early_reconciliations_ = 0;
  double reconciliation_seconds_ = 0;  // wall-clock time of every round so far
};

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
