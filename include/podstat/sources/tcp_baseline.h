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
// Pure logic over values: no BPF, no netlink. TcpStateSource does the I/O.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>

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
  void Forget(uint64_t cgroup_id) { baseline_.erase(cgroup_id); }
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
};

class ReconcileRound {
 public:
  struct Result {
    uint64_t corrected_sockets = 0;  // sum of |correction| over cgroups, families and states
    uint64_t reconciled_cgroups = 0;
    uint64_t skipped_cgroups = 0;  // moved during their dump; retried next round
  };

  // Which socket kinds the round has dumps for: their open-socket counts are set too. Empty when
  // the cgroup socket programs are not attached (the counts are then unused).
  using KindSet = std::array<bool, PS_SOCK_KIND_SLOTS>;

  // initial: the map read before the first namespace's dump.
  explicit ReconcileRound(MapView initial, KindSet reconciled_kinds = {})
      : initial_(std::move(initial)), kinds_(reconciled_kinds) {}

  // One namespace: the map before its dump, the dump (TCP and UDP sockets), and the map after it.
  void AddNamespace(const MapView& before, std::span<const netlink::DiagSocket> sockets,
                    const MapView& after);

  // final: the map read after the last dump. Sets the baselines of every cgroup that held still.
  Result ApplyTo(TcpBaseline& baseline, const MapView& final_view) const;

 private:
  struct Observed {
    FamilyStateCounts sockets{};
    FamilyKindCounts kinds{};
    uint64_t first_transitions = 0;  // before the first dump that saw this cgroup
    ps_tcp_counts last_after{};      // the map after the last dump that saw it
    bool stable = true;
  };
  MapView initial_;
  KindSet kinds_;
  std::unordered_map<uint64_t, Observed> observed_;
};

}  // namespace podstat::sources
