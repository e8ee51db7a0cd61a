#include "podstat/sources/tcp_state_source.h"

#ifdef PODSTAT_HAVE_BPF

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

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

TcpStateSource::DumpOutcome TcpStateSource::DumpNamespace(uint64_t inode, pid_t pid, bool udp,
                                                          std::vector<netlink::DiagSocket>& sockets,
                                                          NamespaceFailure& failure) {
  failure = NamespaceFailure{};
  failure.inode = inode;
  const std::string ns_path = paths_.Proc(pid, "ns/net");
  UniqueFd ns_fd(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns_fd) {
    // The process exited: the namespace may live on in another process (the caller looks).
    if (errno == ENOENT || errno == ESRCH) return DumpOutcome::kGone;
    failure.reason = kNetnsOpen;
    failure.error = ns_path + ": " + ErrnoMessage(errno);
    return DumpOutcome::kFailed;
  }
  struct stat st {};
  if (::fstat(ns_fd.get(), &st) != 0 || st.st_ino != inode) {
    return DumpOutcome::kGone;  // the pid was reused by another namespace's process
  }
  std::string error;
  // Opened for this dump only and closed on return: a kept socket per namespace would hold one
  // descriptor per container for the agent's whole life.
  auto client = netlink::SockDiagClient::Open(ns_fd.get(), &error);
  if (!client) {
    failure.reason = kNetlinkOpen;
    failure.error = std::move(error);
    return DumpOutcome::kFailed;
  }
  ns_fd.Reset();
  // With socket counts, every TCP state but TIME_WAIT: listeners' queued children and bound
  // sockets count as open; without, only the states the gauges track.
  constexpr uint32_t kTimeWaitBit = 1u << 6;
  const uint32_t tcp_mask =
      program_.sockets_attached() ? (netlink::kAllTcpStates & ~kTimeWaitBit) : kTrackedTcpStateMask;
  bool tcp_unsupported = false, udp_unsupported = false;
  if (!client->Dump(IPPROTO_TCP, sockets, &error, tcp_mask, &tcp_unsupported)) {
    failure.reason = kDumpFailed;
    failure.error = std::move(error);
    return DumpOutcome::kFailed;
  }
  if (tcp_unsupported) return DumpOutcome::kTcpUnsupported;
  tcp_in_one_walk_ = client->last_tcp_dump_in_one_walk();
  if (udp) {
    if (!client->Dump(IPPROTO_UDP, sockets, &error, ~0u, &udp_unsupported)) {
      failure.reason = kDumpFailed;
      failure.error = std::move(error);
      return DumpOutcome::kFailed;
    }
    if (udp_unsupported) return DumpOutcome::kUdpUnsupported;
  }
  return DumpOutcome::kOk;
}

bool TcpStateSource::ScanProcesses(const std::set<uint64_t>& inodes,
                                   std::map<uint64_t, std::set<uint64_t>>& cgroups,
                                   std::map<uint64_t, pid_t>& some_pid) const {
  const std::vector<pid_t> pids = procfs::ListPids(paths_);
  if (pids.empty()) return false;  // /proc unreadable (no descriptor left, say): nothing known
  bool complete = true;
  for (pid_t pid : pids) {
    const auto inode = procfs::NetworkNamespaceOf(paths_, pid);
    if (!inode || !inodes.contains(*inode)) continue;
    some_pid.try_emplace(*inode, pid);
    const auto path = procfs::CgroupV2PathOf(paths_, pid);
    struct stat st {};
    if (!path || options_.cgroup_root.empty() ||
        ::stat((*path == "/" ? options_.cgroup_root : options_.cgroup_root + *path).c_str(), &st) !=
            0) {
      // Gone meanwhile is fine; a process still there whose cgroup is unknown is not.
      if (::access(paths_.Proc(pid, "").c_str(), F_OK) == 0) complete = false;
      continue;
    }
    cgroups[*inode].insert(st.st_ino);
  }
  return complete;
}

void TcpStateSource::ReportFailures(const std::vector<NamespaceFailure>& failed, size_t listed,
                                    uint64_t deferred_cgroups, std::chrono::milliseconds retry_in) {
  const auto now = Clock::now();
  // The first failed round of a streak is a warning, then one every ten minutes at most: a node
  // short of descriptors would otherwise say the same every few seconds.
  constexpr auto kWarnEvery = std::chrono::minutes(10);
  const bool warn = failed_rounds_in_a_row_ == 1 || now - last_failure_warning_ >= kWarnEvery;
  if (warn) last_failure_warning_ = now;
  std::array<size_t, kFailureReasonCount> by_reason{};
  for (const auto& failure : failed) ++by_reason[failure.reason];
  std::string reasons;
  for (size_t i = 0; i < by_reason.size(); ++i) {
    if (by_reason[i] == 0) continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += std::to_string(by_reason[i]) + " " + kFailureReasonNames[i];
  }
  const NamespaceFailure& first = failed.front();
  logger_.Log(warn ? LogLevel::kWarn : LogLevel::kDebug, "tcp", "sock_diag could not dump ",
              failed.size(), " of ", listed, " network namespaces (", reasons, "; first: netns ",
              first.inode, ": ", first.error, "): the ", deferred_cgroups,
              " cgroups they may hold keep their counts and none is set to zero this round; "
              "retrying in ",
              std::chrono::duration_cast<std::chrono::seconds>(retry_in).count(), " s",
              warn && failed_rounds_in_a_row_ > 1
                  ? " (" + std::to_string(failed_rounds_in_a_row_) + " such rounds in a row)"
                  : std::string());
}

std::chrono::milliseconds TcpStateSource::NextRetryAfterFailure() {
  ++failed_rounds_in_a_row_;
  // Soon, but backing off while the cause lasts: 2 s, 4 s ... 64 s, never past the interval.
  const uint32_t doublings = std::min<uint32_t>(failed_rounds_in_a_row_ - 1, 5);
  return std::min<std::chrono::milliseconds>(options_.retry_interval * (1u << doublings),
                                             options_.reconcile_interval);
}

void TcpStateSource::Reconcile(const std::vector<procfs::NetworkNamespace>& namespaces,
                               bool for_lost_events) {
  const auto started = Clock::now();
  last_round_ = started;
  // Skips from here on show up as a rise at the next collection: a transition lost after its
  // namespace was dumped in this round is then put right by the next one.
  misses_at_round_ = program_.StateRecursionMisses();

  // The agent itself lives in a network namespace, so an empty list means /proc could not be
  // read (no descriptor left for opendir): a round over it would set every count to zero.
  if (namespaces.empty()) {
    ++failures_[kListFailed];
    const auto retry_in = NextRetryAfterFailure();
    ReportFailures({NamespaceFailure{0, kListFailed,
                                     "no network namespace could be listed from " + paths_.procfs}},
                   0, baseline_.size(), retry_in);
    next_reconcile_ = Clock::now() + retry_in;
    return;
  }
  std::set<uint64_t> live;
  for (const auto& ns : namespaces) live.insert(ns.inode);
  std::erase_if(namespace_cgroups_, [&](const auto& entry) { return !live.contains(entry.first); });
  std::erase_if(unseeded_namespaces_, [&](uint64_t inode) { return !live.contains(inode); });

  MapView initial;
  if (!ReadMap(initial)) return;
  // Open-socket counts are set for the kinds sock_diag can list: TCP and UDP. Raw sockets have no
  // diag module on many kernels (CONFIG_INET_RAW_DIAG), and the other kinds none at all: those
  // are counted from the agent's start.
  const bool count_sockets = program_.sockets_attached();
  ReconcileRound::KindSet kinds{};
  kinds[PS_SOCK_TCP] = count_sockets;
  kinds[PS_SOCK_UDP] = count_sockets && !udp_diag_missing_;
  ReconcileRound round(initial, kinds, /*seed_round=*/!seeded_);
  MapView before = initial, after;
  size_t dumped = 0;
  std::vector<NamespaceFailure> failed;
  std::vector<uint64_t> gone;
  // One namespace: false ends the round (a kernel without the diag module, or an unreadable map).
  auto dump = [&](uint64_t inode, pid_t pid) {
    std::vector<netlink::DiagSocket> sockets;
    NamespaceFailure failure;
    switch (DumpNamespace(inode, pid, kinds[PS_SOCK_UDP], sockets, failure)) {
      case DumpOutcome::kGone:
        gone.push_back(inode);
        return true;
      case DumpOutcome::kFailed:
        failed.push_back(std::move(failure));
        return true;
      case DumpOutcome::kTcpUnsupported:
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
        return false;
      case DumpOutcome::kUdpUnsupported:
        // Decided once: later rounds leave UDP counts to BPF alone. This round's UDP counts are
        // not set either (no socket of the namespace was listed as UDP).
        logger_.Warn("tcp",
                     "the kernel has no UDP sock_diag (CONFIG_INET_UDP_DIAG): UDP socket "
                     "counts start from the agent's start and are not reconciled");
        udp_diag_missing_ = true;
        return false;
      case DumpOutcome::kOk:
        break;
    }
    if (tcp_diag_missing_) {
      logger_.Info("tcp", "sock_diag lists TCP sockets again: reconciling");
      tcp_diag_missing_ = false;
    }
    if (!ReadMap(after)) return false;
    const bool first_since_seed = unseeded_namespaces_.erase(inode) > 0;
    round.AddNamespace(before, sockets, after, first_since_seed);
    std::vector<uint64_t>& seen = namespace_cgroups_[inode];
    seen.clear();
    for (const auto& socket : sockets) {
      if (socket.cgroup_id != 0) seen.push_back(socket.cgroup_id);
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    before = std::move(after);
    after = MapView{};
    ++dumped;
    return true;
  };
  for (const auto& ns : namespaces) {
    if (!dump(ns.inode, ns.lowest_pid)) return;
  }

  if (!gone.empty() || !failed.empty()) {
    // One walk of /proc for every namespace in question: a namespace whose listed process left
    // may have others (dumped through one of them now; none left: it has gone, and is not a
    // failure), and a failed namespace's processes say which cgroups it may hold.
    std::set<uint64_t> inodes(gone.begin(), gone.end());
    for (const auto& failure : failed) inodes.insert(failure.inode);
    std::map<uint64_t, std::set<uint64_t>> cgroups;
    std::map<uint64_t, pid_t> some_pid;
    bool complete = ScanProcesses(inodes, cgroups, some_pid);
    for (uint64_t inode : std::exchange(gone, {})) {
      const auto it = some_pid.find(inode);
      if (it != some_pid.end() && !dump(inode, it->second)) return;
    }
    // A namespace that is gone again after that (its last process just exited) is not looked
    // at twice more; its processes, if any, are taken as possibly holding its sockets.
    for (uint64_t inode : gone) {
      if (some_pid.contains(inode)) {
        failed.push_back({inode, kNetnsOpen, "every process of it left meanwhile"});
      }
    }
    // Some process's cgroup is unknown: any cgroup might have sockets in a failed namespace.
    if (!failed.empty() && !complete) round.AddFailedUnknown();
    for (const auto& failure : failed) {
      std::vector<uint64_t> possible;
      if (const auto it = cgroups.find(failure.inode); it != cgroups.end()) {
        possible.assign(it->second.begin(), it->second.end());
      }
      if (const auto it = namespace_cgroups_.find(failure.inode); it != namespace_cgroups_.end()) {
        possible.insert(possible.end(), it->second.begin(), it->second.end());
      }
      round.AddFailed(possible);
      ++failures_[failure.reason];
      if (!seeded_) unseeded_namespaces_.insert(failure.inode);
    }
  }

  const ReconcileRound::Result result = round.ApplyTo(baseline_, before);
  const uint64_t deferred_cgroups = result.deferred_cgroups;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (seeded_) {
    drift_ += result.corrected_sockets;
    if (result.corrected_sockets > 0) {
      logger_.Info("tcp", "reconciliation corrected ", result.corrected_sockets,
                   " socket counts (events lost or dropped since the last round)");
    }
    if (result.seeded_sockets > 0) {
      logger_.Info("tcp", "seeded ", result.seeded_sockets,
                   " more socket counts from before the agent started, of cgroups that were "
                   "busy or in a namespace that could not be dumped at the first round (not "
                   "drift)");
    }
  }
  ++reconciliations_;
  reconciliation_seconds_ += std::chrono::duration<double>(Clock::now() - started).count();
  logger_.Log(seeded_ ? LogLevel::kDebug : LogLevel::kInfo, "tcp",
              seeded_ ? "reconciled" : "seeded", " TCP state counts from sock_diag: ", dumped,
              " network namespaces (", failed.size(), " unavailable), ", result.reconciled_cgroups,
              " cgroups set, ", result.skipped_cgroups, " busy and retried later, ",
              deferred_cgroups, " left for a failed namespace, in ", took.count(), " ms",
              tcp_in_one_walk_ ? " (TCP of both families in one dump per namespace)"
                               : " (TCP in one dump per family: the kernel refused the "
                                 "TCPDIAG_GETSOCK request for both)");
  seeded_ = true;
  // A busy cgroup that still waits for its seed is missing its sockets from before the agent:
  // retry soon, backing off while one stays busy. A seeded one is right from BPF meanwhile; its
  // check waits for the interval. (Retrying every 2 s for any busy cgroup made a node with one
  // always-busy service dump every namespace at every collection: 20 % of a core at 1000.)
  // So does a busy cgroup whose counts are known wrong: this round was started for skipped runs,
  // or it corrected some cgroup (events were lost).
  const bool lost_events = for_lost_events || result.corrected_sockets > 0;
  auto next = options_.reconcile_interval;
  if (result.skipped_unseeded_cgroups > 0 || (lost_events && result.skipped_cgroups > 0)) {
    // Up to the interval, not only to 64 s: a round dumps every namespace (3.4 ms each on this
    // host, whose TCP hash has 262,144 buckets), and a cgroup busy all the time (the host's root
    // with its daemons) would otherwise cost a round a minute for ever.
    const uint32_t doublings = std::min<uint32_t>(busy_seed_rounds_in_a_row_++, 16);
    next = std::min<std::chrono::milliseconds>(options_.retry_interval * (1u << doublings),
                                               options_.reconcile_interval);
  } else {
    busy_seed_rounds_in_a_row_ = 0;
  }
  if (!failed.empty()) {
    const auto retry_in = NextRetryAfterFailure();
    next = std::min(next, retry_in);
    ReportFailures(failed, namespaces.size(), deferred_cgroups, retry_in);
  } else if (failed_rounds_in_a_row_ > 0) {
    logger_.Info("tcp", "sock_diag dumped every network namespace again, after ",
                 failed_rounds_in_a_row_, " rounds with failures");
    failed_rounds_in_a_row_ = 0;
  }
  next_reconcile_ = Clock::now() + next;
}

std::vector<TcpStateSource::CgroupCounts> TcpStateSource::Collect(
    const std::vector<procfs::NetworkNamespace>& namespaces) {
  const auto now = Clock::now();
  bool due = now >= next_reconcile_;
  bool for_lost_events = false;
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
      for_lost_events = true;
    }
  }
  if (due) Reconcile(namespaces, for_lost_events);
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
