// CPU and memory per container, against the kernel's own accounting: a real process allocates,
// gets OOM-killed, burns CPU, inside a container-shaped cgroup (/docker/<id>) present in the v2
// hierarchy and, on hybrid hosts, in the v1 memory and cpuacct hierarchies at the same path, as
// Docker lays it out.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "podstat/procfs/mountinfo.h"
#include "podstat/util/file.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t kMiB = 1 << 20;

std::string RandomContainerId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 64; ++i) id += "0123456789abcdef"[random() % 16];
  return id;
}

// /docker/<id> in every hierarchy that matters here; removed (with "docker" if we made it).
class ContainerCgroup {
 public:
  ContainerCgroup() : id_(RandomContainerId()) {
    const auto mounts = procfs::ParseMountInfo(ReadFile("/proc/self/mountinfo").value_or(""));
    roots_.push_back(CgroupV2Mount());
    for (const char* controller : {"memory", "cpuacct"}) {
      if (auto root = procfs::FindCgroup1Mount(mounts, controller)) roots_.push_back(*root);
    }
    for (const std::string& root : roots_) {
      if (::mkdir((root + "/docker").c_str(), 0755) == 0) made_parents_.push_back(root + "/docker");
      EXPECT_EQ(::mkdir(Dir(root).c_str(), 0755), 0) << Dir(root) << ": " << std::strerror(errno);
    }
  }
  ~ContainerCgroup() {
    for (const std::string& root : roots_) {
      // EBUSY while the killed process is still leaving.
      int error = 0;
      const bool removed = PollUntil([&] {
        error = ::rmdir(Dir(root).c_str()) == 0 ? 0 : errno;
        return error != EBUSY;
      });
      if (!removed || (error != 0 && error != ENOENT)) {
        ADD_FAILURE() << "cannot remove " << Dir(root) << ": " << std::strerror(error);
      }
    }
    for (const std::string& parent : made_parents_) ::rmdir(parent.c_str());
  }
  const std::string& id() const { return id_; }
  std::string Dir(const std::string& root) const { return root + "/docker/" + id_; }
  std::optional<std::string> V1(const std::string& controller) const {
    const auto mounts = procfs::ParseMountInfo(ReadFile("/proc/self/mountinfo").value_or(""));
    const auto root = procfs::FindCgroup1Mount(mounts, controller);
    if (!root) return std::nullopt;
    return Dir(*root);
  }
  // Called in the child: join every hierarchy.
  void Join() const {
    for (const std::string& root : roots_) {
      std::ofstream(Dir(root) + "/cgroup.procs") << ::getpid() << std::flush;
    }
  }

 private:
  std::string id_;
  std::vector<std::string> roots_;
  std::vector<std::string> made_parents_;
};

// Kills and reaps a forked child however the test ends (an ASSERT returns early).
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  // The test reaped it itself.
  void Release() { pid_ = -1; }

 private:
  pid_t pid_;
};

// In a forked child: `threads` threads spin for `duration`, then all are joined.
void BurnThreads(int threads, std::chrono::milliseconds duration) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&stop] {
      volatile uint64_t spin = 0;
      while (!stop.load(std::memory_order_relaxed)) spin = spin + 1;
    });
  }
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& worker : workers) worker.join();
}

std::optional<double> Scrape(const Agent& agent, const std::string& metric,
                             const std::string& container_id) {
  return FindSample(ParseExposition(agent.Scrape()), metric, {{"container_id", container_id}});
}

// Scrapes until predicate(value) holds or kConditionTimeout passes; returns the last value.
template <typename Predicate>
std::optional<double> ScrapeUntil(const Agent& agent, const std::string& metric,
                                  const std::string& id, Predicate predicate) {
  std::optional<double> value;
  PollUntil(
      [&] {
        value = Scrape(agent, metric, id);
        return value && predicate(*value);
      },
      kConditionTimeout, 50ms);
  return value;
}

TEST(AgentCgroupStatsTest, SixtyFourMebibytesShowUpInUsageAndRss) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    auto* block = static_cast<char*>(std::malloc(64 * kMiB));
    std::memset(block, 1, 64 * kMiB);  // touch every page: resident, anonymous
    (void)!::write(ready[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  ChildGuard guard(child);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto rss = ScrapeUntil(agent, "container_memory_rss", cgroup.id(),
                               [](double v) { return v >= 64 * kMiB; });
  const auto usage = Scrape(agent, "container_memory_usage_bytes", cgroup.id());
  const auto working_set = Scrape(agent, "container_memory_working_set_bytes", cgroup.id());
  ASSERT_TRUE(rss && usage && working_set) << agent.Stderr();
  EXPECT_GE(*rss, 64.0 * kMiB);
  EXPECT_LT(*rss, 80.0 * kMiB) << "64 MiB plus a forked test binary's own pages";
  EXPECT_GE(*usage, *rss);
  EXPECT_LE(*working_set, *usage);
  std::printf("64 MiB allocated: rss %.1f MiB, usage %.1f MiB, working set %.1f MiB\n", *rss / kMiB,
              *usage / kMiB, *working_set / kMiB);
}

TEST(AgentCgroupStatsTest, ExceedingA32MebibyteLimitIsAnOomKill) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  const auto v1_memory = cgroup.V1("memory");
  const std::string limit_file = v1_memory ? *v1_memory + "/memory.limit_in_bytes"
                                           : cgroup.Dir(CgroupV2Mount()) + "/memory.max";
  std::ofstream(limit_file) << 32 * kMiB << std::flush;
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    auto* block = static_cast<char*>(std::malloc(64 * kMiB));
    std::memset(block, 1, 64 * kMiB);  // the OOM killer stops this half way
    ::_exit(0);
  }
  ChildGuard guard(child);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  guard.Release();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child should have been OOM-killed: " << DescribeWaitStatus(status);
  const auto kills =
      ScrapeUntil(agent, "container_oom_kills_total", cgroup.id(), [](double v) { return v >= 1; });
  EXPECT_EQ(kills, 1.0) << agent.Stderr();
  EXPECT_EQ(Scrape(agent, "container_spec_memory_limit_bytes", cgroup.id()), 32.0 * kMiB);
}

TEST(AgentCgroupStatsTest, CpuUsageAgreesWithTheKernelsAccounting) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  const auto cpuacct = cgroup.V1("cpuacct");
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  constexpr int kThreads = 2;
  constexpr auto kBurn = 1500ms;
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    BurnThreads(kThreads, kBurn);
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);  // the kernel's per-process account of the same work
    const double seconds = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    (void)!::write(done[1], &seconds, sizeof(seconds));
    ::pause();
    ::_exit(0);
  }
  ChildGuard guard(child);
  double rusage_seconds = 0;
  ASSERT_EQ(::read(done[0], &rusage_seconds, sizeof(rusage_seconds)),
            static_cast<ssize_t>(sizeof(rusage_seconds)));
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto usage = ScrapeUntil(agent, "container_cpu_usage_seconds_total", cgroup.id(),
                                 [](double v) { return v > 0; });
  const auto user = Scrape(agent, "container_cpu_user_seconds_total", cgroup.id());
  const auto system = Scrape(agent, "container_cpu_system_seconds_total", cgroup.id());
  std::optional<double> cpuacct_seconds;
  if (cpuacct) {
    if (const auto text = ReadFile(*cpuacct + "/cpuacct.usage")) {
      cpuacct_seconds = std::stod(*text) / 1e9;
    }
  }
  ASSERT_TRUE(usage && user && system) << agent.Stderr();
  const double wall_threads = kThreads * std::chrono::duration<double>(kBurn).count();
  std::printf(
      "CPU: podstat %.3f s (user %.3f, system %.3f), child rusage %.3f s, cpuacct %s s, "
      "wall x threads %.3f s\n",
      *usage, *user, *system, rusage_seconds,
      cpuacct_seconds ? std::to_string(*cpuacct_seconds).c_str() : "n/a", wall_threads);
  EXPECT_NEAR(*usage, rusage_seconds, 0.10 * rusage_seconds);
  if (cpuacct_seconds) {
    EXPECT_NEAR(*usage, *cpuacct_seconds, 0.10 * *cpuacct_seconds);
  }
  // The agreement above is the test; this only says the burn really ran (other work on a
  // 2-core machine may take a share of the cores, so no tighter lower bound holds).
  EXPECT_GT(*usage, 0.25 * wall_threads);
  EXPECT_LT(*usage, 1.10 * wall_threads);
  EXPECT_NEAR(*user + *system, *usage, 0.10 * *usage);
}

// Agent first, then two busy threads sharing one CPU for 1 s: usage accrues through the
// sched_switch program, and each thread waits while the other runs.
TEST(AgentCgroupStatsTest, RunQueueWaitOfTwoThreadsSharingOneCpu) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  const auto cpuacct = cgroup.V1("cpuacct");
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ASSERT_NE(agent.Stderr().find("sched_switch"), std::string::npos)
      << "the CPU program should be attached:\n"
      << agent.Stderr();
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    cpu_set_t one{};
    CPU_SET(0, &one);
    ::sched_setaffinity(0, sizeof(one), &one);  // threads inherit it
    BurnThreads(2, 1000ms);
    (void)!::write(done[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  ChildGuard guard(child);
  char byte;
  ASSERT_EQ(::read(done[0], &byte, 1), 1);
  const auto usage = ScrapeUntil(agent, "container_cpu_usage_seconds_total", cgroup.id(),
                                 [](double v) { return v > 0.8; });
  const auto wait = Scrape(agent, "container_cpu_runqueue_wait_seconds_total", cgroup.id());
  std::optional<double> cpuacct_seconds;
  if (cpuacct) {
    if (const auto text = ReadFile(*cpuacct + "/cpuacct.usage")) {
      cpuacct_seconds = std::stod(*text) / 1e9;
    }
  }
  ASSERT_TRUE(usage && wait) << agent.Stderr();
  std::printf("one CPU, two threads, 1 s: usage %.3f s (cpuacct %s s), run-queue wait %.3f s\n",
              *usage, cpuacct_seconds ? std::to_string(*cpuacct_seconds).c_str() : "n/a", *wait);
  // One CPU for 1 s: about 1 s of CPU in all, and each thread waits while the other runs, so
  // the wait is about as long as the usage; other load on CPU 0 only adds wait.
  EXPECT_GT(*usage, 0.8);
  EXPECT_LT(*usage, 1.1);
  if (cpuacct_seconds) {
    EXPECT_NEAR(*usage, *cpuacct_seconds, 0.10 * *cpuacct_seconds);
  }
  EXPECT_GT(*wait, 0.6 * *usage);
  EXPECT_LT(*wait, 2.0 * *usage);
}

TEST(AgentCgroupStatsTest, ProcessCollectorNamesTheBusiestProcess) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    ::prctl(PR_SET_NAME, "pst burner");
    const auto until = std::chrono::steady_clock::now() + 400ms;
    volatile uint64_t spin = 0;
    while (std::chrono::steady_clock::now() < until) spin = spin + 1;
    (void)!::write(ready[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  ChildGuard guard(child);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  Agent agent({"--collector.process", "--collector.process.top=3"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto samples = ParseExposition(agent.Scrape());
  const auto user = FindSample(samples, "container_process_cpu_seconds_total",
                               {{"container_id", cgroup.id()},
                                {"pid", std::to_string(child)},
                                {"comm", "pst burner"},
                                {"mode", "user"}});
  const auto rss = FindSample(samples, "container_process_resident_memory_bytes",
                              {{"container_id", cgroup.id()}, {"pid", std::to_string(child)}});
  // Ground truth: the kernel's own numbers for the process, read now.
  const std::string stat = ReadFile("/proc/" + std::to_string(child) + "/stat").value_or("");
  ASSERT_TRUE(user && rss) << agent.Stderr();
  const auto fields = stat.substr(stat.rfind(')') + 2);
  std::istringstream in(fields);
  std::string skip;
  for (int i = 0; i < 11; ++i) in >> skip;  // state .. cmajflt: utime is field 14
  double utime_ticks = 0;
  in >> utime_ticks;
  const double utime = utime_ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_NEAR(*user, utime, 0.02) << "one tick of slack";
  EXPECT_GT(*user, 0.3);
  EXPECT_GT(*rss, 0);
}

}  // namespace
}  // namespace podstat::testing
