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
  const auto it = baseline_.find(cgroup_id);
  model::TcpStateCounts counts{};
  for (int state = 1; state <= static_cast<int>(counts.size()); ++state) {
    int64_t total = 0;
    for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
      total += delta.count[family][state];
      if (it != baseline_.end()) total += it->second[family][state];
    }
    counts[state - 1] = total < 0 ? 0 : total;
  }
  return counts;
}

bool TcpBaseline::IsEmpty(uint64_t cgroup_id, const ps_tcp_counts& delta) const {
  const auto it = baseline_.find(cgroup_id);
  for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
    for (int state = 0; state < PS_TCP_STATE_SLOTS; ++state) {
      const int64_t base = it == baseline_.end() ? 0 : it->second[family][state];
      if (base + delta.count[family][state] != 0) return false;
    }
  }
  return true;
}

void ReconcileRound::AddNamespace(const MapView& before,
                                  std::span<const netlink::DiagSocket> sockets,
                                  const MapView& after) {
  std::unordered_set<uint64_t> seen;
  for (const netlink::DiagSocket& socket : sockets) {
    if (socket.cgroup_id == 0 || !IsTrackedTcpState(socket.state)) continue;
    const int family = socket.family == 10 /* AF_INET6 */ ? PS_FAMILY_INET6 : PS_FAMILY_INET;
    auto [it, inserted] = observed_.try_emplace(socket.cgroup_id);
    if (inserted) it->second.first_transitions = TransitionsOf(before, socket.cgroup_id);
    it->second.sockets[family][socket.state] += 1;
    seen.insert(socket.cgroup_id);
  }
  for (uint64_t id : seen) {
    Observed& observed = observed_[id];
    if (TransitionsOf(before, id) != TransitionsOf(after, id)) observed.stable = false;
    observed.last_after = ValueOf(after, id);
  }
}

ReconcileRound::Result ReconcileRound::ApplyTo(TcpBaseline& baseline,
                                               const MapView& final_view) const {
  Result result;
  auto apply = [&](uint64_t id, const FamilyStateCounts& truth, const ps_tcp_counts& delta) {
    FamilyStateCounts& base = baseline.baseline_[id];
    for (int family = 0; family < PS_FAMILY_COUNT; ++family) {
      for (int state = 0; state < PS_TCP_STATE_SLOTS; ++state) {
        if (!IsTrackedTcpState(state)) continue;
        const int64_t wanted = truth[family][state] - delta.count[family][state];
        result.corrected_sockets += static_cast<uint64_t>(std::llabs(wanted - base[family][state]));
        base[family][state] = wanted;
      }
    }
    ++result.reconciled_cgroups;
  };

  for (const auto& [id, observed] : observed_) {
    // Stable in each window, and nothing moved between the first and the last window either.
    if (observed.stable && observed.first_transitions == observed.last_after.transitions) {
      apply(id, observed.sockets, observed.last_after);
    } else {
      ++result.skipped_cgroups;
    }
  }
  // Cgroups with deltas but no socket in any dump: their truth is zero if they held still from
  // before the first dump to after the last.
  for (const auto& [id, delta] : final_view) {
    if (observed_.contains(id)) continue;
    if (TransitionsOf(initial_, id) != delta.transitions) {
      ++result.skipped_cgroups;
      continue;
    }
    apply(id, FamilyStateCounts{}, delta);
  }
  // Cgroups known only by their baseline (no transition since attach) that no dump saw any more:
  // their sockets went away unseen by BPF (lost events), so the truth is zero. Collected first
  // because apply() inserts into the map being walked.
  std::vector<uint64_t> vanished;
  for (const auto& [id, base] : baseline.baseline_) {
    if (!observed_.contains(id) && !final_view.contains(id) && !initial_.contains(id)) {
      vanished.push_back(id);
    }
  }
  for (uint64_t id : vanished) apply(id, FamilyStateCounts{}, ps_tcp_counts{});
  return result;
}

}  // namespace podstat::sources
