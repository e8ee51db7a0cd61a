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
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "podstat/procfs/mountinfo.h"
#include "podstat/sources/sources.h"
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
    // cgroup v2 hands a controller down one level at a time: Docker enables in /docker what its
    // containers get. Pure v2 enables memory, cpu, io... at the root; the hybrid host enables
    // none, and then this does nothing.
    const std::string v2 = roots_.front();
    std::istringstream enabled(ReadFile(v2 + "/cgroup.subtree_control").value_or(""));
    for (std::string controller; enabled >> controller;) {
      std::ofstream(v2 + "/docker/cgroup.subtree_control") << "+" << controller << std::flush;
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

// Empty when this machine accounts memory per cgroup (a v1 memory hierarchy, or memory enabled
// for the v2 root's children), else why not: hybrid mode on a kernel built without
// CONFIG_MEMCG_V1 (Debian's 6.12 and later) has no memory controller at all.
std::string MissingMemoryController() {
  const auto mounts = procfs::ParseMountInfo(ReadFile("/proc/self/mountinfo").value_or(""));
  if (procfs::FindCgroup1Mount(mounts, "memory")) return {};
  std::istringstream enabled(ReadFile(CgroupV2Mount() + "/cgroup.subtree_control").value_or(""));
  for (std::string controller; enabled >> controller;) {
    if (controller == "memory") return {};
  }
  return "no memory controller: no v1 memory hierarchy, and memory not enabled in the v2 root's "
         "cgroup.subtree_control (hybrid mode on a kernel without CONFIG_MEMCG_V1)";
}

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

// Forks a child that joins its cgroup (join runs in the child), touches `bytes` of anonymous
// memory, says so, and waits to be killed; returns once the memory is touched.
pid_t ForkHoldingMemory(uint64_t bytes, const std::function<void()>& join) {
  int ready[2];
  if (::pipe(ready) != 0) throw std::runtime_error("pipe");
  const pid_t child = ::fork();
  if (child == 0) {
    join();
    auto* block = static_cast<char*>(std::malloc(bytes));
    std::memset(block, 1, bytes);  // touch every page: resident, anonymous
    // The block is never read: without this the compiler may drop the malloc and the memset.
    asm volatile("" : : "r"(block) : "memory");
    (void)!::write(ready[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  const bool touched = child > 0 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  ::close(ready[1]);
  if (!touched) throw std::runtime_error("the child holding memory did not start");
  return child;
}

// CPU time the calling thread (or, for kProcess, its whole process) has used so far.
enum class CpuClock { kThread = CLOCK_THREAD_CPUTIME_ID, kProcess = CLOCK_PROCESS_CPUTIME_ID };
std::chrono::nanoseconds CpuTime(CpuClock clock) {
  timespec now{};
  ::clock_gettime(static_cast<clockid_t>(clock), &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// Spins until the thread (or process) has used `cpu` of CPU time. A target in CPU time, not wall
// time, so the work done is the same on a loaded machine or in a slow guest (whose vCPU the host
// may not run while the guest's clock goes on).
// The clock is read between rounds of a million increments (about a millisecond): reading a CPU
// clock is a system call, and the spin is meant to be user time.
void Spin(std::chrono::nanoseconds cpu, CpuClock clock = CpuClock::kThread) {
  const auto until = CpuTime(clock) + cpu;
  volatile uint64_t spin = 0;
  while (CpuTime(clock) < until) {
    for (int i = 0; i < 1000000; ++i) spin = spin + 1;
  }
}

// In a forked child: `threads` threads each spin for `cpu_each` of CPU time, then are joined.
void BurnThreads(int threads, std::chrono::milliseconds cpu_each) {
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([cpu_each] { Spin(cpu_each); });
  for (auto& worker : workers) worker.join();
}

// Forks a child into `cgroup` pinned to CPU 0 whose `threads` threads each spin `cpu_each` of
// CPU time; returns its pid once they are done (it then waits to be killed: ChildGuard).
pid_t BurnOnOneCpu(const ContainerCgroup& cgroup, int threads, std::chrono::milliseconds cpu_each) {
  int done[2];
  if (::pipe(done) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    cpu_set_t one{};
    CPU_SET(0, &one);
    ::sched_setaffinity(0, sizeof(one), &one);  // threads inherit it
    BurnThreads(threads, cpu_each);
    (void)!::write(done[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  char byte;
  const bool burned = child > 0 && ::read(done[0], &byte, 1) == 1;
  ::close(done[0]);
  ::close(done[1]);
  if (!burned) {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    throw std::runtime_error("the CPU burner did not start");
  }
  return child;
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
  PODSTAT_REQUIRE_ROOT();
  PODSTAT_SKIP_IF_MISSING(MissingMemoryController(), "nothing to measure");
  ContainerCgroup cgroup;
  ChildGuard guard(ForkHoldingMemory(64 * kMiB, [&] { cgroup.Join(); }));
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  // The kernel's own count: v1 total_rss, v2 anon. Its per-CPU statistics are folded in batches
  // of up to 64 pages per CPU (MEMCG_CHARGE_BATCH), so it may trail the 64 MiB touched by as much
  // (5.10 does, by 32 KiB), and podstat reads what the kernel says.
  const auto v1_memory = cgroup.V1("memory");
  auto kernel_rss = [&] {
    std::istringstream stat(
        ReadFile((v1_memory ? *v1_memory : cgroup.Dir(CgroupV2Mount())) + "/memory.stat")
            .value_or(""));
    for (std::string key; stat >> key;) {
      double value = 0;
      stat >> value;
      if (key == (v1_memory ? "total_rss" : "anon")) return value;
    }
    return 0.0;
  };
  const double batch_slack = 64.0 * 4096 * std::thread::hardware_concurrency();
  const auto rss = ScrapeUntil(agent, "container_memory_rss", cgroup.id(), [&](double v) {
    return v >= 64 * kMiB - batch_slack && v == kernel_rss();
  });
  const auto usage = Scrape(agent, "container_memory_usage_bytes", cgroup.id());
  const auto working_set = Scrape(agent, "container_memory_working_set_bytes", cgroup.id());
  ASSERT_TRUE(rss && usage && working_set) << agent.Stderr();
  EXPECT_EQ(*rss, kernel_rss()) << "the kernel's own count, read after the scrape";
  EXPECT_GE(*rss, 64.0 * kMiB - batch_slack);
  EXPECT_LT(*rss, 80.0 * kMiB) << "64 MiB plus a forked test binary's own pages";
  EXPECT_GE(*usage, *rss);
  EXPECT_LE(*working_set, *usage);
  std::printf("64 MiB allocated: rss %.1f MiB, usage %.1f MiB, working set %.1f MiB\n", *rss / kMiB,
              *usage / kMiB, *working_set / kMiB);
}

TEST(AgentCgroupStatsTest, ExceedingA32MebibyteLimitIsAnOomKill) {
  PODSTAT_REQUIRE_ROOT();
  PODSTAT_SKIP_IF_MISSING(MissingMemoryController(), "nothing to measure");
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
    std::memset(block, 1, 64 * kMiB);            // the OOM killer stops this half way
    asm volatile("" : : "r"(block) : "memory");  // never read: keep the compiler from dropping it
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
  PODSTAT_REQUIRE_ROOT();
  ContainerCgroup cgroup;
  const auto cpuacct = cgroup.V1("cpuacct");
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  constexpr int kThreads = 2;
  constexpr auto kBurn = 1500ms;  // of CPU time, per thread
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
  const double burned = kThreads * std::chrono::duration<double>(kBurn).count();
  std::printf(
      "CPU: podstat %.3f s (user %.3f, system %.3f), child rusage %.3f s, cpuacct %s s, "
      "burned %.3f s\n",
      *usage, *user, *system, rusage_seconds,
      cpuacct_seconds ? std::to_string(*cpuacct_seconds).c_str() : "n/a", burned);
  EXPECT_NEAR(*usage, rusage_seconds, 0.10 * rusage_seconds);
  if (cpuacct_seconds) {
    EXPECT_NEAR(*usage, *cpuacct_seconds, 0.10 * *cpuacct_seconds);
  }
  // The agreement above is the test; this says the burn really ran: each thread spun to its CPU
  // time target, so the cgroup used that much, plus the process's start and exit.
  EXPECT_GT(*usage, 0.98 * burned);
  EXPECT_LT(*usage, 1.10 * burned);
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
  ChildGuard guard(BurnOnOneCpu(cgroup, 2, 500ms));  // 1 s of CPU in all, on one CPU
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

// Two busy threads on one CPU stall each other: the cgroup's cpu.pressure "some" total grows, and
// the agent reports it, read between two reads of the kernel's file (both in microseconds).
TEST(AgentCgroupStatsTest, CpuPressureOfTwoThreadsSharingOneCpuIsTheKernelsPsi) {
  PODSTAT_REQUIRE_PRIVILEGES();
  ContainerCgroup cgroup;
  const std::string pressure_file = cgroup.Dir(CgroupV2Mount()) + "/cpu.pressure";
  if (!sources::ParsePressure(ReadFile(pressure_file).value_or(""))) {
    GTEST_SKIP() << pressure_file << " unreadable: this kernel has PSI off (psi=0)";
  }
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  ChildGuard guard(BurnOnOneCpu(cgroup, 2, 300ms));
  // The threads are done: the file's total only grows no more (nothing of the cgroup runs).
  const auto before = sources::ParsePressure(*ReadFile(pressure_file));
  ASSERT_TRUE(before);
  ASSERT_GT(before->some_us, 100'000u) << "two threads on one CPU for 0.6 s stalled < 0.1 s";
  const auto waiting =
      ScrapeUntil(agent, "container_pressure_cpu_waiting_seconds_total", cgroup.id(),
                  [&](double v) { return v >= before->some_us * 1e-6; });
  const auto after = sources::ParsePressure(*ReadFile(pressure_file));
  ASSERT_TRUE(waiting && after) << agent.Stderr();
  std::printf("cpu.pressure some: file %.6f..%.6f s, agent %.6f s\n", before->some_us * 1e-6,
              after->some_us * 1e-6, *waiting);
  EXPECT_GE(*waiting, before->some_us * 1e-6);
  EXPECT_LE(*waiting, after->some_us * 1e-6);
  // memory and io pressure exist in the same directory: their series are there too.
  EXPECT_TRUE(Scrape(agent, "container_pressure_memory_waiting_seconds_total", cgroup.id()));
  EXPECT_TRUE(Scrape(agent, "container_pressure_io_waiting_seconds_total", cgroup.id()));
}

TEST(AgentCgroupStatsTest, ProcessCollectorNamesTheBusiestProcess) {
  PODSTAT_REQUIRE_ROOT();
  ContainerCgroup cgroup;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    cgroup.Join();
    ::prctl(PR_SET_NAME, "pst burner");
    Spin(400ms, CpuClock::kProcess);
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

// The kubelet's eviction signal on cgroup v2, computed here from the files as its
// memory-available-cgroupv2 script does: MemTotal minus the working set of the kubepods cgroup
// (memory.current - inactive_file, floored at 0). Needs the memory controller on v2 (pure v2:
// the kernel matrix's v2 guests); the hybrid host has none there, and the test says so.
TEST(AgentCgroupStatsTest, NodeMemoryAvailableIsTheKubeletsCgroupV2Formula) {
  PODSTAT_REQUIRE_ROOT();
  const std::string v2 = CgroupV2Mount();
  const std::string enabled = ReadFile(v2 + "/cgroup.subtree_control").value_or("");
  std::istringstream controllers(enabled);
  bool memory = false;
  for (std::string controller; controllers >> controller;)
    memory = memory || controller == "memory";
  if (!memory) {
    GTEST_SKIP() << "SKIPPED: the memory controller is not enabled on cgroup v2 here (root "
                    "cgroup.subtree_control: \""
                 << enabled << "\"): pure cgroup v2 only, run by `make matrix`";
  }
  // The node's kubepods cgroup if it has one, else one made for the test (and removed after).
  std::string kubepods;
  bool made_kubepods = false;
  for (const char* name : {"/kubepods.slice", "/kubepods"}) {
    if (ReadFile(v2 + name + "/memory.current")) kubepods = v2 + name;
  }
  if (kubepods.empty()) {
    kubepods = v2 + "/kubepods";
    ASSERT_EQ(::mkdir(kubepods.c_str(), 0755), 0) << kubepods << ": " << std::strerror(errno);
    made_kubepods = true;
  }
  std::ofstream(kubepods + "/cgroup.subtree_control") << "+memory" << std::flush;
  const std::string pod = kubepods + "/podstat-test-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(pod.c_str(), 0755), 0) << pod << ": " << std::strerror(errno);
  struct Cleanup {
    std::string pod, kubepods;
    bool made_kubepods;
    ~Cleanup() {
      PollUntil([&] { return ::rmdir(pod.c_str()) == 0 || errno != EBUSY; });
      if (made_kubepods) ::rmdir(kubepods.c_str());
    }
  } cleanup{pod, kubepods, made_kubepods};

  ChildGuard guard(ForkHoldingMemory(
      32 * kMiB, [&] { std::ofstream(pod + "/cgroup.procs") << ::getpid() << std::flush; }));

  auto truth = [&] {
    std::istringstream meminfo(ReadFile("/proc/meminfo").value_or(""));
    double total_kb = 0;
    for (std::string key; meminfo >> key;) {
      if (key == "MemTotal:") {
        meminfo >> total_kb;
        break;
      }
    }
    const double usage = std::stod(ReadFile(kubepods + "/memory.current").value_or("0"));
    std::istringstream stat(ReadFile(kubepods + "/memory.stat").value_or(""));
    double inactive_file = 0;
    for (std::string key; stat >> key;) {
      double value = 0;
      stat >> value;
      if (key == "inactive_file") inactive_file = value;
    }
    const double working_set = usage > inactive_file ? usage - inactive_file : 0;
    return std::pair{total_kb * 1024 - working_set, usage};
  };
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const std::string source = "cgroup v2 " + kubepods.substr(v2.size() + 1);
  std::optional<double> available;
  std::pair<double, double> before, after;
  // Read the files on both sides of the scrape: the agent's number must lie between them, give
  // or take 1 MiB of what the kernel may charge meanwhile.
  const bool agreed = PollUntil([&] {
    before = truth();
    available = FindSample(ParseExposition(agent.Scrape()), "node_memory_available_bytes",
                           {{"source", source}});
    after = truth();
    return available && *available >= std::min(before.first, after.first) - kMiB &&
           *available <= std::max(before.first, after.first) + kMiB;
  });
  EXPECT_TRUE(agreed) << "node_memory_available_bytes{source=\"" << source << "\"} "
                      << (available ? std::to_string(*available) : "absent")
                      << ", the kubelet's formula on " << kubepods << ": " << before.first << " .. "
                      << after.first << "\n"
                      << agent.Stderr();
  EXPECT_GE(before.second, 32.0 * kMiB) << "the 32 MiB are charged to " << kubepods;
  std::printf(
      "node memory.available: podstat %.0f, kubelet formula %.0f (kubepods usage %.1f MiB)\n",
      available.value_or(-1), after.first, after.second / kMiB);
}

}  // namespace
}  // namespace podstat::testing
