// The streaming writer against the exposition it replaced (common/legacy_families.h: prometheus-cpp
// MetricFamily values, TextSerializer, MergeRelayed), on fixed snapshots with every metric kind,
// hostile label values and relayed families. Every line must be byte-identical except sample
// values prometheus-cpp 1.0.1 spells differently: it prints "%.16g" (so 17-digit values lose
// their last digit: 0.30000000000000004 -> 0.3) and "Nan". There the series (name and labels)
// must still be byte-identical, the writer's value must read back as exactly the double the
// snapshot holds, and prometheus-cpp's text must be that double's "%.16g" rounding.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "common/exposition_snapshots.h"
#include "common/legacy_families.h"
#include "common/promtool.h"
#include "podstat/app/remote_write_bridge.h"
#include "podstat/metrics/exposition.h"

namespace podstat::metrics {
namespace {

const BuildContext kContext{
    "6.18.0-podstat",
    std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'002)) +
        std::chrono::milliseconds(500),
    false};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "%.16g" of the value the writer wrote, which is what prometheus-cpp writes for it.
bool IsPrometheusCppSpelling(const std::string& ours, const std::string& theirs) {
  const double value = std::strtod(ours.c_str(), nullptr);
  if (std::isnan(value)) return theirs == "Nan";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.16g", value);
  return theirs == buffer;
}

// Returns how many sample values are spelled differently (each one checked as above).
size_t ExpectEquivalent(const std::string& ours, const std::string& theirs) {
  const auto our_lines = Lines(ours);
  const auto their_lines = Lines(theirs);
  EXPECT_EQ(our_lines.size(), their_lines.size());
  EXPECT_TRUE(ours.empty() || ours.back() == '\n');
  size_t respelled = 0;
  for (size_t i = 0; i < std::min(our_lines.size(), their_lines.size()); ++i) {
    const std::string& a = our_lines[i];
    const std::string& b = their_lines[i];
    if (a == b) continue;
    ++respelled;
    const size_t a_space = a.rfind(' ');
    const size_t b_space = b.rfind(' ');
    if (a.starts_with('#') || a_space == std::string::npos || b_space == std::string::npos ||
        a.substr(0, a_space) != b.substr(0, b_space)) {
      ADD_FAILURE() << "line " << i + 1 << " differs:\nwriter:       " << a
                    << "\nprometheus-cpp: " << b;
      continue;
    }
    const std::string a_value = a.substr(a_space + 1);
    const std::string b_value = b.substr(b_space + 1);
    EXPECT_TRUE(IsPrometheusCppSpelling(a_value, b_value))
        << "line " << i + 1 << ": writer " << a_value << ", prometheus-cpp " << b_value;
    std::cout << "respelled: " << a.substr(0, std::min<size_t>(a_space, 60)) << "... writer "
              << a_value << ", prometheus-cpp " << b_value << "\n";
  }
  return respelled;
}

std::string Old(const model::Snapshot& snapshot, const BuildContext& context,
                const std::vector<remote_write::RelayFamily>& relayed) {
  auto families = testing::legacy::BuildFamilies(snapshot, context);
  testing::legacy::MergeRelayed(families, relayed);
  return testing::legacy::Serialize(families);
}

std::string New(const model::Snapshot& snapshot, const BuildContext& context,
                const std::vector<remote_write::RelayFamily>& relayed) {
  std::string text;
  TextSink sink(text);
  app::RelayMergingSink merged(sink, relayed);
  WriteFamilies(snapshot, context, merged);
  merged.Finish();
  return text;
}

// promtool exits 1 on a parse error and 3 on lint findings only; cAdvisor's names are gauges
// ending in _total (as cAdvisor declares them), which its lint reports and nothing else may.
void ExpectPromtoolAccepts(const std::string& text, bool cadvisor_names = false) {
  if (!testing::HavePromtool()) {
    GTEST_SKIP() << "SKIPPED LOUDLY: no promtool on PATH (make test-deps installs it)";
  }
  const auto [status, output] = testing::PromtoolCheckMetrics(text);
  if (!cadvisor_names) {
    EXPECT_EQ(status, 0) << output;
    return;
  }
  EXPECT_TRUE(status == 0 || WEXITSTATUS(status) == 3) << output;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    EXPECT_TRUE(line.starts_with("container_network_") &&
                line.ends_with("non-counter metrics should not have \"_total\" suffix"))
        << line;
  }
}

TEST(ExpositionOracle, EveryKindWithRelayedFamiliesMatchesPrometheusCpp) {
  const model::Snapshot snapshot = testing::EveryKindSnapshot();
  const auto relayed = testing::HostileRelayed();
  const std::string ours = New(snapshot, kContext, relayed);
  const size_t respelled = ExpectEquivalent(ours, Old(snapshot, kContext, relayed));
  std::cout << ours.size() << " bytes, " << Lines(ours).size() << " lines, " << respelled
            << " values spelled differently (prometheus-cpp's %.16g and Nan)\n";
  EXPECT_GT(respelled, 0u) << "the snapshot no longer exercises the value spellings";
  ExpectPromtoolAccepts(ours);
}

TEST(ExpositionOracle, CadvisorCompatMatchesPrometheusCpp) {
  BuildContext compat = kContext;
  compat.compat_cadvisor = true;
  const model::Snapshot snapshot = testing::EveryKindSnapshot();
  const std::string ours = New(snapshot, compat, {});
  ExpectEquivalent(ours, Old(snapshot, compat, {}));
  EXPECT_NE(ours.find("# TYPE container_network_udp6_usage_total gauge\n"), std::string::npos);
  ExpectPromtoolAccepts(ours, /*cadvisor_names=*/true);
}

// An empty snapshot: container_tcp_sockets is described without series and takes a relayed
// namesake; container_sockets is not on the page, so its relayed namesake is a family of its own.
TEST(ExpositionOracle, EmptySnapshotAndRelayedNamesakesOfAbsentFamiliesMatchPrometheusCpp) {
  std::vector<remote_write::RelayFamily> relayed(2);
  relayed[0].name = "container_sockets";
  relayed[0].series = {{{{"__name__", "container_sockets"}, {"type", "stream"}}, 3, 1}};
  relayed[1].name = "container_tcp_sockets";
  relayed[1].series = {{{{"__name__", "container_tcp_sockets"}, {"state", "listen"}}, 2, 1}};
  const std::string ours = New(model::Snapshot{}, BuildContext{}, relayed);
  EXPECT_EQ(ExpectEquivalent(ours, Old(model::Snapshot{}, BuildContext{}, relayed)), 0u);
  EXPECT_NE(ours.find("# TYPE container_sockets untyped\ncontainer_sockets{type=\"stream\"} 3\n"),
            std::string::npos)
      << ours;
  ExpectPromtoolAccepts(ours);
}

TEST(ExpositionOracle, RemoteWriteSeriesMatchTheFamiliesOnes) {
  const model::Snapshot snapshot = testing::EveryKindSnapshot();
  const auto ours = app::SnapshotToSeries(snapshot, kContext, 1234);
  const auto theirs =
      testing::legacy::FamiliesToSeries(testing::legacy::BuildFamilies(snapshot, kContext), 1234);
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].labels, theirs[i].labels) << i;
    ASSERT_EQ(ours[i].samples.size(), 1u);
    // Bit for bit: both carry the double itself, no text in between.
    EXPECT_EQ(std::memcmp(&ours[i].samples[0].value, &theirs[i].samples[0].value, sizeof(double)),
              0)
        << i << ": " << ours[i].samples[0].value << " vs " << theirs[i].samples[0].value;
    EXPECT_EQ(ours[i].samples[0].timestamp_ms, 1234);
  }
}

}  // namespace
}  // namespace podstat::metrics
