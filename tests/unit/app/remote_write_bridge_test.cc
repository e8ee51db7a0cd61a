#include "podstat/app/remote_write_bridge.h"

#include <gtest/gtest.h>

namespace podstat::app {
namespace {

prometheus::MetricFamily Gauge(const std::string& name,
                               std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(metric);
  return family;
}

TEST(RemoteWriteBridge, FamiliesBecomeSeriesWithNameFirstAndNoEmptyLabels) {
  prometheus::MetricFamily counter;
  counter.name = "podstat_socket_drift_total";
  counter.type = prometheus::MetricType::Counter;
  counter.metric.emplace_back();
  counter.metric.back().counter.value = 7;
  const auto series = FamiliesToSeries(
      {Gauge("container_udp_sockets", {{"pod", ""}, {"id", "/a"}}, 3), counter}, 1234);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].labels, (std::vector<remote_write::Label>{
                                  {"__name__", "container_udp_sockets"}, {"id", "/a"}}));
  EXPECT_EQ(series[0].samples.at(0).value, 3);
  EXPECT_EQ(series[0].samples.at(0).timestamp_ms, 1234);
  EXPECT_EQ(series[1].samples.at(0).value, 7);
}

TEST(RemoteWriteBridge, RelayedSeriesJoinOurFamilyByNameOrAnUntypedOne) {
  std::vector<prometheus::MetricFamily> families = {
      Gauge("container_memory_usage_bytes", {{"id", "/a"}}, 100)};
  std::vector<remote_write::RelayFamily> relayed(2);
  relayed[0].name = "container_memory_usage_bytes";
  relayed[0].series = {
      {{{"__name__", "container_memory_usage_bytes"}, {"id", "/a"}}, 999, 1},  // same as ours
      {{{"__name__", "container_memory_usage_bytes"}, {"id", "/a"}, {"relay", "x"}}, 5, 1}};
  relayed[1].name = "container_fs_usage_bytes";
  relayed[1].series = {{{{"__name__", "container_fs_usage_bytes"}, {"device", "sda"}}, 42, 1}};
  MergeRelayed(families, relayed);
  ASSERT_EQ(families.size(), 2u);
  // Ours is kept, the identical relayed one dropped (a duplicate would fail the whole scrape),
  // the one with an extra label added as a gauge like ours.
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].gauge.value, 100);
  EXPECT_EQ(families[0].metric[1].gauge.value, 5);
  EXPECT_EQ(families[0].metric[1].label.size(), 2u);
  EXPECT_EQ(families[1].name, "container_fs_usage_bytes");
  EXPECT_EQ(families[1].type, prometheus::MetricType::Untyped);
  EXPECT_EQ(families[1].metric.at(0).untyped.value, 42);
}

}  // namespace
}  // namespace podstat::app
