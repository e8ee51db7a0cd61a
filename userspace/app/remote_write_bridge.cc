#include "podstat/app/remote_write_bridge.h"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace podstat::app {
namespace {

// Non-empty labels, sorted: how Prometheus identifies a series.
std::vector<std::pair<std::string, std::string>> SortedLabels(
    const prometheus::ClientMetric& metric) {
  std::vector<std::pair<std::string, std::string>> labels;
  for (const auto& label : metric.label) {
    if (!label.value.empty()) labels.emplace_back(label.name, label.value);
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace

std::vector<remote_write::TimeSeries> FamiliesToSeries(
    const std::vector<prometheus::MetricFamily>& families, int64_t timestamp_ms) {
  std::vector<remote_write::TimeSeries> series;
  for (const prometheus::MetricFamily& family : families) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      double value;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          value = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          value = metric.gauge.value;
          break;
        case prometheus::MetricType::Untyped:
          value = metric.untyped.value;
          break;
        default:
          continue;  // podstat exports no summaries or histograms
      }
      remote_write::TimeSeries& one = series.emplace_back();
      one.labels.reserve(metric.label.size() + 1);
      one.labels.push_back({"__name__", family.name});
      for (const auto& label : metric.label) {
        // An empty value is an absent label to Prometheus; remote_write forbids sending it.
        if (!label.value.empty()) one.labels.push_back({label.name, label.value});
      }
      one.samples.push_back({value, timestamp_ms});
    }
  }
  return series;
}

void MergeRelayed(std::vector<prometheus::MetricFamily>& families,
                  const std::vector<remote_write::RelayFamily>& relayed) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < families.size(); ++i) index.emplace(families[i].name, i);
  for (const remote_write::RelayFamily& family : relayed) {
    auto it = index.find(family.name);
    if (it == index.end()) {
      prometheus::MetricFamily added;
      added.name = family.name;
      added.help = "Relayed from a remote_write sender (podstat --receiver.enable).";
      added.type = prometheus::MetricType::Untyped;
      families.push_back(std::move(added));
      it = index.emplace(family.name, families.size() - 1).first;
    }
    prometheus::MetricFamily& into = families[it->second];
    // A relayed series with exactly the labels of one of ours would be a duplicate sample on
    // the page, which Prometheus rejects for the whole scrape: ours wins.
    std::set<std::vector<std::pair<std::string, std::string>>> present;
    for (const prometheus::ClientMetric& metric : into.metric) present.insert(SortedLabels(metric));
    for (const remote_write::RelaySeries& series : family.series) {
      prometheus::ClientMetric metric;
      for (const auto& label : series.labels) {
        if (label.name != "__name__") metric.label.push_back({label.name, label.value});
      }
      if (!present.insert(SortedLabels(metric)).second) continue;
      switch (into.type) {
        case prometheus::MetricType::Counter:
          metric.counter.value = series.value;
          break;
        case prometheus::MetricType::Gauge:
          metric.gauge.value = series.value;
          break;
        default:
          metric.untyped.value = series.value;
          break;
      }
      into.metric.push_back(std::move(metric));
    }
  }
}

}  // namespace podstat::app
