// The registry against what the binary really writes: every catalogue entry has a source, the
// labels the README's table states are the writer's, and the README quotes the table whole.
#include "podstat/sources/registry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/exposition_snapshots.h"
#include "podstat/app/self_metrics.h"
#include "podstat/metrics/exposition.h"

namespace podstat::sources {
namespace {

TEST(Registry, EveryCatalogueEntryIsWrittenByASourceOrByTheAgent) {
  for (const metrics::MetricSpec& spec : metrics::kCatalogue) {
    bool written = false;
    for (const SourceInfo* info : kRegistry) {
      for (const metrics::MetricSpec* metric : info->metrics) written |= metric->name == spec.name;
    }
    for (const metrics::MetricSpec* metric : kAgentMetrics) written |= metric->name == spec.name;
    EXPECT_TRUE(written) << spec.name << " is in the catalogue but no source claims it";
  }
}

TEST(Registry, NamesAreUniqueAndFallbacksNameASource) {
  std::set<std::string_view> names;
  for (const SourceInfo* info : kRegistry) {
    EXPECT_TRUE(names.insert(info->name).second) << info->name;
    EXPECT_FALSE(info->provides.empty()) << info->name;
    EXPECT_FALSE(info->metrics.empty()) << info->name;
    if (!info->fallback_of.empty()) {
      EXPECT_NE(FindSource(info->fallback_of), nullptr)
          << info->name << " -> " << info->fallback_of;
    }
    EXPECT_EQ(FindSource(info->name), info);
  }
  EXPECT_EQ(FindSource("no_such_source"), nullptr);
}

// Collects the label names of every series per family, as the writer emits them.
class LabelNames : public metrics::SeriesSink {
 public:
  void BeginFamily(std::string_view name, metrics::FamilyType, std::string_view, bool) override {
    family_ = std::string(name);
  }
  void Series(const metrics::Identity* identity, std::span<const metrics::Label> labels,
              double) override {
    std::set<std::string>& names = names_[family_];
    if (identity) names.insert("container labels");
    for (const metrics::Label& label : labels) names.insert("`" + std::string(label.name) + "`");
  }
  void EndFamily() override {}
  std::map<std::string, std::set<std::string>> names_;

 private:
  std::string family_;
};

std::set<std::string> Documented(std::string_view text) {
  std::set<std::string> names;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    if (!item.empty() && item.front() == ' ') item.erase(0, 1);
    if (!item.empty()) names.insert(item);
  }
  return names;
}

TEST(Registry, DocumentedLabelsAreTheWritersLabels) {
  LabelNames sink;
  metrics::WriteFamilies(testing::EveryKindSnapshot(),
                         {"6.18.0", std::chrono::system_clock::time_point(), true}, sink);
  // The relay's, the sender's and a listener's, as /metrics appends them.
  remote_write::RelayStats relay;
  relay.requests[204] = 1;
  http::ServerStats listener;
  listener.name = "web";
  listener.responses[200] = 3;
  app::WriteSelfFamilies({&relay, {{"https://example.invalid/api/v1/write"}}, {listener}}, sink);
  for (const metrics::MetricSpec& spec : metrics::kCatalogue) {
    const auto written = sink.names_.find(std::string(spec.name));
    ASSERT_NE(written, sink.names_.end())
        << spec.name << ": EveryKindSnapshot() must give every family a series";
    EXPECT_EQ(Documented(DocumentedLabels(spec.name)), written->second) << spec.name;
  }
}

TEST(Registry, MetricTableHasOneRowPerCatalogueEntryAndOnePerSource) {
  const std::string table = RenderMetricTable();
  for (const metrics::MetricSpec& spec : metrics::kCatalogue) {
    const std::string row = "| `" + std::string(spec.name) + "` |";
    const size_t at = table.find(row);
    ASSERT_NE(at, std::string::npos) << spec.name;
    EXPECT_EQ(table.find(row, at + 1), std::string::npos) << spec.name << " twice";
  }
  for (const SourceInfo* info : kRegistry) {
    EXPECT_NE(table.find("| `" + std::string(info->name) + "` |"), std::string::npos) << info->name;
  }
}

// The README's metric table is `podstat --metrics`, pasted: a metric, label or HELP text changed
// without it leaves the README stale.
TEST(Registry, ReadmeQuotesTheCurrentMetricTable) {
  std::ifstream readme(std::string(PODSTAT_FIXTURES_DIR) + "/../../README.md");
  ASSERT_TRUE(readme) << "README.md not found next to tests/";
  std::stringstream text;
  text << readme.rdbuf();
  EXPECT_NE(text.str().find(RenderMetricTable()), std::string::npos)
      << "README.md's metric table is stale: paste the output of `build/podstat --metrics`";
}

}  // namespace
}  // namespace podstat::sources
