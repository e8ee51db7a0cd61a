#include "podstat/procfs/pid_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "podstat/procfs/mountinfo.h"
#include "podstat/procfs/process.h"
#include "podstat/procfs/process_top.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::procfs {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kKiB = 1024;

std::string PidFixture(const std::string& name) {
  const auto text = ReadFile(std::string(PODSTAT_FIXTURES_DIR) + "/proc/pid/" + name);
  EXPECT_TRUE(text.has_value()) << name;
  return text.value_or("");
}

// --- /proc/<pid>/stat ---------------------------------------------------------------------------

TEST(PidStat, CommWithSpacesAndParentheses) {
  // prctl(PR_SET_NAME, "my (weird) proc") on a python3 process with 2 threads.
  const auto stat = ParseProcStat(PidFixture("weird_comm.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 27570);
  EXPECT_EQ(stat->comm, "my (weird) proc");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->flags, 4194304u);
  EXPECT_EQ(stat->utime_ticks, 57u);
  EXPECT_EQ(stat->stime_ticks, 8u);
  EXPECT_EQ(stat->cutime_ticks, 11);
  EXPECT_EQ(stat->cstime_ticks, 14);
  EXPECT_EQ(stat->num_threads, 2);
  EXPECT_EQ(stat->starttime_ticks, 657834u);
  EXPECT_EQ(stat->vsize_bytes, 113778688u);  // = VmSize 111112 kB in weird_comm.status
  EXPECT_EQ(stat->rss_pages, 8564);
  EXPECT_EQ(stat->flags & kProcessFlagKernelThread, 0u);
}

TEST(PidStat, PlainShell) {
  const auto stat = ParseProcStat(PidFixture("shell.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 27648);
  EXPECT_EQ(stat->comm, "sh");
  EXPECT_EQ(stat->ppid, 27646);
  EXPECT_EQ(stat->utime_ticks, 0u);
  EXPECT_EQ(stat->num_threads, 1);
  EXPECT_EQ(stat->starttime_ticks, 658566u);
  EXPECT_EQ(stat->vsize_bytes, 2592 * kKiB);
  EXPECT_EQ(stat->rss_pages, 356);
}

TEST(PidStat, KernelThread) {
  const auto stat = ParseProcStat(PidFixture("kthreadd.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 2);
  EXPECT_EQ(stat->comm, "kthreadd");
  EXPECT_EQ(stat->ppid, 0);
  EXPECT_NE(stat->flags & kProcessFlagKernelThread, 0u);
  EXPECT_EQ(stat->num_threads, 1);
  EXPECT_EQ(stat->starttime_ticks, 18u);
  EXPECT_EQ(stat->vsize_bytes, 0u);
  EXPECT_EQ(stat->rss_pages, 0);
}

TEST(PidStat, Zombie) {
  const auto stat = ParseProcStat(PidFixture("zombie.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 27692);
  EXPECT_EQ(stat->comm, "python3");
  EXPECT_EQ(stat->state, 'Z');
  EXPECT_EQ(stat->vsize_bytes, 0u);
  EXPECT_EQ(stat->rss_pages, 0);
}

TEST(PidStat, CommThatLooksLikeFields) {
  // A name can hold ") R 1 2" and a newline: only the LAST ')' ends it.
  const auto stat = ParseProcStat(
      "42 (x) R 1 2\n(y) S 7 42 42 0 -1 4194304 0 0 0 0 300 200 -1 -2 20 0 3 0 99 8192 5 "
      "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->comm, "x) R 1 2\n(y");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 7);
  EXPECT_EQ(stat->utime_ticks, 300u);
  EXPECT_EQ(stat->stime_ticks, 200u);
  EXPECT_EQ(stat->cutime_ticks, -1);
  EXPECT_EQ(stat->cstime_ticks, -2);
  EXPECT_EQ(stat->num_threads, 3);
  EXPECT_EQ(stat->starttime_ticks, 99u);
  EXPECT_EQ(stat->vsize_bytes, 8192u);
  EXPECT_EQ(stat->rss_pages, 5);
  // An empty name (prctl(PR_SET_NAME, "")) is a valid one.
  const auto empty = ParseProcStat("5 () S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 4 5");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->comm, "");
  EXPECT_EQ(empty->rss_pages, 5);
}

TEST(PidStat, RejectsTruncatedAndGarbage) {
  const std::string good = PidFixture("weird_comm.stat");
  ASSERT_TRUE(ParseProcStat(good).has_value());
  // Cut right before rss (field 24): one field short.
  const size_t rss_at = good.find(" 8564 ");
  ASSERT_NE(rss_at, std::string::npos);
  EXPECT_EQ(ParseProcStat(good.substr(0, rss_at)), std::nullopt);
  EXPECT_TRUE(ParseProcStat(good.substr(0, rss_at + 5)).has_value());
  EXPECT_EQ(ParseProcStat(good.substr(0, 20)), std::nullopt);  // inside comm

  EXPECT_EQ(ParseProcStat(""), std::nullopt);
  EXPECT_EQ(ParseProcStat("garbage"), std::nullopt);
  EXPECT_EQ(ParseProcStat("\n"), std::nullopt);
  EXPECT_EQ(ParseProcStat("12 (x"), std::nullopt);
  EXPECT_EQ(ParseProcStat("12 x) S 1"), std::nullopt);
  EXPECT_EQ(ParseProcStat(") 12 ("), std::nullopt);
  const std::string tail = " S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 4 5";
  ASSERT_TRUE(ParseProcStat("12 (x)" + tail).has_value());
  EXPECT_EQ(ParseProcStat("(x)" + tail), std::nullopt);      // no pid
  EXPECT_EQ(ParseProcStat("abc (x)" + tail), std::nullopt);  // pid not a number
  EXPECT_EQ(ParseProcStat("-3 (x)" + tail), std::nullopt);
  EXPECT_EQ(ParseProcStat("0 (x)" + tail), std::nullopt);
  EXPECT_EQ(ParseProcStat("12 (x)S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 4 5"), std::nullopt);
  EXPECT_EQ(ParseProcStat("12 (x) SS 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 4 5"),
            std::nullopt);  // state is one character
  EXPECT_EQ(ParseProcStat("12 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0 0 20 0 1 0 3 4 5"),
            std::nullopt);  // utime not a number
  EXPECT_EQ(ParseProcStat("12 (x) S 1 1 1 0 -1 0 0 0 0 0 -1 2 0 0 20 0 1 0 3 4 5"),
            std::nullopt);  // utime is unsigned
}

// --- /proc/<pid>/status -------------------------------------------------------------------------

TEST(PidStatus, ByFieldName) {
  const auto status = ParseProcStatus(PidFixture("weird_comm.status"));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->name, "my (weird) proc");
  EXPECT_EQ(status->state, 'S');
  EXPECT_EQ(status->tgid, 27570);
  EXPECT_EQ(status->ppid, 1);
  EXPECT_EQ(status->threads, 2u);
  EXPECT_FALSE(status->kernel_thread);
  EXPECT_TRUE(status->has_memory);
  EXPECT_EQ(status->vm_peak_bytes, 156148 * kKiB);
  EXPECT_EQ(status->vm_size_bytes, 111112 * kKiB);
  EXPECT_EQ(status->vm_hwm_bytes, 34388 * kKiB);
  EXPECT_EQ(status->vm_rss_bytes, 34388 * kKiB);
  EXPECT_EQ(status->rss_anon_bytes, 27580 * kKiB);
  EXPECT_EQ(status->rss_file_bytes, 6808 * kKiB);
  EXPECT_EQ(status->rss_shmem_bytes, 0u);
  EXPECT_EQ(status->vm_swap_bytes, 0u);
  EXPECT_EQ(status->vm_rss_bytes,
            status->rss_anon_bytes + status->rss_file_bytes + status->rss_shmem_bytes);
}

TEST(PidStatus, LineOrderDoesNotMatter) {
  // The old approach read VmSize, VmRSS and RssFile from lines 13, 17 and 19. Reversing the lines
  // (or a kernel adding one, as Kthread: was) must not change anything.
  const std::string text = PidFixture("shell.status");
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GT(lines.size(), 20u);
  std::reverse(lines.begin(), lines.end());
  std::string reversed = "Added:\tby a future kernel\n";
  for (const std::string& line : lines) reversed += line + "\n";

  const auto forward = ParseProcStatus(text);
  const auto backward = ParseProcStatus(reversed);
  ASSERT_TRUE(forward.has_value());
  ASSERT_TRUE(backward.has_value());
  EXPECT_EQ(forward->name, "sh");
  EXPECT_EQ(forward->vm_size_bytes, 2592 * kKiB);
  EXPECT_EQ(forward->vm_rss_bytes, 1636 * kKiB);
  EXPECT_EQ(forward->rss_file_bytes, 1528 * kKiB);
  EXPECT_EQ(forward->rss_anon_bytes, 108 * kKiB);
  EXPECT_EQ(backward->name, forward->name);
  EXPECT_EQ(backward->vm_size_bytes, forward->vm_size_bytes);
  EXPECT_EQ(backward->vm_rss_bytes, forward->vm_rss_bytes);
  EXPECT_EQ(backward->rss_file_bytes, forward->rss_file_bytes);
  EXPECT_EQ(backward->threads, forward->threads);
}

TEST(PidStatus, KernelThreadHasNoMemoryLines) {
  const auto status = ParseProcStatus(PidFixture("kthreadd.status"));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->name, "kthreadd");
  EXPECT_EQ(status->tgid, 2);
  EXPECT_EQ(status->threads, 1u);
  EXPECT_TRUE(status->kernel_thread);
  EXPECT_FALSE(status->has_memory);
  EXPECT_EQ(status->vm_rss_bytes, 0u);
  EXPECT_EQ(status->vm_size_bytes, 0u);
  EXPECT_EQ(status->rss_file_bytes, 0u);
}

TEST(PidStatus, ZombieHasNoMemoryLinesEither) {
  const auto status = ParseProcStatus(PidFixture("zombie.status"));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->name, "python3");
  EXPECT_EQ(status->state, 'Z');
  EXPECT_FALSE(status->kernel_thread);
  EXPECT_FALSE(status->has_memory);
  EXPECT_EQ(status->vm_rss_bytes, 0u);
}

TEST(PidStatus, RejectsGarbage) {
  EXPECT_EQ(ParseProcStatus(""), std::nullopt);
  EXPECT_EQ(ParseProcStatus("garbage\n\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatus("VmRSS:\t  12 kB\n"), std::nullopt);  // no Name:
  // A known field that does not parse is an error, not a zero.
  EXPECT_EQ(ParseProcStatus("Name:\tx\nVmRSS:\t  12 MB\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatus("Name:\tx\nVmRSS:\t  12\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatus("Name:\tx\nVmRSS:\t  x kB\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatus("Name:\tx\nThreads:\tmany\n"), std::nullopt);
  EXPECT_EQ(ParseProcStatus("Name:\tx\nState:\n"), std::nullopt);
  // Truncated after VmSize: what is there parses, VmRSS is absent.
  const std::string text = PidFixture("shell.status");
  const auto truncated = ParseProcStatus(text.substr(0, text.find("VmLck:")));
  ASSERT_TRUE(truncated.has_value());
  EXPECT_EQ(truncated->vm_size_bytes, 2592 * kKiB);
  EXPECT_FALSE(truncated->has_memory);
  // Names keep their spaces; unknown and colon-less lines are ignored.
  const auto spaced = ParseProcStatus("Name:\t a b \nno colon here\nVmRSS:\t8 kB\nFoo:\t1\n");
  ASSERT_TRUE(spaced.has_value());
  EXPECT_EQ(spaced->name, " a b ");
  EXPECT_EQ(spaced->vm_rss_bytes, 8 * kKiB);
  EXPECT_TRUE(spaced->has_memory);
}

// --- PidsOfCgroup -------------------------------------------------------------------------------

class ProcessTopTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("podstat-pidstats-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }

  // A fake /proc/<pid>: stat with the given CPU ticks, status with the given memory in kB.
  void WriteProcess(pid_t pid, const std::string& comm, uint64_t utime, uint64_t stime,
                    bool with_status = true) {
    const std::string dir = "proc/" + std::to_string(pid);
    Write(dir + "/stat", std::to_string(pid) + " (" + comm + ") S 1 1 1 0 -1 4194304 0 0 0 0 " +
                             std::to_string(utime) + " " + std::to_string(stime) +
                             " 0 0 20 0 1 0 100 4096 1 18446744073709551615 0 0 0 0 0\n");
    if (with_status) {
      Write(dir + "/status", "Name:\t" + comm + "\nVmSize:\t" + std::to_string(pid * 10) +
                                 " kB\nVmRSS:\t" + std::to_string(pid * 2) + " kB\nRssFile:\t" +
                                 std::to_string(pid) + " kB\nThreads:\t1\n");
    }
  }

  fs::path root_;
};

TEST_F(ProcessTopTree, PidsOfCgroupReadsCgroupProcs) {
  Write("cg/cgroup.procs", "12\n3\n\n12\nnot-a-pid\n0\n");
  EXPECT_EQ(PidsOfCgroup((root_ / "cg").string()), (std::vector<pid_t>{3, 12}));
  Write("empty/cgroup.procs", "");
  EXPECT_TRUE(PidsOfCgroup((root_ / "empty").string()).empty());
  // Removed between listing containers and reading it: empty, not an error.
  EXPECT_TRUE(PidsOfCgroup((root_ / "vanished").string()).empty());
}

TEST(PidsOfCgroup, FindsThisProcessInItsOwnCgroup) {
  const auto mountinfo = ReadFile("/proc/self/mountinfo");
  ASSERT_TRUE(mountinfo.has_value());
  const auto mount = FindCgroup2Mount(ParseMountInfo(*mountinfo));
  const auto path = CgroupV2PathOf(HostPaths{}, ::getpid());
  if (!mount || !path) GTEST_SKIP() << "no cgroup v2 hierarchy mounted at its root";
  const auto pids = PidsOfCgroup(HostPaths::Join(*mount, *path));
  EXPECT_TRUE(std::binary_search(pids.begin(), pids.end(), ::getpid()))
      << HostPaths::Join(*mount, *path);
}

// --- TopProcesses -------------------------------------------------------------------------------

TEST_F(ProcessTopTree, RanksByTotalCpuThenPid) {
  const long hz = ::sysconf(_SC_CLK_TCK);
  WriteProcess(10, "ten", 100, 50);          // 150 ticks
  WriteProcess(20, "twenty", 150, 0);        // 150 ticks: tie with 10, ranks after it
  WriteProcess(30, "thirty (x)", 200, 100);  // 300 ticks
  WriteProcess(40, "no status", 1000, 0, /*with_status=*/false);  // exited between the reads
  WriteProcess(60, "idle", 0, 0);
  Write("proc/70/stat", "garbage");
  HostPaths paths;
  paths.procfs = (root_ / "proc").string();
  const std::vector<pid_t> pids = {60, 50, 40, 30, 20, 10, 70};  // 50 never existed

  const auto top = TopProcesses(paths, pids, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].pid, 30);
  EXPECT_EQ(top[0].comm, "thirty (x)");
  EXPECT_DOUBLE_EQ(top[0].cpu_user_seconds, 200.0 / static_cast<double>(hz));
  EXPECT_DOUBLE_EQ(top[0].cpu_system_seconds, 100.0 / static_cast<double>(hz));
  EXPECT_EQ(top[0].rss_bytes, 60 * kKiB);
  EXPECT_EQ(top[0].vm_size_bytes, 300 * kKiB);
  EXPECT_EQ(top[0].rss_file_bytes, 30 * kKiB);
  EXPECT_EQ(top[1].pid, 10);
  EXPECT_EQ(top[2].pid, 20);

  // Everything readable, and no more: 40 (no status), 50 (no dir), 70 (garbage) are skipped.
  const auto all = TopProcesses(paths, pids, 100);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].pid, 60);
  EXPECT_EQ(all[3].cpu_user_seconds + all[3].cpu_system_seconds, 0.0);

  EXPECT_TRUE(TopProcesses(paths, pids, 0).empty());
  EXPECT_TRUE(TopProcesses(paths, {}, 3).empty());
}

// A child that burns `cpu_nanoseconds` of CPU, says so on a pipe, then waits to be killed.
// Killed and reaped on destruction, so a failed assertion leaks no process.
class Burner {
 public:
  explicit Burner(int64_t cpu_nanoseconds) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and _exit: the test binary has threads.
      ::prctl(PR_SET_NAME, "burn (it) up", 0, 0, 0);
      timespec now{};
      do {
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
      } while (now.tv_sec * 1000000000LL + now.tv_nsec < cpu_nanoseconds);
      const char done = 'x';
      if (::write(write_end.get(), &done, 1) != 1) ::_exit(1);
      for (;;) ::pause();
    }
    write_end.Reset();
    char done = 0;
    ready_ = pid_ > 0 && ::read(read_end.get(), &done, 1) == 1;
  }
  ~Burner() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Burner(const Burner&) = delete;
  Burner& operator=(const Burner&) = delete;

  pid_t pid() const { return pid_; }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

pid_t ForkAndReap() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(pid, nullptr, 0);
  return pid;
}

int64_t OwnCpuNanoseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1000000000LL + now.tv_nsec;
}

TEST(TopProcesses, BurnerFirstDeadPidSkipped) {
  const pid_t dead = ForkAndReap();
  ASSERT_GT(dead, 0);
  // 200 ms more than this process has used so far (other tests may have run in it), plus two
  // ticks of margin: the burner must outrank us whatever ran before.
  const int64_t burn = OwnCpuNanoseconds() + 200'000'000 + 20'000'000;
  Burner burner(burn);
  ASSERT_TRUE(burner.ready());

  const std::vector<pid_t> pids = {::getpid(), burner.pid(), dead};
  const auto top = TopProcesses(HostPaths{}, pids, 10);
  ASSERT_EQ(top.size(), 2u);  // the reaped pid is skipped, not an error
  EXPECT_EQ(top[0].pid, burner.pid());
  EXPECT_EQ(top[0].comm, "burn (it) up");
  EXPECT_GE(top[0].cpu_user_seconds + top[0].cpu_system_seconds, 0.19);
  EXPECT_GT(top[0].rss_bytes, 0u);
  EXPECT_EQ(top[1].pid, ::getpid());
  EXPECT_GT(top[1].rss_bytes, 0u);
  EXPECT_GE(top[1].vm_size_bytes, top[1].rss_bytes);
  EXPECT_LE(top[1].rss_file_bytes, top[1].rss_bytes);
  for (const ProcessSample& sample : top) EXPECT_NE(sample.pid, dead);

  const auto first = TopProcesses(HostPaths{}, pids, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].pid, burner.pid());
  EXPECT_TRUE(TopProcesses(HostPaths{}, pids, 0).empty());
  EXPECT_TRUE(TopProcesses(HostPaths{}, {dead}, 5).empty());
}

}  // namespace
}  // namespace podstat::procfs
