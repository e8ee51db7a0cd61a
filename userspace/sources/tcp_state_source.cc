#include "podstat/sources/tcp_state_source.h"

#ifdef PODSTAT_HAVE_BPF

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <set>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::sources {

TcpStateSource::TcpStateSource(const bpf::SockStateProgram& program, HostPaths paths,
                               Logger& logger, Options options)
    : program_(program), paths_(std::move(paths)), logger_(logger), options_(options) {}

bool TcpStateSource::ReadMap(MapView& view) {
  std::vector<bpf::TcpStateEntry> entries;
  std::string error;
  if (!program_.ReadTcpStates(entries, &error)) {
    logger_.Warn("tcp", error);
    return false;
  }
  view.clear();
  for (const auto& entry : entries) view.emplace(entry.cgroup_id, entry.counts);
  return true;
}

netlink::SockDiagClient* TcpStateSource::ClientFor(const procfs::NetworkNamespace& ns) {
  if (auto it = clients_.find(ns.inode); it != clients_.end()) return &it->second;
  UniqueFd ns_fd(::open(paths_.Proc(ns.lowest_pid, "ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!ns_fd || ::fstat(ns_fd.get(), &st) != 0 || st.st_ino != ns.inode) {
    return nullptr;  // the process left, or the pid was reused by another namespace's process
  }
  std::string error;
  auto client = netlink::SockDiagClient::Open(ns_fd.get(), &error);
  if (!client) {
    logger_.Warn("tcp", "sock_diag in network namespace ", ns.inode, " (pid ", ns.lowest_pid,
                 "): ", error);
    return nullptr;
  }
  return &clients_.emplace(ns.inode, std::move(*client)).first->second;
}

void TcpStateSource::Reconcile(const std::vector<procfs::NetworkNamespace>& namespaces) {
  const auto started = Clock::now();
  last_round_ = started;
  // Skips from here on show up as a rise at the next collection: a transition lost after its
  // namespace was dumped in this round is then put right by the next one.
  misses_at_round_ = program_.StateRecursionMisses();
  // Keep clients only for namespaces that still have processes: a kept netlink socket would
  // otherwise keep a dead container's namespace alive.
  std::set<uint64_t> live;
  for (const auto& ns : namespaces) live.insert(ns.inode);
  std::erase_if(clients_, [&](const auto& entry) { return !live.contains(entry.first); });

  MapView initial;
  if (!ReadMap(initial)) return;
  // Open-socket counts are set for the kinds sock_diag can list: TCP and UDP. Raw sockets have no
  // diag module on many kernels (CONFIG_INET_RAW_DIAG), and the other kinds none at all: those
  // are counted from the agent's start.
  const bool count_sockets = program_.sockets_attached();
  ReconcileRound::KindSet kinds{};
  kinds[PS_SOCK_TCP] = count_sockets;
  kinds[PS_SOCK_UDP] = count_sockets && !udp_diag_missing_;
  ReconcileRound round(initial, kinds);
  MapView before = initial, after;
  size_t dumped = 0, failed = 0;
  for (const auto& ns : namespaces) {
    netlink::SockDiagClient* client = ClientFor(ns);
    if (!client) {
      ++failed;
      continue;
    }
    std::vector<netlink::DiagSocket> sockets;
    std::string error;
    // With socket counts, every TCP state but TIME_WAIT: listeners' queued children and
    // bound sockets count as open; without, only the states the gauges track.
    constexpr uint32_t kTimeWaitBit = 1u << 6;
    const uint32_t tcp_mask =
        kinds[PS_SOCK_TCP] ? (netlink::kAllTcpStates & ~kTimeWaitBit) : kTrackedTcpStateMask;
    bool tcp_unsupported = false, udp_unsupported = false;
    if (!client->Dump(IPPROTO_TCP, sockets, &error, tcp_mask, &tcp_unsupported) ||
        (kinds[PS_SOCK_UDP] &&
         !client->Dump(IPPROTO_UDP, sockets, &error, ~0u, &udp_unsupported))) {
      logger_.Warn("tcp", "sock_diag dump of network namespace ", ns.inode, " failed: ", error);
      clients_.erase(ns.inode);
      ++failed;
      continue;
    }
    if (tcp_unsupported) {
      // Nothing to dump anywhere; said once per streak, retried at the normal interval in case
      // the modules get loaded.
      if (!tcp_diag_missing_) {
        logger_.Error("tcp",
                      "sock_diag cannot list TCP sockets (the inet_diag and tcp_diag modules are "
                      "not loaded and the kernel could not load them): TCP counts ",
                      seeded_ ? "are no longer reconciled"
                              : "leave out every socket that existed before the agent started",
                      " until they are; run `modprobe inet_diag tcp_diag udp_diag` on the node. "
                      "podstat --check says the same.");
      }
      tcp_diag_missing_ = true;
      next_reconcile_ = Clock::now() + options_.reconcile_interval;
      return;
    }
    if (tcp_diag_missing_) {
      logger_.Info("tcp", "sock_diag lists TCP sockets again: reconciling");
      tcp_diag_missing_ = false;
    }
    if (udp_unsupported) {
      // Decided once: later rounds leave UDP counts to BPF alone. This round's UDP counts are
      // not set either (no socket of the namespace was listed as UDP).
      logger_.Warn("tcp",
                   "the kernel has no UDP sock_diag (CONFIG_INET_UDP_DIAG): UDP socket "
                   "counts start from the agent's start and are not reconciled");
      udp_diag_missing_ = true;
      return;
    }
    if (!ReadMap(after)) return;
    round.AddNamespace(before, sockets, after);
    before = std::move(after);
    after = MapView{};
    ++dumped;
  }
  const ReconcileRound::Result result = round.ApplyTo(baseline_, before);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (seeded_) {
    drift_ += result.corrected_sockets;
    if (result.corrected_sockets > 0) {
      logger_.Info("tcp", "reconciliation corrected ", result.corrected_sockets,
                   " socket counts (events lost or dropped since the last round)");
    }
  }
  ++reconciliations_;
  logger_.Log(seeded_ ? LogLevel::kDebug : LogLevel::kInfo, "tcp",
              seeded_ ? "reconciled" : "seeded", " TCP state counts from sock_diag: ", dumped,
              " network namespaces (", failed, " unavailable), ", result.reconciled_cgroups,
              " cgroups set, ", result.skipped_cgroups, " busy and retried later, in ",
              took.count(), " ms");
  seeded_ = true;
  next_reconcile_ = Clock::now() + (result.skipped_cgroups > 0 ? options_.retry_interval
                                                               : options_.reconcile_interval);
}

std::vector<TcpStateSource::CgroupCounts> TcpStateSource::Collect(
    const std::vector<procfs::NetworkNamespace>& namespaces) {
  const auto now = Clock::now();
  bool due = now >= next_reconcile_;
  if (!due && seeded_) {
    // Which socket's transition was skipped is unknown, so every namespace is dumped again.
    const uint64_t misses = program_.StateRecursionMisses();
    if (misses > misses_at_round_ && now >= last_round_ + options_.early_reconcile_gap) {
      logger_.Log(misses_reported_ ? LogLevel::kInfo : LogLevel::kWarn, "tcp",
                  "the kernel skipped ", misses - misses_at_round_, " runs of ",
                  program_.attached_program(),
                  " (bpf_prog_info.recursion_misses: the program was preempted and ran again on "
                  "that CPU), so socket state changes went uncounted; reconciling every network "
                  "namespace from sock_diag now");
      misses_reported_ = true;
      ++early_reconciliations_;
      due = true;
    }
  }
  if (due) Reconcile(namespaces);
  std::vector<CgroupCounts> counts;
  if (!ReadMap(last_view_)) return counts;
  std::set<uint64_t> ids;
  for (const auto& [id, value] : last_view_) ids.insert(id);
  baseline_.ForEachId([&](uint64_t id) { ids.insert(id); });
  counts.reserve(ids.size());
  for (uint64_t id : ids) {
    const auto it = last_view_.find(id);
    const ps_tcp_counts delta = it == last_view_.end() ? ps_tcp_counts{} : it->second;
    CgroupCounts& entry = counts.emplace_back();
    entry.cgroup_id = id;
    entry.tcp = baseline_.Current(id, delta);
    entry.tcp_inet6 = baseline_.CurrentFamily(id, delta, PS_FAMILY_INET6);
    if (program_.sockets_attached()) entry.sockets = baseline_.CurrentSockets(id, delta);
    entry.events.retransmits = delta.events[PS_TCP_RETRANSMITS];
    entry.events.connect_failures = delta.events[PS_TCP_CONNECT_FAILURES];
    entry.events.resets_sent = delta.events[PS_TCP_RESETS_SENT];
    entry.events.resets_received = delta.events[PS_TCP_RESETS_RECEIVED];
  }
  return counts;
}

bool TcpStateSource::ForgetIfEmpty(uint64_t cgroup_id) {
  const auto it = last_view_.find(cgroup_id);
  const ps_tcp_counts delta = it == last_view_.end() ? ps_tcp_counts{} : it->second;
  if (!baseline_.IsEmpty(cgroup_id, delta)) return false;
  program_.DeleteTcpState(cgroup_id);
  baseline_.Forget(cgroup_id);
  if (it != last_view_.end()) last_view_.erase(it);
  return true;
}

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
