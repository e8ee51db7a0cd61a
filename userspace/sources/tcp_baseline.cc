#include "podstat/sources/tcp_baseline.h"

#include <cstdlib>
#include <unordered_set>
#include <vector>

namespace podstat::sources {
namespace {

constexpr int kTcpClose = 7;
constexpr int kTcpTimeWait = 6;
constexpr int kTcpClosing = 11;  // the last state the tracepoint reports
constexpr int kTcpNewSynRecv = 12;

uint64_t TransitionsOf(const MapView& view, uint64_t id) {
  const auto it = view.find(id);
  return it == view.end() ? 0 : it->second.transitions;
}

ps_tcp_counts ValueOf(const MapView& view, uint64_t id) {
  const auto it = view.find(id);
  return it == view.end() ? ps_tcp_counts{} : it->second;
}

}  // namespace

bool IsTrackedTcpState(int state) {
  return state > 0 && state < PS_TCP_STATE_SLOTS && state != kTcpClose && state != kTcpTimeWait &&
         state != kTcpNewSynRecv && state <= kTcpClosing;
}

model::TcpStateCounts TcpBaseline::Current(uint64_t cgroup_id, const ps_tcp_counts& delta) const {
  model::TcpStateCounts counts{};
  for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
    const model::TcpStateCounts one = CurrentFamily(cgroup_id, delta, family);
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += one[i];
  }
  return counts;
}

model::TcpStateCounts TcpBaseline::CurrentFamily(uint64_t cgroup_id, const ps_tcp_counts& delta,
                                                 int family) const {
  const auto it = baseline_.find(cgroup_id);
  model::TcpStateCounts counts{};
  for (int state = 1; state <= static_cast<int>(counts.size()); ++state) {
    int64_t total = delta.count[family][state];
    if (it != baseline_.end()) total += it->second.states[family][state];
    counts[state - 1] = total < 0 ? 0 : total;
  }
  return counts;
}

model::SocketCounts TcpBaseline::CurrentSockets(uint64_t cgroup_id,
                                                const ps_tcp_counts& delta) const {
  const auto it = baseline_.find(cgroup_id);
  model::SocketCounts counts{};
  for (size_t family = 0; family < counts.size(); ++family) {
    for (size_t kind = 0; kind < counts[family].size(); ++kind) {
      int64_t total = delta.sockets[family][kind];
      if (it != baseline_.end()) total += it->second.sockets[family][kind];
      counts[family][kind] = total < 0 ? 0 : total;
    }
  }
  return counts;
}

bool TcpBaseline::IsEmpty(uint64_t cgroup_id, const ps_tcp_counts& delta) const {
  const auto it = baseline_.find(cgroup_id);
  for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
    for (int state = 0; state < PS_TCP_STATE_SLOTS; ++state) {
      const int64_t base = it == baseline_.end() ? 0 : it->second.states[family][state];
      if (base + delta.count[family][state] != 0) return false;
    }
    for (int kind = 0; kind < PS_SOCK_KIND_SLOTS; ++kind) {
      const int64_t base = it == baseline_.end() ? 0 : it->second.sockets[family][kind];
      if (base + delta.sockets[family][kind] != 0) return false;
    }
  }
  return true;
}

void ReconcileRound::AddFailed(std::span<const uint64_t> possible_cgroups) {
  any_failed_ = true;
  deferred_.insert(possible_cgroups.begin(), possible_cgroups.end());
}

void ReconcileRound::AddNamespace(const MapView& before,
                                  std::span<const netlink::DiagSocket> sockets,
                                  const MapView& after, bool first_since_seed) {
  std::unordered_set<uint64_t> seen;
  constexpr uint8_t kProtocolTcp = 6, kProtocolUdp = 17;
  for (const netlink::DiagSocket& socket : sockets) {
    if (socket.cgroup_id == 0) continue;
    const bool tcp = socket.protocol == kProtocolTcp;
    const bool tracked_state = tcp && IsTrackedTcpState(socket.state);
    const bool held =
        tcp ? kinds_[PS_SOCK_TCP] && model::IsHeldTcpSocket(socket.state, socket.inode)
            : socket.protocol == kProtocolUdp && kinds_[PS_SOCK_UDP];
    if (!tracked_state && !held) continue;
    const int family = socket.family == 10 /* AF_INET6 */ ? PS_FAMILY_INET6 : PS_FAMILY_INET;
    auto [it, inserted] = observed_.try_emplace(socket.cgroup_id);
    if (inserted) it->second.first_transitions = TransitionsOf(before, socket.cgroup_id);
    if (tracked_state) it->second.sockets[family][socket.state] += 1;
    if (held) it->second.kinds[family][tcp ? PS_SOCK_TCP : PS_SOCK_UDP] += 1;
    seen.insert(socket.cgroup_id);
  }
  for (uint64_t id : seen) {
    Observed& observed = observed_[id];
    if (TransitionsOf(before, id) != TransitionsOf(after, id)) observed.stable = false;
    observed.last_after = ValueOf(after, id);
    if (first_since_seed) observed.seeding = true;
  }
}

ReconcileRound::Result ReconcileRound::ApplyTo(TcpBaseline& baseline,
                                               const MapView& final_view) const {
  Result result;
  // A correction of a cgroup whose sockets from before the agent were never counted yet is its
  // seed; anything else is drift (events lost or dropped).
  auto is_seed = [&](uint64_t id, bool seen_first_since_seed) {
    return seed_round_ || seen_first_since_seed || baseline.pending_seed_.contains(id);
  };
  auto apply = [&](uint64_t id, const Observed& truth, const ps_tcp_counts& delta, bool seed) {
    TcpBaseline::Counts& base = baseline.baseline_[id];
    uint64_t& corrected = seed ? result.seeded_sockets : result.corrected_sockets;
    auto set = [&](int64_t& slot, int64_t wanted) {
      corrected += static_cast<uint64_t>(std::llabs(wanted - slot));
      slot = wanted;
    };
    for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
      for (int state = 0; state < PS_TCP_STATE_SLOTS; ++state) {
        if (!IsTrackedTcpState(state)) continue;
        set(base.states[family][state], truth.sockets[family][state] - delta.count[family][state]);
      }
      for (int kind = 0; kind < PS_SOCK_KIND_SLOTS; ++kind) {
        if (!kinds_[static_cast<size_t>(kind)]) continue;
        set(base.sockets[family][kind], truth.kinds[family][kind] - delta.sockets[family][kind]);
      }
    }
    baseline.pending_seed_.erase(id);
    ++result.reconciled_cgroups;
  };
  // Left alone this round: if this round was to be its seed, the seed is still to come.
  auto leave = [&](uint64_t id, bool seed, uint64_t& counter) {
    if (seed) baseline.pending_seed_.insert(id);
    ++counter;
    if (seed && &counter == &result.skipped_cgroups) ++result.skipped_unseeded_cgroups;
  };

  for (const auto& [id, observed] : observed_) {
    const bool seed = is_seed(id, observed.seeding);
    if (defer_all_ || deferred_.contains(id)) {
      leave(id, seed, result.deferred_cgroups);
    } else if (observed.stable && observed.first_transitions == observed.last_after.transitions) {
      // Stable in each window, and nothing moved between the first and the last window either.
      apply(id, observed, observed.last_after, seed);
    } else {
      leave(id, seed, result.skipped_cgroups);
    }
  }
  // Cgroups with deltas but no socket in any dump: their truth is zero if they held still from
  // before the first dump to after the last -- and if every namespace was dumped: a namespace
  // that could not be may hold any of them.
  for (const auto& [id, delta] : final_view) {
    if (observed_.contains(id)) continue;
    const bool seed = is_seed(id, false);
    if (any_failed_) {
      leave(id, seed, result.deferred_cgroups);
    } else if (TransitionsOf(initial_, id) != delta.transitions) {
      leave(id, seed, result.skipped_cgroups);
    } else {
      apply(id, Observed{}, delta, seed);
    }
  }
  // Cgroups known only by their baseline (no transition since attach) that no dump saw any more:
  // their sockets went away unseen by BPF (lost events), so the truth is zero -- again only when
  // every namespace was dumped. Collected first because apply() inserts into the map being walked.
  std::vector<uint64_t> vanished;
  for (const auto& [id, base] : baseline.baseline_) {
    if (!observed_.contains(id) && !final_view.contains(id) && !initial_.contains(id)) {
      vanished.push_back(id);
    }
  }
  for (uint64_t id : vanished) {
    if (any_failed_) {
      ++result.deferred_cgroups;
    } else {
      apply(id, Observed{}, ps_tcp_counts{}, is_seed(id, false));
    }
  }
  return result;
}

}  // namespace podstat::sources
