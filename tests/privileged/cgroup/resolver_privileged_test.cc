// The resolver on the real cgroup2 mount: ids resolve through kernfs file handles, without a walk.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "podstat/cgroup/resolver.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

TEST(ResolverPrivilegedTest, ResolvesNewAndRemovedCgroupsByHandleWithoutWalking) {
  PODSTAT_REQUIRE_PRIVILEGES();
  std::string error;
  const auto root = cgroup::FindCgroup2Root(HostPaths{}, &error);
  ASSERT_TRUE(root) << error;
  // A rescan interval of an hour: any answer below must come from the handle, not a walk.
  cgroup::CgroupResolver resolver(*root, {std::chrono::hours(1), std::chrono::hours(1)});
  resolver.Rescan();
  const uint64_t walks = resolver.rescans();

  uint64_t id = 0;
  std::string path;
  {
    TestCgroup cgroup;  // made after the walk
    id = cgroup.inode();
    path = cgroup.id();
    EXPECT_EQ(resolver.Resolve(id), path);
    EXPECT_TRUE(resolver.handles_supported());
  }
  EXPECT_EQ(resolver.Resolve(id), std::nullopt) << path << " was removed";
  EXPECT_EQ(resolver.Resolve(0x7fffffffffffULL), std::nullopt);  // never existed
  EXPECT_EQ(resolver.rescans(), walks);
}

}  // namespace
}  // namespace podstat::testing
