// Between podstat's series builder and remote_write: our own series become TimeSeries for the
// sender, and series relayed by the receiver join the families served on /metrics. Both are
// metrics::SeriesSink decorators or targets, fed by the one builder; pure over values.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "podstat/metrics/exposition.h"
#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::app {

// One TimeSeries per series, __name__ first then the series' labels that have a value (an empty
// value is an absent label to Prometheus; remote_write forbids sending it), one sample at
// timestamp_ms. The sender sorts labels and adds external ones.
class TimeSeriesSink : public metrics::SeriesSink {
 public:
  TimeSeriesSink(std::vector<remote_write::TimeSeries>& out, int64_t timestamp_ms)
      : out_(out), timestamp_ms_(timestamp_ms) {}
  void BeginFamily(std::string_view name, metrics::FamilyType type, std::string_view help,
                   bool keep_when_empty) override;
  void Series(const metrics::Identity* identity, std::span<const metrics::Label> labels,
              double value) override;
  void EndFamily() override {}

 private:
  std::vector<remote_write::TimeSeries>& out_;
  int64_t timestamp_ms_;
  std::string name_;
};

// Every series of the snapshot (podstat_snapshot_age_seconds as of context.now included).
std::vector<remote_write::TimeSeries> SnapshotToSeries(const model::Snapshot& snapshot,
                                                       const metrics::BuildContext& context,
                                                       int64_t timestamp_ms);

// Relayed series join the page on their way to `inner`: into podstat's own family of the same
// name, after its series (a name may be exported only once per page), else -- at Finish -- in a
// new untyped family after all of ours. A relayed series with exactly the labels of one of ours
// (empty values ignored, as Prometheus does) is left out: it would be a duplicate sample, which
// Prometheus rejects for the whole scrape; ours wins. No timestamps: the relay keeps only the
// newest sample and expires series after --receiver.ttl.
class RelayMergingSink : public metrics::SeriesSink {
 public:
  RelayMergingSink(metrics::SeriesSink& inner,
                   const std::vector<remote_write::RelayFamily>& relayed);
  void BeginFamily(std::string_view name, metrics::FamilyType type, std::string_view help,
                   bool keep_when_empty) override;
  void Series(const metrics::Identity* identity, std::span<const metrics::Label> labels,
              double value) override;
  void EndFamily() override;
  // The relayed families none of ours took, each as a new untyped family. Call once, last.
  void Finish();

  static constexpr std::string_view kRelayedHelp =
      "Relayed from a remote_write sender (podstat --receiver.enable).";

 private:
  using LabelSet = std::vector<std::pair<std::string, std::string>>;
  void AppendRelayed(std::string_view name);

  metrics::SeriesSink& inner_;
  const std::vector<remote_write::RelayFamily>& relayed_;
  // Relayed families by name, in their order (a name may come more than once).
  std::unordered_map<std::string_view, std::vector<const remote_write::RelayFamily*>> by_name_;
  std::unordered_set<std::string_view> taken_;
  // The family being written, while a relayed family waits for it.
  std::string_view current_;
  bool collecting_ = false;
  bool keep_when_empty_ = false;
  size_t series_ = 0;
  std::set<LabelSet> present_;
};

}  // namespace podstat::app
