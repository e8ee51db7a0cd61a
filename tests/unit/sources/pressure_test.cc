// ParsePressure on the files cgroup_pressure reads: copies of this host's (6.18), and the text
// shapes other kernels write.
#include <gtest/gtest.h>

#include "podstat/sources/sources.h"
#include "podstat/util/file.h"

namespace podstat::sources {
namespace {

std::string Fixture(const std::string& name) {
  return ReadFile(std::string(PODSTAT_FIXTURES_DIR) + "/pressure/" + name).value();
}

TEST(ParsePressure, ReadsSomeAndFullTotalsInMicroseconds) {
  const auto cpu = ParsePressure(Fixture("cpu.pressure"));
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->some_us, 77828982u);
  EXPECT_EQ(cpu->full_us, 25096768u);
  const auto io = ParsePressure(Fixture("io.pressure"));
  ASSERT_TRUE(io);
  EXPECT_EQ(io->some_us, 67197u);
  EXPECT_EQ(io->full_us, 66851u);
}

TEST(ParsePressure, CpuWithoutAFullLineAsBefore513) {
  const auto cpu = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->some_us, 1234u);
  EXPECT_FALSE(cpu->full_us);
}

TEST(ParsePressure, NothingWithoutASomeTotal) {
  EXPECT_FALSE(ParsePressure(""));  // PSI off: the read fails, or returns nothing
  EXPECT_FALSE(ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n"));
  EXPECT_FALSE(ParsePressure("some avg10=0.00 total=-3\n"));
  EXPECT_FALSE(ParsePressure("some avg10=0.00 total=18446744073709551616\n"));  // 2^64
  EXPECT_FALSE(ParsePressure("\xff\xfe some total=1\n"));
}

}  // namespace
}  // namespace podstat::sources
