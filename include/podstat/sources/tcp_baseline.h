// Turning BPF's per-cgroup deltas into true socket counts.
//
// ps_tcp_states holds +1/-1 deltas since attach. The truth for a cgroup is baseline + delta, where
// the baseline is what existed before attach. A reconciliation round measures the truth with
// sock_diag, one network namespace at a time, and sets baseline = dumped - delta. That is exact
// only if no transition of that cgroup happened while its sockets were being dumped, which the
// per-entry `transitions` counter tells: the map is read before and after each namespace's dump,
// and a cgroup whose counter moved is left alone this round (it is retried next round). The same
// round run periodically corrects drift (lost events, map-full drops) and counts the correction.
//
// A namespace that could not be dumped (its netns or netlink socket could not be opened, the dump
// failed) is not "no sockets": the round leaves alone every cgroup it could hold (AddFailed), and
// sets nothing to zero at all, since "no socket anywhere" needs every namespace looked at.
//
// Seeding is not drift: a cgroup's first baseline from sockets that predate the agent is counted
// apart (Result::seeded_sockets), also when it comes rounds later because the cgroup was busy or
// its namespace failed at the seed (TcpBaseline keeps those cgroups as pending seeds).
//
// Pure logic over values: no BPF, no netlink. TcpStateSource does the I/O.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "podstat/abi/sock_state.h"
#include "podstat/model/snapshot.h"
#include "podstat/netlink/sock_diag.h"

namespace podstat::sources {

using MapView = std::unordered_map<uint64_t, ps_tcp_counts>;
using FamilyStateCounts = std::array<std::array<int64_t, PS_TCP_STATE_SLOTS>, PS_FAMILY_COUNT>;
using FamilyKindCounts = std::array<std::array<int64_t, PS_SOCK_KIND_SLOTS>, PS_FAMILY_COUNT>;

// States the BPF program tracks; the others are always 0 there (see bpf/sock_state.bpf.c):
// ESTABLISHED..FIN_WAIT2 (1-5) and CLOSE_WAIT..CLOSING (8-11).
bool IsTrackedTcpState(int state);
// The same set as a sock_diag state mask, so reconciliation dumps only what it compares.
inline constexpr uint32_t kTrackedTcpStateMask = 0xf3e;

class TcpBaseline {
 public:
  // baseline + delta per state, summed over families, clamped at 0 (a transient negative can only
  // come from a lost event and is fixed by the next round).
  model::TcpStateCounts Current(uint64_t cgroup_id, const ps_tcp_counts& delta) const;
  // The same for one family (PS_FAMILY_INET, PS_FAMILY_INET6).
  model::TcpStateCounts CurrentFamily(uint64_t cgroup_id, const ps_tcp_counts& delta,
                                      int family) const;
  // Open sockets by family and kind: baseline + delta, clamped at 0.
  model::SocketCounts CurrentSockets(uint64_t cgroup_id, const ps_tcp_counts& delta) const;
  // True when baseline + delta is exactly zero for every family and state.
  bool IsEmpty(uint64_t cgroup_id, const ps_tcp_counts& delta) const;
  void Forget(uint64_t cgroup_id) {
    baseline_.erase(cgroup_id);
    pending_seed_.erase(cgroup_id);
  }
  // Whether the cgroup still awaits the baseline of its sockets from before the agent.
  bool IsSeedPending(uint64_t cgroup_id) const { return pending_seed_.contains(cgroup_id); }
  template <typename Visit>
  void ForEachId(Visit visit) const {
    for (const auto& entry : baseline_) visit(entry.first);
  }
  size_t size() const { return baseline_.size(); }

 private:
  friend class ReconcileRound;
  struct Counts {
    FamilyStateCounts states{};
    FamilyKindCounts sockets{};
  };
  std::unordered_map<uint64_t, Counts> baseline_;
  // Cgroups left alone by the round that should have seeded them (busy, or a namespace that held
  // them failed): their first correction is their seed, not drift.
  std::unordered_set<uint64_t> pending_seed_;
};

class ReconcileRound {
 public:
  struct Result {
    uint64_t corrected_sockets = 0;  // drift: sum of |correction| over cgroups, families, states
    uint64_t seeded_sockets = 0;     // the same for first baselines (sockets from before the agent)
    uint64_t reconciled_cgroups = 0;
    uint64_t skipped_cgroups = 0;  // moved during their dump; retried next round
    // Of those, the ones whose seed is still to come: their sockets from before the agent are
    // not counted until a round finds them still.
    uint64_t skipped_unseeded_cgroups = 0;
    uint64_t deferred_cgroups = 0;  // left alone for a namespace that could not be dumped
  };

  // Which socket kinds the round has dumps for: their open-socket counts are set too. Empty when
  // the cgroup socket programs are not attached (the counts are then unused).
  using KindSet = std::array<bool, PS_SOCK_KIND_SLOTS>;

  // initial: the map read before the first namespace's dump. seed_round: the first round since
  // the agent attached; every correction it makes is a seed.
  explicit ReconcileRound(MapView initial, KindSet reconciled_kinds = {}, bool seed_round = false)
      : initial_(std::move(initial)), kinds_(reconciled_kinds), seed_round_(seed_round) {}

  // One namespace: the map before its dump, the dump (TCP and UDP sockets), and the map after it.
  // first_since_seed: the namespace existed at the seed but could not be dumped until now, so its
  // sockets predate the agent: what it adds to a cgroup is seeding, not drift.
  void AddNamespace(const MapView& before, std::span<const netlink::DiagSocket> sockets,
                    const MapView& after, bool first_since_seed = false);

  // A namespace that could not be dumped, and the cgroups that may hold sockets in it (those of
  // its processes, and those its last good dump saw). None of them is corrected this round, and
  // no cgroup at all is set to zero.
  void AddFailed(std::span<const uint64_t> possible_cgroups);
  // A namespace failed and which cgroups it may hold is unknown (/proc could not be read): no
  // cgroup is corrected this round.
  void AddFailedUnknown() { any_failed_ = defer_all_ = true; }

  // final: the map read after the last dump. Sets the baselines of every cgroup that held still.
  Result ApplyTo(TcpBaseline& baseline, const MapView& final_view) const;

 private:
  struct Observed {
    FamilyStateCounts sockets{};
    FamilyKindCounts kinds{};
    uint64_t first_transitions = 0;  // before the first dump that saw this cgroup
    ps_tcp_counts last_after{};      // the map after the last dump that saw it
    bool stable = true;
    bool seeding = false;  // seen in a namespace dumped for the first time since the seed
  };
  MapView initial_;
  KindSet kinds_;
  bool seed_round_ = false;
  bool any_failed_ = false;
  bool defer_all_ = false;
  std::unordered_set<uint64_t> deferred_;  // cgroups a failed namespace may hold
  std::unordered_map<uint64_t, Observed> observed_;
};

}  // namespace podstat::sources
