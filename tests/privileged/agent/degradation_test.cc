// Degradation under a full BPF map: the brief's "a full BPF map gets a counted, logged
// degradation, never lost data elsewhere". With ps_tcp_states far smaller than the number of
// cgroups making sockets, the program must count map_full drops, and sock_diag reconciliation must
// still bring every cgroup's numbers to the truth, counting the correction as drift.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kCgroups = 24;  // more than the 16-entry map can hold

TEST(AgentDegradationTest, FullMapIsCountedAndReconciliationRestoresTruth) {
  PODSTAT_REQUIRE_PRIVILEGES();
  // 16 is the smallest map the flag accepts; the agent raises it to twice the cgroups present at
  // start, so make sure that is not more (the test creates its cgroups after the agent starts).
  Agent agent({"--bpf.max-cgroups=16", "--bpf.reconcile-interval=1s", "--sample.max-age=0s"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  if (agent.Stderr().find("sized for 16 cgroups") == std::string::npos) {
    GTEST_SKIP() << "this host has too many cgroups for a 16-entry map test:\n" << agent.Stderr();
  }

  std::vector<std::unique_ptr<TestCgroup>> cgroups;
  std::vector<std::unique_ptr<SocketWorkload>> workloads;
  for (int i = 0; i < kCgroups; ++i) {
    cgroups.push_back(std::make_unique<TestCgroup>());
    workloads.push_back(std::make_unique<SocketWorkload>(*cgroups.back(), Netns::kOwn));
    workloads.back()->Listen(1);
    workloads.back()->Established(1);
  }

  // Every cgroup converges on the truth (1 listener, 2 established) within a few reconciliation
  // rounds, whether or not BPF had room for it.
  const auto deadline = std::chrono::steady_clock::now() + kConditionTimeout;
  std::string wrong;
  for (;;) {
    wrong.clear();
    const std::vector<Sample> samples = ParseExposition(agent.Scrape());
    for (int i = 0; i < kCgroups; ++i) {
      const TcpStateCounts truth = workloads[static_cast<size_t>(i)]->Truth();
      for (const char* state : {"listen", "established", "syn_recv", "close_wait"}) {
        const auto got =
            FindSample(samples, "container_tcp_sockets",
                       {{"id", cgroups[static_cast<size_t>(i)]->id()}, {"state", state}});
        const auto want = truth.count(state) ? truth.at(state) : 0;
        if (!got || *got != static_cast<double>(want)) {
          wrong += "  " + cgroups[static_cast<size_t>(i)]->id() + " " + state + ": agent " +
                   (got ? std::to_string(*got) : "absent") + ", /proc " + std::to_string(want) +
                   "\n";
        }
      }
    }
    if (wrong.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(wrong.empty()) << "cgroups whose counts never reached the truth:\n" << wrong;

  const std::vector<Sample> samples = ParseExposition(agent.Scrape());
  const auto map_full = FindSample(samples, "podstat_bpf_drops_total", {{"reason", "map_full"}});
  ASSERT_TRUE(map_full.has_value());
  EXPECT_GT(*map_full, 0) << "a 16-entry map cannot hold " << kCgroups << " cgroups' events";
  const auto drift = FindSample(samples, "podstat_socket_drift_total", {});
  ASSERT_TRUE(drift.has_value());
  EXPECT_GT(*drift, 0) << "the sockets BPF could not count were restored by reconciliation";
}

}  // namespace
}  // namespace podstat::testing
