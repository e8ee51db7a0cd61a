#include <gtest/gtest.h>

#include "podstat/procfs/mountinfo.h"
#include "podstat/procfs/process.h"
#include "podstat/procfs/sockstat.h"
#include "podstat/util/file.h"

namespace podstat::procfs {
namespace {

std::string Fixture(const std::string& name) {
  const auto text = ReadFile(std::string(PODSTAT_FIXTURES_DIR) + "/proc/" + name);
  EXPECT_TRUE(text.has_value()) << name;
  return text.value_or("");
}

TEST(MountInfo, FindsCgroup2OnHybridHost) {
  const auto mounts = ParseMountInfo(Fixture("mountinfo.hybrid"));
  EXPECT_EQ(mounts.size(), 20u);
  EXPECT_EQ(FindCgroup2Mount(mounts), "/sys/fs/cgroup/unified");
}

TEST(MountInfo, FindsV1ControllersOnHybridHost) {
  const auto mounts = ParseMountInfo(Fixture("mountinfo.hybrid"));
  EXPECT_EQ(FindCgroup1Mount(mounts, "memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(FindCgroup1Mount(mounts, "cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(FindCgroup1Mount(mounts, "hugetlb"), std::nullopt);
  // Co-mounted controllers, as on most v1 distributions.
  const auto comounted =
      ParseMountInfo("30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
  EXPECT_EQ(FindCgroup1Mount(comounted, "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(MountInfo, DecodesEscapesAndSkipsGarbage) {
  const auto mounts = ParseMountInfo(
      "garbage line\n"
      "40 30 0:37 / /mnt/with\\040space rw,relatime shared:1 - cgroup2 cgroup2 rw\n"
      "41 30 0:38 /sub /elsewhere rw - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mount_point, "/mnt/with space");
  EXPECT_EQ(mounts[0].fs_type, "cgroup2");
  // A bind mount of a sub-tree is not the hierarchy's root.
  EXPECT_EQ(FindCgroup2Mount({mounts[1]}), std::nullopt);
  EXPECT_EQ(FindCgroup2Mount(mounts), "/mnt/with space");
}

TEST(Sockstat, ReadsPerNamespaceTimeWait) {
  const Sockstat stat = ParseSockstat(Fixture("sockstat.netns_tw5"));
  EXPECT_EQ(SockstatField(stat, "TCP", "tw"), 5u);
  EXPECT_EQ(SockstatField(stat, "TCP", "inuse"), 0u);
  EXPECT_EQ(SockstatField(stat, "FRAG", "memory"), 0u);
  EXPECT_EQ(SockstatField(stat, "TCP", "nonexistent"), std::nullopt);
  EXPECT_EQ(SockstatField(stat, "SCTP", "inuse"), std::nullopt);
  const Sockstat stat6 = ParseSockstat(Fixture("sockstat6.netns"));
  EXPECT_EQ(SockstatField(stat6, "TCP6", "inuse"), 0u);
}

TEST(Sockstat, ToleratesMalformedInput) {
  const Sockstat stat = ParseSockstat("TCP: inuse x tw 3 orphan\n: nothing\nUDP:\n");
  EXPECT_EQ(SockstatField(stat, "TCP", "tw"), 3u);
  EXPECT_EQ(SockstatField(stat, "TCP", "inuse"), std::nullopt);
}

TEST(ProcCgroup, FindsTheV2LineAmongV1Lines) {
  EXPECT_EQ(ParseCgroupV2Path(Fixture("pid_cgroup.hybrid")), "/");
  EXPECT_EQ(ParseCgroupV2Path("4:memory:/a\n0::/kubepods/pod1/abc\n"), "/kubepods/pod1/abc");
  EXPECT_EQ(ParseCgroupV2Path("4:memory:/a\n"), std::nullopt);
}

TEST(Namespaces, ParsesLinkTargets) {
  EXPECT_EQ(ParseNamespaceInode("net:[4026531840]"), 4026531840u);
  EXPECT_EQ(ParseNamespaceInode("net:[]"), std::nullopt);
  EXPECT_EQ(ParseNamespaceInode("garbage"), std::nullopt);
}

TEST(Namespaces, ListsAtLeastOurOwn) {
  // Runs against the real /proc of whoever runs the tests: our own namespace must be listed, with
  // a pid no higher than ours.
  const HostPaths paths;
  const auto ours = NetworkNamespaceOf(paths, ::getpid());
  ASSERT_TRUE(ours.has_value());
  bool found = false;
  for (const auto& ns : ListNetworkNamespaces(paths)) {
    if (ns.inode == *ours) {
      found = true;
      EXPECT_LE(ns.lowest_pid, ::getpid());
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace podstat::procfs
