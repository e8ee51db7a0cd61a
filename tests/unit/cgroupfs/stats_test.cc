#include "podstat/cgroupfs/stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "podstat/procfs/mountinfo.h"
#include "podstat/util/file.h"

namespace podstat::cgroupfs {
namespace {

std::string Fixture(const std::string& name) {
  const auto text = ReadFile(std::string(PODSTAT_FIXTURES_DIR) + "/cgroup/" + name);
  EXPECT_TRUE(text.has_value()) << name;
  return text.value_or("");
}

TEST(MemoryV1, RealCgroupWith32MiBAnonAnd8MiBCache) {
  const std::string dir = "v1-memory-32MiB-anon-limit-64MiB/";
  const auto memory =
      ParseMemoryV1(Fixture(dir + "memory.usage_in_bytes"), Fixture(dir + "memory.stat"),
                    Fixture(dir + "memory.limit_in_bytes"), Fixture(dir + "memory.oom_control"));
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->usage_bytes, 50851840u);
  EXPECT_EQ(memory->rss_bytes, 41943040u);  // 32 MiB touched + the interpreter's own
  EXPECT_EQ(memory->cache_bytes, 8400896u);
  EXPECT_EQ(memory->inactive_file_bytes, 8388608u);  // the 8 MiB file
  EXPECT_EQ(memory->working_set_bytes, 50851840u - 8388608u);
  EXPECT_EQ(memory->limit_bytes, 67108864u);
  EXPECT_EQ(memory->oom_kills, 0u);
}

TEST(MemoryV1, UnlimitedIsAbsentAndWorkingSetFloorsAtZero) {
  const auto memory =
      ParseMemoryV1("100\n", "total_inactive_file 4096\n", "9223372036854771712\n", "oom_kill 7\n");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->limit_bytes, std::nullopt);
  EXPECT_EQ(memory->working_set_bytes, 0u);
  EXPECT_EQ(memory->oom_kills, 7u);
  EXPECT_EQ(ParseMemoryV1("", "", "", ""), std::nullopt);
}

// ParseMemoryV2 on the four files of a fixture directory.
std::optional<Memory> ParseMemoryV2Dir(const std::string& dir) {
  return ParseMemoryV2(Fixture(dir + "memory.current"), Fixture(dir + "memory.stat"),
                       Fixture(dir + "memory.max"), Fixture(dir + "memory.events"));
}

// A Docker-shaped cgroup of a pure cgroup v2 guest (Debian's 6.12, `make matrix`), limited to
// 256 MiB, its shell holding ~4 MB of anonymous memory and an 8 MiB tmpfs file (shmem: "file",
// but on the anon LRU, hence no inactive_file).
TEST(MemoryV2, GuestOn612) {
  const auto memory = ParseMemoryV2Dir("v2-6.12-guest/v2/");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->usage_bytes, 12808192u);
  EXPECT_EQ(memory->rss_bytes, 4141056u);    // anon
  EXPECT_EQ(memory->cache_bytes, 8388608u);  // file: the 8 MiB tmpfs file
  EXPECT_EQ(memory->inactive_file_bytes, 0u);
  EXPECT_EQ(memory->working_set_bytes, 12808192u);
  EXPECT_EQ(memory->limit_bytes, 268435456u);
  EXPECT_EQ(memory->oom_kills, 0u);
}

// 5.10's memory.stat has fewer keys (no memory.peak at all, which is 5.19+), in the same format.
TEST(MemoryV2, GuestOn510) {
  const auto memory = ParseMemoryV2Dir("v2-5.10-guest/v2/");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->usage_bytes, 12767232u);
  EXPECT_EQ(memory->rss_bytes, 4165632u);
  EXPECT_EQ(memory->cache_bytes, 8380416u);
  EXPECT_EQ(memory->limit_bytes, 268435456u);
}

// The guest's OOM probe: 16 MiB limit, a shell asking for 40 MB. memory.events counts the times
// the limit was hit (max), OOM situations (oom) and kills (oom_kill): only oom_kill is the kill.
TEST(MemoryV2, OomKilledGuestCgroup) {
  for (const char* dir : {"v2-5.10-guest/v2-oom/", "v2-6.12-guest/v2-oom/"}) {
    const std::string base = dir;
    const auto memory =
        ParseMemoryV2(Fixture(base + "memory.current"), "", Fixture(base + "memory.max"),
                      Fixture(base + "memory.events"));
    ASSERT_TRUE(memory) << dir;
    EXPECT_EQ(memory->oom_kills, 1u) << dir;  // 5.10: "max 59", "oom 3", "oom_kill 1"
    EXPECT_EQ(memory->limit_bytes, 16777216u) << dir;
  }
}

// What the guests have no page cache to show (their files are tmpfs): inactive_file comes off
// the working set, floored at 0; "max" is no limit.
TEST(MemoryV2, WorkingSetLeavesOutInactiveFile) {
  const auto memory =
      ParseMemoryV2("52428800\n", "anon 41943040\nfile 8400896\ninactive_file 8388608\n", "max\n",
                    "low 0\nhigh 0\nmax 0\noom 0\noom_kill 2\n");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->working_set_bytes, 52428800u - 8388608u);
  EXPECT_EQ(memory->limit_bytes, std::nullopt);
  EXPECT_EQ(memory->oom_kills, 2u);
  EXPECT_EQ(ParseMemoryV2("100\n", "inactive_file 4096\n", "max\n", "")->working_set_bytes, 0u);
}

TEST(Cpu, V2CpuStatOnAHybridHost) {
  const auto cpu = ParseCpuStatV2(Fixture("v2-hybrid-cpu/cpu.stat"));
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->usage_ns, 343143000u);
  EXPECT_EQ(cpu->user_ns, 203492000u);
  EXPECT_EQ(cpu->system_ns, 139651000u);
  EXPECT_EQ(ParseCpuStatV2("nr_periods 0\n"), std::nullopt);
}

TEST(Cpu, V1CpuacctPrefersNanosecondSplit) {
  const auto cpu =
      ParseCpuacctV1(Fixture("v1-root/cpuacct.usage"), Fixture("v1-root/cpuacct.usage_user"),
                     Fixture("v1-root/cpuacct.usage_sys"), Fixture("v1-root/cpuacct.stat"), 100);
  ASSERT_TRUE(cpu);
  EXPECT_GT(cpu->usage_ns, 0u);
  EXPECT_GT(cpu->user_ns, 0u);
  // Without usage_user/usage_sys (kernels before 4.6): cpuacct.stat ticks.
  const auto ticks = ParseCpuacctV1("5000000000\n", "", "", "user 300\nsystem 100\n", 100);
  ASSERT_TRUE(ticks);
  EXPECT_EQ(ticks->user_ns, 3000000000u);
  EXPECT_EQ(ticks->system_ns, 1000000000u);
}

// FindHierarchies on a throwaway v2 root: only cgroup.controllers is read from it. The v1 mounts
// still come from the agent's own /proc/self/mountinfo, whatever this machine has mounted.
class FindHierarchiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("podstat-hierarchies-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // What the v2 root offers (cgroup.controllers) and enables for its children
  // (cgroup.subtree_control); the second defaults to the first, as on a pure v2 systemd host.
  void WriteControllers(const std::string& available,
                        const std::optional<std::string>& enabled = std::nullopt) {
    std::ofstream(root_ / "cgroup.controllers") << available;
    std::ofstream(root_ / "cgroup.subtree_control") << enabled.value_or(available);
  }

  std::filesystem::path root_;
};

// The pure-v2 guest where container_memory_* went missing: the controller list is long enough to
// live on the heap, and the old code split a temporary copy of it that was freed before the loop
// read it (ASan: heap-use-after-free; without ASan, memory usually read as absent).
TEST_F(FindHierarchiesTest, PureV2RootWithEveryController) {
  WriteControllers(Fixture("v2-6.12-guest/root/cgroup.controllers"),
                   Fixture("v2-6.12-guest/root/cgroup.subtree_control"));
  const Hierarchies hierarchies = FindHierarchies(HostPaths{}, root_.string());
  EXPECT_EQ(hierarchies.v2_root, root_.string());
  EXPECT_TRUE(hierarchies.v2_memory);
}

// A hybrid host with only the memory controller on v2: the file is "memory\n", and the newline
// must not stick to the last name (it did: the split was on spaces and tabs only).
TEST_F(FindHierarchiesTest, MemoryListedLast) {
  WriteControllers("memory\n");
  EXPECT_TRUE(FindHierarchies(HostPaths{}, root_.string()).v2_memory);
  WriteControllers("cpu io memory\n");
  EXPECT_TRUE(FindHierarchies(HostPaths{}, root_.string()).v2_memory);
}

// Hybrid mode on a kernel without CONFIG_MEMCG_V1 (6.12+): memory is not bound to v1, so the v2
// root offers it, but nothing enables it there, and no cgroup has memory files.
TEST_F(FindHierarchiesTest, AvailableButNotEnabledIsNoMemory) {
  WriteControllers(Fixture("hybrid-6.12-guest/root/cgroup.controllers"),       // "cpuset memory"
                   Fixture("hybrid-6.12-guest/root/cgroup.subtree_control"));  // empty
  Hierarchies hierarchies = FindHierarchies(HostPaths{}, root_.string());
  EXPECT_FALSE(hierarchies.v2_memory);
  EXPECT_TRUE(hierarchies.v2_memory_available);
  hierarchies.v1_memory.reset();  // this host's own v1 memory mount, from its mountinfo
  EXPECT_NE(DescribeMemorySource(hierarchies).find("not enabled"), std::string::npos)
      << DescribeMemorySource(hierarchies);
}

TEST_F(FindHierarchiesTest, NoMemoryUnlessListed) {
  WriteControllers(Fixture("v2-hybrid-cpu/cgroup.controllers"));  // hybrid: empty
  EXPECT_FALSE(FindHierarchies(HostPaths{}, root_.string()).v2_memory);
  WriteControllers("cpuset cpu io hugetlb pids rdma misc memoryless\n");
  EXPECT_FALSE(FindHierarchies(HostPaths{}, root_.string()).v2_memory);
  std::filesystem::remove(root_ / "cgroup.controllers");  // not a cgroup2 root at all
  EXPECT_FALSE(FindHierarchies(HostPaths{}, root_.string()).v2_memory);
}

TEST_F(FindHierarchiesTest, V1MountsFromOwnMountinfo) {
  WriteControllers(Fixture("v2-6.12-guest/root/cgroup.controllers"));
  const auto mountinfo = ReadFile("/proc/self/mountinfo");
  ASSERT_TRUE(mountinfo);
  const auto mounts = procfs::ParseMountInfo(*mountinfo);
  const Hierarchies hierarchies = FindHierarchies(HostPaths{}, root_.string());
  EXPECT_EQ(hierarchies.v1_memory, procfs::FindCgroup1Mount(mounts, "memory"));
  EXPECT_EQ(hierarchies.v1_cpuacct, procfs::FindCgroup1Mount(mounts, "cpuacct"));
}

TEST(NodeMemory, KubeletFormula) {
  const NodeMemory node = ComputeNodeMemory(1000, 700, 200, "test");
  EXPECT_EQ(node.working_set_bytes, 500u);
  EXPECT_EQ(node.available_bytes, 500);
  EXPECT_EQ(ComputeNodeMemory(1000, 100, 200, "test").working_set_bytes, 0u);
}

TEST(NodeMemory, Meminfo) {
  const auto meminfo = ParseMeminfo(Fixture("v1-root/meminfo"));
  EXPECT_GT(meminfo.at("MemTotal"), 1u << 30);
  EXPECT_EQ(meminfo.at("MemTotal") % 1024, 0u);  // kB scaled to bytes
  EXPECT_TRUE(meminfo.contains("Inactive(file)"));
}

// Cross-check against the kubelet's own script (seed 000) on this machine's v1 memory hierarchy.
// Both read live files a few milliseconds apart, so allow what the system may change meanwhile.
TEST(NodeMemory, AgreesWithTheKubeletScriptOnThisMachine) {
  HostPaths paths;
  Hierarchies hierarchies;
  hierarchies.v2_root = "/nonexistent";
  hierarchies.v1_memory = "/sys/fs/cgroup/memory";
  if (!ReadFile("/sys/fs/cgroup/memory/memory.usage_in_bytes")) {
    GTEST_SKIP() << "SKIPPED: no v1 memory hierarchy at /sys/fs/cgroup/memory on this machine";
  }
  const std::string script = "CGROUP_ROOT=/sys/fs/cgroup/memory " +
                             std::string(PODSTAT_FIXTURES_DIR) + "/scripts/memory-available.sh";
  std::FILE* pipe = ::popen(script.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  ASSERT_EQ(::pclose(pipe), 0) << output;
  const auto ours = ReadNodeMemory(paths, hierarchies);
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->source, "cgroup v1 root");
  std::istringstream lines(output);
  std::string key;
  int64_t value = 0;
  std::map<std::string, int64_t> script_values;
  while (lines >> key >> value) script_values[key] = value;
  const int64_t tolerance = 16 << 20;  // 16 MiB of churn between the two reads
  EXPECT_EQ(static_cast<int64_t>(ours->capacity_bytes), script_values["memory.capacity_in_bytes"]);
  EXPECT_NEAR(static_cast<double>(ours->working_set_bytes), script_values["memory.working_set"],
              tolerance);
  EXPECT_NEAR(static_cast<double>(ours->available_bytes),
              script_values["memory.available_in_bytes"], tolerance);
  std::printf("kubelet script: available %lld; podstat: %lld (source %s)\n",
              static_cast<long long>(script_values["memory.available_in_bytes"]),
              static_cast<long long>(ours->available_bytes), ours->source.c_str());
}

}  // namespace
}  // namespace podstat::cgroupfs
