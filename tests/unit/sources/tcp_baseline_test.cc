#include "podstat/sources/tcp_baseline.h"

#include <gtest/gtest.h>

namespace podstat::sources {
namespace {

constexpr int kEstablished = 1;
constexpr int kTimeWait = 6;
constexpr int kListen = 10;
constexpr uint8_t kInet = 2;
constexpr uint8_t kInet6 = 10;

ps_tcp_counts Delta(int state, int64_t count, uint64_t transitions, int family = PS_FAMILY_INET) {
  ps_tcp_counts counts{};
  counts.count[family][state] = count;
  counts.transitions = transitions;
  return counts;
}

std::vector<netlink::DiagSocket> Sockets(uint64_t cgroup, uint8_t family, uint8_t state, int n) {
  return std::vector<netlink::DiagSocket>(static_cast<size_t>(n),
                                          netlink::DiagSocket{family, state, cgroup, 0});
}

TEST(TcpBaseline, SeedsSocketsThatPredateTheProgram) {
  // Two listeners and three established sockets existed before attach; BPF saw nothing.
  TcpBaseline baseline;
  ReconcileRound round({});
  auto sockets = Sockets(42, kInet, kListen, 2);
  const auto est = Sockets(42, kInet6, kEstablished, 3);
  sockets.insert(sockets.end(), est.begin(), est.end());
  round.AddNamespace({}, sockets, {});
  const auto result = round.ApplyTo(baseline, {});
  EXPECT_EQ(result.reconciled_cgroups, 1u);
  const auto counts = baseline.Current(42, ps_tcp_counts{});
  EXPECT_EQ(counts[kListen - 1], 2);
  EXPECT_EQ(counts[kEstablished - 1], 3);
  EXPECT_EQ(counts[kTimeWait - 1], 0);
}

TEST(TcpBaseline, BaselinePlusDeltaEqualsTheDump) {
  // BPF already counted +4 established since attach, and the dump shows 5: one predates attach.
  TcpBaseline baseline;
  const MapView map = {{7, Delta(kEstablished, 4, 4)}};
  ReconcileRound round(map);
  round.AddNamespace(map, Sockets(7, kInet, kEstablished, 5), map);
  round.ApplyTo(baseline, map);
  EXPECT_EQ(baseline.Current(7, map.at(7))[kEstablished - 1], 5);
  // Later, BPF sees one more connection: 5 + 1.
  EXPECT_EQ(baseline.Current(7, Delta(kEstablished, 5, 5))[kEstablished - 1], 6);
}

TEST(TcpBaseline, LeavesCgroupsThatMovedDuringTheirDump) {
  TcpBaseline baseline;
  const MapView before = {{7, Delta(kEstablished, 1, 1)}};
  const MapView after = {{7, Delta(kEstablished, 2, 2)}};  // a connection raced the dump
  ReconcileRound round(before);
  round.AddNamespace(before, Sockets(7, kInet, kEstablished, 9), after);
  const auto result = round.ApplyTo(baseline, after);
  EXPECT_EQ(result.skipped_cgroups, 1u);
  EXPECT_EQ(result.reconciled_cgroups, 0u);
  EXPECT_EQ(baseline.Current(7, after.at(7))[kEstablished - 1], 2);  // untouched: delta only
}

// Busy again once seeded: counted as skipped, but not as waiting for its seed, so the source
// checks it at the next interval instead of dumping every namespace again in 2 s.
TEST(TcpBaseline, ABusyCgroupThatHasItsSeedIsNotWaitingForOne) {
  TcpBaseline baseline;
  const MapView first = {{7, Delta(kEstablished, 1, 1)}};
  {
    ReconcileRound seed(first, {}, /*seed_round=*/true);
    seed.AddNamespace(first, Sockets(7, kInet, kEstablished, 1), first);
    EXPECT_EQ(seed.ApplyTo(baseline, first).reconciled_cgroups, 1u);
  }
  const MapView later = {{7, Delta(kEstablished, 2, 2)}};
  ReconcileRound round(first);
  round.AddNamespace(first, Sockets(7, kInet, kEstablished, 2), later);  // raced its dump
  const auto result = round.ApplyTo(baseline, later);
  EXPECT_EQ(result.skipped_cgroups, 1u);
  EXPECT_EQ(result.skipped_unseeded_cgroups, 0u);
  EXPECT_FALSE(baseline.IsSeedPending(7));
}

TEST(TcpBaseline, CountsDriftOnLaterRounds) {
  TcpBaseline baseline;
  {
    ReconcileRound seed({});
    seed.AddNamespace({}, Sockets(3, kInet, kListen, 2), {});
    seed.ApplyTo(baseline, {});
  }
  // One listener closed but the event was lost (map full): the dump shows 1.
  ReconcileRound round({});
  round.AddNamespace({}, Sockets(3, kInet, kListen, 1), {});
  const auto result = round.ApplyTo(baseline, {});
  EXPECT_EQ(result.corrected_sockets, 1u);
  EXPECT_EQ(baseline.Current(3, ps_tcp_counts{})[kListen - 1], 1);
}

TEST(TcpBaseline, CgroupsAbsentFromEveryDumpGoToZero) {
  // BPF counted 2 listeners for cgroup 9, but no dump shows any: both were lost on close.
  TcpBaseline baseline;
  const MapView map = {{9, Delta(kListen, 2, 2)}};
  ReconcileRound round(map);
  round.AddNamespace(map, {}, map);
  round.ApplyTo(baseline, map);
  EXPECT_EQ(baseline.Current(9, map.at(9))[kListen - 1], 0);
  EXPECT_TRUE(baseline.IsEmpty(9, map.at(9)));
}

TEST(TcpBaseline, SumsACgroupAcrossNamespacesWhenItHeldStill) {
  TcpBaseline baseline;
  ReconcileRound round({});
  round.AddNamespace({}, Sockets(5, kInet, kListen, 1), {});
  round.AddNamespace({}, Sockets(5, kInet6, kListen, 2), {});
  round.ApplyTo(baseline, {});
  EXPECT_EQ(baseline.Current(5, ps_tcp_counts{})[kListen - 1], 3);
}

TEST(TcpBaseline, IgnoresStatesBpfDoesNotTrackAndSocketsWithoutCgroup) {
  TcpBaseline baseline;
  ReconcileRound round({});
  auto sockets = Sockets(5, kInet, kTimeWait, 4);      // timewait: counted per namespace
  const auto orphans = Sockets(0, kInet, kListen, 3);  // no cgroup id
  sockets.insert(sockets.end(), orphans.begin(), orphans.end());
  round.AddNamespace({}, sockets, {});
  const auto result = round.ApplyTo(baseline, {});
  EXPECT_EQ(result.reconciled_cgroups, 0u);
  EXPECT_EQ(baseline.size(), 0u);
}

TEST(TcpBaseline, NegativeTotalsAreClampedNotExported) {
  const TcpBaseline baseline;
  EXPECT_EQ(baseline.Current(1, Delta(kListen, -1, 1))[kListen - 1], 0);
  EXPECT_FALSE(baseline.IsEmpty(1, Delta(kListen, -1, 1)));
}

TEST(TcpBaseline, TrackedStatesMatchTheMask) {
  for (int state = 0; state < 16; ++state) {
    EXPECT_EQ(IsTrackedTcpState(state), ((kTrackedTcpStateMask >> state) & 1) != 0) << state;
  }
}

}  // namespace
}  // namespace podstat::sources

namespace podstat::sources {
namespace {

ReconcileRound::KindSet TcpAndUdp() {
  ReconcileRound::KindSet kinds{};
  kinds[PS_SOCK_TCP] = kinds[PS_SOCK_UDP] = true;
  return kinds;
}

netlink::DiagSocket Socket(uint64_t cgroup, uint8_t protocol, uint8_t state, uint32_t inode,
                           uint8_t family = 2) {
  return netlink::DiagSocket{family, state, cgroup, inode, protocol};
}

TEST(TcpBaseline, SeedsOpenSocketsOfTcpAndUdpFromTheDumps) {
  constexpr uint8_t kTcp = 6, kUdp = 17;
  TcpBaseline baseline;
  ReconcileRound round({}, TcpAndUdp());
  const std::vector<netlink::DiagSocket> sockets = {
      Socket(7, kTcp, 10, 100),     // listener
      Socket(7, kTcp, 1, 101),      // accepted
      Socket(7, kTcp, 1, 0),        // queued child: open, no inode yet
      Socket(7, kTcp, 4, 0),        // orphan in FIN_WAIT1: closed already, not open
      Socket(7, kUdp, 7, 102),      // bound UDP
      Socket(7, kUdp, 7, 103, 10),  // bound UDP6
      Socket(0, kUdp, 7, 104)};     // no cgroup: ignored
  round.AddNamespace({}, sockets, {});
  round.ApplyTo(baseline, {});
  const model::SocketCounts open = baseline.CurrentSockets(7, ps_tcp_counts{});
  EXPECT_EQ(open[PS_FAMILY_INET][PS_SOCK_TCP], 3);
  EXPECT_EQ(open[PS_FAMILY_INET][PS_SOCK_UDP], 1);
  EXPECT_EQ(open[PS_FAMILY_INET6][PS_SOCK_UDP], 1);
  // The state gauges are unchanged by the socket counting: the FIN_WAIT1 orphan is a socket in
  // that state all the same.
  EXPECT_EQ(baseline.Current(7, ps_tcp_counts{})[3], 1);
}

TEST(TcpBaseline, SocketCountsCorrectDriftOnlyForKindsTheRoundDumped) {
  constexpr uint8_t kTcp = 6;
  TcpBaseline baseline;
  ps_tcp_counts delta{};
  delta.sockets[PS_FAMILY_INET][PS_SOCK_TCP] = 5;  // BPF thinks 5 were opened
  delta.sockets[PS_FAMILY_INET][PS_SOCK_RAW] = 2;  // raw: no dump, left alone
  delta.count[PS_FAMILY_INET][10] = 1;             // the states agree with the dump below
  delta.count[PS_FAMILY_INET][1] = 1;
  delta.transitions = 7;
  const MapView view = {{9, delta}};
  ReconcileRound::KindSet tcp_only{};
  tcp_only[PS_SOCK_TCP] = true;
  ReconcileRound round(view, tcp_only);
  round.AddNamespace(view, std::vector{Socket(9, kTcp, 10, 1), Socket(9, kTcp, 1, 2)}, view);
  const auto result = round.ApplyTo(baseline, view);
  EXPECT_EQ(result.corrected_sockets, 3u);  // 5 -> 2
  const model::SocketCounts open = baseline.CurrentSockets(9, delta);
  EXPECT_EQ(open[PS_FAMILY_INET][PS_SOCK_TCP], 2);
  EXPECT_EQ(open[PS_FAMILY_INET][PS_SOCK_RAW], 2);
  EXPECT_FALSE(baseline.IsEmpty(9, delta));
}

// A round in which one namespace could not be dumped (no descriptor left, say): the cgroups it
// may hold keep their counts, nothing is set to zero, and only a cgroup no failed namespace can
// hold is corrected.
TEST(TcpBaseline, FailedNamespaceLeavesTheCgroupsItMayHoldAlone) {
  TcpBaseline baseline;
  {
    // Cgroup 5 has 3 listeners in each of namespaces A and B; cgroup 9 has 2 in C; cgroup 7 has
    // 1 in A.
    ReconcileRound seed({}, {}, /*seed_round=*/true);
    seed.AddNamespace({}, Sockets(5, kInet, kListen, 3), {});
    seed.AddNamespace({}, Sockets(5, kInet, kListen, 3), {});
    seed.AddNamespace({}, Sockets(9, kInet, kListen, 2), {});
    seed.AddNamespace({}, Sockets(7, kInet, kListen, 1), {});
    seed.ApplyTo(baseline, {});
  }
  // Cgroup 11 opened a socket since (BPF counted it) in a namespace that now fails too.
  const MapView map = {{11, Delta(kEstablished, 1, 1)}};
  ReconcileRound round(map);
  auto in_a = Sockets(5, kInet, kListen, 3);
  const auto lost = Sockets(7, kInet, kListen, 2);  // one listen event was lost: drift
  in_a.insert(in_a.end(), lost.begin(), lost.end());
  round.AddNamespace(map, in_a, map);
  const std::vector<uint64_t> b_may_hold = {5, 11};
  round.AddFailed(b_may_hold);  // B: its processes are in cgroup 5 and 11
  round.AddFailed({});          // C: no process left, never seen: nothing known
  const auto result = round.ApplyTo(baseline, map);
  EXPECT_EQ(baseline.Current(5, ps_tcp_counts{})[kListen - 1], 6);   // not 3
  EXPECT_EQ(baseline.Current(9, ps_tcp_counts{})[kListen - 1], 2);   // not 0
  EXPECT_EQ(baseline.Current(11, map.at(11))[kEstablished - 1], 1);  // not 0
  EXPECT_EQ(baseline.Current(7, ps_tcp_counts{})[kListen - 1], 2);   // corrected
  EXPECT_EQ(result.corrected_sockets, 1u);
  EXPECT_EQ(result.reconciled_cgroups, 1u);
  EXPECT_EQ(result.deferred_cgroups, 3u);
}

TEST(TcpBaseline, FailedNamespaceOfUnknownCgroupsDefersEveryCgroup) {
  TcpBaseline baseline;
  {
    ReconcileRound seed({}, {}, /*seed_round=*/true);
    seed.AddNamespace({}, Sockets(5, kInet, kListen, 3), {});
    seed.ApplyTo(baseline, {});
  }
  ReconcileRound round({});
  round.AddNamespace({}, Sockets(5, kInet, kListen, 1), {});
  round.AddFailedUnknown();
  const auto result = round.ApplyTo(baseline, {});
  EXPECT_EQ(baseline.Current(5, ps_tcp_counts{})[kListen - 1], 3);
  EXPECT_EQ(result.corrected_sockets, 0u);
  EXPECT_EQ(result.deferred_cgroups, 1u);
}

// A cgroup that was busy during the seed (the agent's own HTTP listener opens while the first
// round runs) gets its baseline a round later: that is its seed, not lost events.
TEST(TcpBaseline, SeedDeferredForABusyCgroupIsNotDrift) {
  TcpBaseline baseline;
  const MapView before = {{7, Delta(kListen, 0, 1)}};
  const MapView after = {{7, Delta(kListen, 1, 3)}};
  {
    ReconcileRound seed(before, {}, /*seed_round=*/true);
    seed.AddNamespace(before, Sockets(7, kInet, kListen, 4), after);
    const auto result = seed.ApplyTo(baseline, after);
    EXPECT_EQ(result.skipped_cgroups, 1u);
    EXPECT_EQ(result.skipped_unseeded_cgroups, 1u);  // so the source retries soon
  }
  EXPECT_TRUE(baseline.IsSeedPending(7));
  {
    // Four listeners from before the agent and the one it saw open.
    ReconcileRound retry(after);
    retry.AddNamespace(after, Sockets(7, kInet, kListen, 5), after);
    const auto result = retry.ApplyTo(baseline, after);
    EXPECT_EQ(result.corrected_sockets, 0u);
    EXPECT_EQ(result.seeded_sockets, 4u);
    EXPECT_EQ(result.reconciled_cgroups, 1u);
  }
  EXPECT_FALSE(baseline.IsSeedPending(7));
  EXPECT_EQ(baseline.Current(7, after.at(7))[kListen - 1], 5);
  {
    // From now on a difference is a lost event.
    ReconcileRound later(after);
    later.AddNamespace(after, Sockets(7, kInet, kListen, 4), after);
    EXPECT_EQ(later.ApplyTo(baseline, after).corrected_sockets, 1u);
  }
}

// A namespace listed at the seed that could not be dumped then: its sockets predate the agent,
// so its first good dump seeds the cgroups it holds.
TEST(TcpBaseline, FirstDumpOfANamespaceMissedAtTheSeedIsASeed) {
  TcpBaseline baseline;
  {
    ReconcileRound seed({}, {}, /*seed_round=*/true);
    seed.AddNamespace({}, Sockets(5, kInet, kListen, 3), {});
    const std::vector<uint64_t> may_hold = {5};
    seed.AddFailed(may_hold);
    const auto result = seed.ApplyTo(baseline, {});
    EXPECT_EQ(result.deferred_cgroups, 1u);
  }
  EXPECT_TRUE(baseline.IsSeedPending(5));
  ReconcileRound retry({});
  retry.AddNamespace({}, Sockets(5, kInet, kListen, 3), {});
  retry.AddNamespace({}, Sockets(5, kInet, kListen, 2), {}, /*first_since_seed=*/true);
  retry.AddNamespace({}, Sockets(8, kInet, kListen, 2), {}, /*first_since_seed=*/true);
  const auto result = retry.ApplyTo(baseline, {});
  EXPECT_EQ(result.corrected_sockets, 0u);
  EXPECT_EQ(result.seeded_sockets, 7u);
  EXPECT_EQ(baseline.Current(5, ps_tcp_counts{})[kListen - 1], 5);
}

}  // namespace
}  // namespace podstat::sources
