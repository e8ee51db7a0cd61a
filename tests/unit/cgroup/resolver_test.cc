#include "podstat/cgroup/resolver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

namespace podstat::cgroup {
namespace {

namespace fs = std::filesystem;

// A throwaway directory tree standing in for a cgroup hierarchy: the resolver only relies on
// directory inodes, which any filesystem has.
class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("podstat-resolver-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "system.slice" / "docker-abc.scope");
    fs::create_directories(root_ / "kubepods" / "burstable" / "pod1" / "ctr1");
  }
  void TearDown() override { fs::remove_all(root_); }

  uint64_t Inode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

  fs::path root_;
};

TEST_F(ResolverTest, ResolvesEveryDirectoryByInode) {
  CgroupResolver resolver(root_.string());
  EXPECT_EQ(resolver.Rescan(), 7u);  // root, 2 under system.slice, 4 under kubepods
  EXPECT_EQ(resolver.Resolve(Inode(root_)), "/");
  EXPECT_EQ(resolver.Resolve(Inode(root_ / "system.slice" / "docker-abc.scope")),
            "/system.slice/docker-abc.scope");
  EXPECT_EQ(resolver.Resolve(Inode(root_ / "kubepods" / "burstable" / "pod1" / "ctr1")),
            "/kubepods/burstable/pod1/ctr1");
  EXPECT_EQ(resolver.rescans(), 1u);  // answered from the table, no further walks
}

TEST_F(ResolverTest, FindsNewCgroupsWithARescanOnMiss) {
  CgroupResolver resolver(root_.string(), {std::chrono::milliseconds(0), std::chrono::seconds(30)});
  resolver.Rescan();
  fs::create_directories(root_ / "new");
  EXPECT_EQ(resolver.Resolve(Inode(root_ / "new")), "/new");
  EXPECT_EQ(resolver.rescans(), 2u);
}

TEST_F(ResolverTest, RemovedCgroupStopsResolvingAtOnce) {
  CgroupResolver resolver(root_.string(), {std::chrono::milliseconds(0), std::chrono::seconds(30)});
  resolver.Rescan();
  const uint64_t id = Inode(root_ / "kubepods" / "burstable" / "pod1" / "ctr1");
  ASSERT_EQ(resolver.Resolve(id), "/kubepods/burstable/pod1/ctr1");
  fs::remove(root_ / "kubepods" / "burstable" / "pod1" / "ctr1");
  EXPECT_EQ(resolver.Resolve(id), std::nullopt);
  EXPECT_EQ(resolver.negative_cached(), 1u);
}

// Where kernfs handles are refused (no CAP_DAC_READ_SEARCH; a temp tree is never cgroupfs), only a
// walk that began after an id was known to exist can prove it gone: the collector then deletes the
// id's BPF map entry. A directory made after the last walk is not gone, just not walked yet.
TEST_F(ResolverTest, OnlyAWalkAfterAnIdExistedProvesItGone) {
  CgroupResolver resolver(root_.string(), {std::chrono::hours(1), std::chrono::seconds(30)});
  resolver.Rescan();
  const fs::path container = root_ / "kubepods" / "burstable" / "pod1" / "ctr1";
  const uint64_t id = Inode(container);
  const auto existed_at = CgroupResolver::Clock::now();
  fs::remove(container);
  EXPECT_EQ(resolver.Resolve(id), std::nullopt);
  EXPECT_FALSE(resolver.handles_supported());
  EXPECT_FALSE(resolver.CertainlyGone(id, existed_at)) << "no walk since it was seen";
  resolver.Rescan();
  EXPECT_TRUE(resolver.last_walk_complete());
  EXPECT_TRUE(resolver.CertainlyGone(id, existed_at));

  fs::create_directories(root_ / "new");
  const uint64_t fresh = Inode(root_ / "new");
  EXPECT_FALSE(resolver.CertainlyGone(fresh, CgroupResolver::Clock::now()))
      << "made after the last walk";
  EXPECT_FALSE(resolver.CertainlyGone(Inode(root_ / "system.slice"), existed_at)) << "still there";
}

TEST_F(ResolverTest, NegativeCacheLimitsRescans) {
  CgroupResolver resolver(root_.string(), {std::chrono::milliseconds(0), std::chrono::seconds(30)});
  resolver.Rescan();
  const uint64_t unknown = 0xdeadbeefcafeULL;
  EXPECT_EQ(resolver.Resolve(unknown), std::nullopt);
  const uint64_t after_first_miss = resolver.rescans();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(resolver.Resolve(unknown), std::nullopt);
  EXPECT_EQ(resolver.rescans(), after_first_miss);
}

TEST_F(ResolverTest, RescanIntervalLimitsWalksForManyMisses) {
  CgroupResolver resolver(root_.string(), {std::chrono::hours(1), std::chrono::seconds(30)});
  resolver.Rescan();
  for (uint64_t id = 1; id < 50; ++id) resolver.Resolve(0xabc00000ULL + id);
  EXPECT_EQ(resolver.rescans(), 1u);
}

TEST_F(ResolverTest, RateLimitedMissDoesNotHideANewCgroup) {
  CgroupResolver resolver(root_.string(), {std::chrono::milliseconds(200), std::chrono::hours(1)});
  resolver.Rescan();
  fs::create_directories(root_ / "late");
  const uint64_t id = Inode(root_ / "late");
  EXPECT_EQ(resolver.Resolve(id), std::nullopt);  // walked too recently to walk again
  EXPECT_EQ(resolver.negative_cached(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(resolver.Resolve(id), "/late");  // not hidden for the hour-long negative TTL
}

TEST_F(ResolverTest, TableDoesNotGrowWithChurn) {
  CgroupResolver resolver(root_.string(),
                          {std::chrono::milliseconds(0), std::chrono::milliseconds(0)});
  resolver.Rescan();
  const size_t baseline = resolver.cached();
  for (int i = 0; i < 200; ++i) {
    const fs::path dir = root_ / ("churn-" + std::to_string(i));
    fs::create_directory(dir);
    const uint64_t id = Inode(dir);
    EXPECT_EQ(resolver.Resolve(id), "/churn-" + std::to_string(i));
    fs::remove(dir);
    EXPECT_EQ(resolver.Resolve(id), std::nullopt);
  }
  resolver.Rescan();
  EXPECT_EQ(resolver.cached(), baseline);
  EXPECT_EQ(resolver.negative_cached(), 0u);  // zero TTL: expired at the rescan
}

TEST(FindCgroup2Root, ExplainsWhenThereIsNone) {
  HostPaths paths;
  paths.sysfs = "/nonexistent-sysfs";
  std::string error;
  EXPECT_EQ(FindCgroup2Root(paths, &error), std::nullopt);
  EXPECT_NE(error.find("/nonexistent-sysfs/fs/cgroup"), std::string::npos) << error;
}

}  // namespace
}  // namespace podstat::cgroup
