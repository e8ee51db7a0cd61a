#include "podstat/cgroup/namespace.h"

#include <gtest/gtest.h>

namespace podstat::cgroup {
namespace {

// Read on this host (hybrid cgroups, cgroup2 at /sys/fs/cgroup/unified) from a shell started
// with `unshare -C` inside /sys/fs/cgroup/unified/nstest, and from the host's namespace.
constexpr char kHostMountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr char kPrivateMountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr char kHostInit[] = "9:name=systemd:/\n8:pids:/\n0::/\n";
constexpr char kPrivateInit[] = "9:name=systemd:/\n8:pids:/\n0::/..\n";

TEST(CgroupNamespace, HostViewIsNotPrivate) {
  EXPECT_FALSE(SeesPrivateCgroupNamespace(kHostInit, kHostMountinfo));
  EXPECT_FALSE(SeesPrivateCgroupNamespace("", kHostMountinfo));  // /proc/1/cgroup unreadable
  // A host process in a deeper cgroup, and a directory whose name merely starts with "..".
  EXPECT_FALSE(SeesPrivateCgroupNamespace("0::/system.slice/..hidden\n", kHostMountinfo));
}

TEST(CgroupNamespace, EitherSignOfAPrivateNamespaceCounts) {
  EXPECT_TRUE(SeesPrivateCgroupNamespace(kPrivateInit, kPrivateMountinfo));
  // The agent's own fresh cgroup2 mount (docker --cgroupns=private) shows "/", pid 1 does not.
  EXPECT_TRUE(SeesPrivateCgroupNamespace(kPrivateInit, kHostMountinfo));
  EXPECT_TRUE(SeesPrivateCgroupNamespace("0::/../../kubepods.slice\n", kHostMountinfo));
  // Without host pid 1 in view, the host's cgroup2 mount seen from inside still tells.
  EXPECT_TRUE(SeesPrivateCgroupNamespace("", kPrivateMountinfo));
}

}  // namespace
}  // namespace podstat::cgroup
