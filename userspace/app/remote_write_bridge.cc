#include "podstat/app/remote_write_bridge.h"

#include <algorithm>

namespace podstat::app {

void TimeSeriesSink::BeginFamily(std::string_view name, metrics::FamilyType, std::string_view,
                                 bool) {
  name_.assign(name);
}

void TimeSeriesSink::Series(const metrics::Identity* identity,
                            std::span<const metrics::Label> labels, double value) {
  remote_write::TimeSeries& one = out_.emplace_back();
  one.labels.reserve(1 + (identity ? identity->labels.size() : 0) + labels.size());
  one.labels.push_back({"__name__", name_});
  auto add = [&one](const metrics::Label& label) {
    if (!label.value.empty())
      one.labels.push_back({std::string(label.name), std::string(label.value)});
  };
  if (identity) std::for_each(identity->labels.begin(), identity->labels.end(), add);
  std::for_each(labels.begin(), labels.end(), add);
  one.samples.push_back({value, timestamp_ms_});
}

std::vector<remote_write::TimeSeries> SnapshotToSeries(const model::Snapshot& snapshot,
                                                       const metrics::BuildContext& context,
                                                       int64_t timestamp_ms) {
  std::vector<remote_write::TimeSeries> series;
  TimeSeriesSink sink(series, timestamp_ms);
  metrics::WriteFamilies(snapshot, context, sink);
  return series;
}

RelayMergingSink::RelayMergingSink(metrics::SeriesSink& inner,
                                   const std::vector<remote_write::RelayFamily>& relayed)
    : inner_(inner), relayed_(relayed) {
  for (const remote_write::RelayFamily& family : relayed_) by_name_[family.name].push_back(&family);
}

void RelayMergingSink::BeginFamily(std::string_view name, metrics::FamilyType type,
                                   std::string_view help, bool keep_when_empty) {
  inner_.BeginFamily(name, type, help, keep_when_empty);
  const auto it = by_name_.find(name);
  collecting_ = it != by_name_.end() && !taken_.contains(it->first);
  current_ = collecting_ ? it->first : std::string_view();
  keep_when_empty_ = keep_when_empty;
  series_ = 0;
  present_.clear();
}

void RelayMergingSink::Series(const metrics::Identity* identity,
                              std::span<const metrics::Label> labels, double value) {
  inner_.Series(identity, labels, value);
  ++series_;
  if (!collecting_) return;
  LabelSet set;
  auto add = [&set](const metrics::Label& label) {
    if (!label.value.empty()) set.emplace_back(label.name, label.value);
  };
  if (identity) std::for_each(identity->labels.begin(), identity->labels.end(), add);
  std::for_each(labels.begin(), labels.end(), add);
  std::sort(set.begin(), set.end());
  present_.insert(std::move(set));
}

void RelayMergingSink::EndFamily() {
  // A family of ours that leaves no trace on the page (empty) takes nothing: its relayed
  // namesake gets a family of its own at the end, as if ours did not exist.
  if (collecting_ && (series_ > 0 || keep_when_empty_)) AppendRelayed(current_);
  collecting_ = false;
  inner_.EndFamily();
}

void RelayMergingSink::AppendRelayed(std::string_view name) {
  taken_.insert(name);
  std::vector<metrics::Label> labels;
  for (const remote_write::RelayFamily* family : by_name_.at(name)) {
    for (const remote_write::RelaySeries& series : family->series) {
      labels.clear();
      LabelSet set;
      for (const remote_write::Label& label : series.labels) {
        if (label.name == "__name__") continue;
        labels.push_back({label.name, label.value});
        if (!label.value.empty()) set.emplace_back(label.name, label.value);
      }
      std::sort(set.begin(), set.end());
      if (!present_.insert(std::move(set)).second) continue;
      inner_.Series(nullptr, labels, series.value);
    }
  }
}

void RelayMergingSink::Finish() {
  for (const remote_write::RelayFamily& family : relayed_) {
    if (taken_.contains(family.name)) continue;
    inner_.BeginFamily(family.name, metrics::FamilyType::kUntyped, kRelayedHelp,
                       /*keep_when_empty=*/true);
    present_.clear();
    AppendRelayed(by_name_.find(family.name)->first);
    inner_.EndFamily();
  }
}

}  // namespace podstat::app
