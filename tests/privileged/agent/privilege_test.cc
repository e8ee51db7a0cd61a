// The podstat binary's start-up and life as a node agent in a hostile place: only the
// capabilities it needs (and fewer after attach), a private cgroup namespace, SIGHUP, bad flags
// refused before anything is loaded.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

// "CapEff:\t0000000000280004" of /proc/<pid>/task/<tid>/status, per thread.
std::vector<uint64_t> ThreadCapabilities(pid_t pid, const std::string& field) {
  std::vector<uint64_t> sets;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with(field + ":")) {
        sets.push_back(std::stoull(line.substr(field.size() + 1), nullptr, 16));
      }
    }
  }
  return sets;
}

uint64_t Bit(int capability) { return uint64_t{1} << capability; }

// What the agent keeps after attach (privilege::Needs(), the lifetime ones).
const uint64_t kLifetime = Bit(CAP_SYS_ADMIN) | Bit(CAP_SYS_PTRACE) | Bit(CAP_DAC_READ_SEARCH);
// What it needs to start with everything attached: before 5.11 eBPF maps are charged to
// RLIMIT_MEMLOCK, which libbpf raises with CAP_SYS_RESOURCE.
uint64_t StartCapabilities() {
  uint64_t needs = kLifetime | Bit(CAP_BPF) | Bit(CAP_PERFMON) | Bit(CAP_NET_ADMIN);
  utsname name{};
  int major = 0, minor = 0;
  if (::uname(&name) == 0 && std::sscanf(name.release, "%d.%d", &major, &minor) == 2 &&
      (major < 5 || (major == 5 && minor < 11))) {
    needs |= Bit(CAP_SYS_RESOURCE);
  }
  return needs;
}

// Every capability this kernel knows but those in `keep`, to drop from the agent's bounding set
// (what `capsh --drop=` does) before it is exec'd as uid 0.
std::vector<int> AllBut(uint64_t keep) {
  int last = 0;
  std::ifstream("/proc/sys/kernel/cap_last_cap") >> last;
  std::vector<int> dropped;
  for (int capability = 0; capability <= last; ++capability) {
    if (!(keep & Bit(capability))) dropped.push_back(capability);
  }
  return dropped;
}

bool Contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

void ExpectEveryProgramAttached(const std::vector<Sample>& samples) {
  const auto attached = SamplesNamed(samples, "podstat_bpf_program_attached");
  ASSERT_FALSE(attached.empty()) << "no podstat_bpf_program_attached series";
  int ones = 0;
  for (const Sample& sample : attached) ones += sample.value == 1;
  EXPECT_GE(ones, 2) << "want the socket and the CPU programs attached";
}

// The agent keeps CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH after attach and nothing
// else, in every thread and in the bounding set. Before: every capability, for its whole life.
TEST(AgentPrivilegeTest, AfterAttachOnlyTheLifetimeCapabilitiesRemain) {
  PODSTAT_REQUIRE_PRIVILEGES();
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ExpectEveryProgramAttached(ParseExposition(agent.Scrape()));
  for (const char* field : {"CapEff", "CapPrm", "CapBnd"}) {
    const auto sets = ThreadCapabilities(agent.pid(), field);
    ASSERT_GT(sets.size(), 1u) << "the agent should run several threads by now";
    for (const uint64_t set : sets) {
      EXPECT_EQ(set & ~kLifetime, 0u)
          << field << " " << std::hex << set << " holds more than " << kLifetime;
    }
  }
  for (const uint64_t set : ThreadCapabilities(agent.pid(), "CapInh")) EXPECT_EQ(set, 0u);
  EXPECT_TRUE(Contains(agent.Stderr(), "capabilities reduced to")) << agent.Stderr();
}

// Started with only the capabilities in `start` (the rest dropped from the bounding set before
// exec, as capsh --drop does), the agent attaches every program, seeds socket counts through
// setns + sock_diag in a container's network namespace, and reports no capability missing.
void ExpectFullAgentWith(uint64_t start) {
  TestCgroup cgroup;
  SocketWorkload workload(cgroup, Netns::kOwn);
  workload.Listen(2);
  workload.Established(1);  // + the shared listener
  Agent agent({}, 0, AllBut(start));
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto held = ThreadCapabilities(agent.pid(), "CapBnd");
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held.front() & ~start, 0u) << "the bounding set was not restricted";
  const auto samples = ParseExposition(agent.Scrape());
  ExpectEveryProgramAttached(samples);
  EXPECT_EQ(
      FindSample(samples, "container_tcp_sockets", {{"id", cgroup.id()}, {"state", "listen"}}), 3)
      << agent.Stderr();
  EXPECT_EQ(
      FindSample(samples, "container_tcp_sockets", {{"id", cgroup.id()}, {"state", "established"}}),
      2);
  EXPECT_FALSE(Contains(agent.Stderr(), "level=warn component=main msg=\"no cap_"))
      << "a documented capability was reported missing:\n"
      << agent.Stderr();
  EXPECT_FALSE(Contains(agent.Stderr(), "capabilities not dropped")) << agent.Stderr();
}

// Exactly the capabilities privilege::Needs() lists.
TEST(AgentPrivilegeTest, RunsFullyWithExactlyTheDocumentedCapabilities) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ExpectFullAgentWith(StartCapabilities());
}

// The DaemonSet's set (deploy/kubernetes/daemonset.yaml): without CAP_BPF and CAP_PERFMON, which
// CAP_SYS_ADMIN (kept for setns) passes in the kernel's bpf_capable() and perfmon_capable().
// Before, the agent reported both missing and --check failed, though every program attached.
TEST(AgentPrivilegeTest, RunsFullyWithTheDaemonSetsCapabilities) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ExpectFullAgentWith(StartCapabilities() & ~(Bit(CAP_BPF) | Bit(CAP_PERFMON)));
}

// Started inside a private cgroup namespace (as `unshare -C`, containerd's default for
// non-privileged pods on cgroup v2, does), the agent enters the host's. Before: every other
// process's cgroup read "0::/..", and the series podstat attributes through a process's cgroup
// (TIME_WAIT and sockstat of a network namespace) vanished from the workload's cgroup.
TEST(AgentPrivilegeTest, LeavesAPrivateCgroupNamespaceForTheHosts) {
  PODSTAT_REQUIRE_PRIVILEGES();
  TestCgroup workload_cgroup;
  SocketWorkload workload(workload_cgroup, Netns::kOwn);
  workload.Listen(1);
  workload.TimeWait(2);
  TestCgroup agent_cgroup;  // the namespace's root; declared after, so the agent dies first
  // util-linux's unshare: a busybox one (first in PATH in the kernel matrix's guests) has no -C.
  const std::string unshare =
      std::filesystem::is_symlink("/usr/bin/unshare") ? "unshare" : "/usr/bin/unshare";
  Agent agent(
      {}, 0, {},
      {"sh", "-c",
       "echo $$ > " + agent_cgroup.dir() + "/cgroup.procs && exec " + unshare + " -C \"$@\"",
       "sh"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  EXPECT_TRUE(Contains(agent.Stderr(), "started in a private cgroup namespace")) << agent.Stderr();
  const Labels time_wait = {{"id", workload_cgroup.id()}, {"state", "time_wait"}};
  EXPECT_TRUE(PollUntil([&] {
    return FindSample(ParseExposition(agent.Scrape()), "container_tcp_sockets", time_wait) == 2;
  })) << "TIME_WAIT of the workload's namespace never reached its cgroup:\n"
      << agent.Stderr();
}

// SIGHUP re-reads container names and keeps the agent running. Before: it killed the agent
// without cleanup (no detach, no unpinning, a scrape gap).
TEST(AgentPrivilegeTest, SighupReloadsInsteadOfKilling) {
  PODSTAT_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  WaitUntil([&] { return Contains(agent.Stderr(), "received SIGHUP"); }, "the SIGHUP log line");
  EXPECT_FALSE(agent.WaitExit(100ms).has_value()) << "podstat exited on SIGHUP";
  EXPECT_EQ(agent.Get("/healthz").status, 200);
}

// A period of 0 is refused at once. Before: --sample.interval=0s made the sampler spin.
TEST(AgentPrivilegeTest, ZeroPeriodsAreRefusedBeforeStarting) {
  PODSTAT_REQUIRE_ROOT();
  for (const char* flag :
       {"--sample.interval=0s", "--metadata.refresh-interval=0s", "--bpf.reconcile-interval=0s"}) {
    Agent agent({flag});
    const std::optional<int> status = agent.WaitExit(kConditionTimeout);
    ASSERT_TRUE(status.has_value()) << flag << " was accepted:\n" << agent.Stderr();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << DescribeWaitStatus(*status);
    EXPECT_TRUE(Contains(agent.Stderr(), "must be at least")) << agent.Stderr();
  }
}

// A receiver pattern that does not compile is refused before eBPF is loaded. Before: after the
// programs were loaded and attached and the first collection had run.
TEST(AgentPrivilegeTest, BadReceiverPatternIsRefusedBeforeLoading) {
  PODSTAT_REQUIRE_ROOT();
  Agent agent({"--receiver.enable", "--receiver.allow-metric=container_(", "--log.level=debug"});
  const std::optional<int> status = agent.WaitExit(kConditionTimeout);
  ASSERT_TRUE(status.has_value()) << agent.Stderr();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << DescribeWaitStatus(*status);
  EXPECT_TRUE(Contains(agent.Stderr(), "invalid --receiver.allow-metric")) << agent.Stderr();
  EXPECT_FALSE(Contains(agent.Stderr(), "component=bpf")) << agent.Stderr();
}

}  // namespace
}  // namespace podstat::testing
