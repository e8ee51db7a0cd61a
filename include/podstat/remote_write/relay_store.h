// The receiver's relay store: the newest sample of every allowed series that senders remote_write
// to us, re-exposed on /metrics next to podstat's own metrics (the job of seed 004's k8s_exporter:
// cAdvisor -> Prometheus -> us -> another Prometheus).
//
// Rules:
//   - Only series whose metric name fully matches one of --receiver.allow-metric are kept; the
//     rest are counted as filtered. Plain names are matched through a hash set; only patterns
//     with regex syntax go to RE2 (linear time, no recursion: a name of any length is safe on a
//     small HTTP worker stack, which libstdc++'s recursive matcher was not), and each metric
//     name's verdict is cached (bounded).
//   - Every stored series carries relay="remote_write" (kRelayLabel), set here and overwriting any
//     relay label the sender sent, so a relayed series can never pass for one of podstat's own,
//     which never carry it.
//   - --receiver.extra-label pairs are added to every stored series unless the series already has
//     that label (Prometheus's external_labels rule: the series' own value wins).
//   - Per series the newest sample by timestamp wins; an older or equal timestamp never replaces
//     it (counted out_of_order). A stale marker as the newest sample removes the series: it ended.
//   - A sample more than max_future ahead of the wall clock refuses its request (400): stored, it
//     would make every real sample after it "out of order" until the year it claims.
//   - A series not refreshed (no sample accepted for it) within ttl is expired: a sender that
//     keeps resending old samples does not keep it alive.
//   - At most max_series series and max_bytes bytes (labels plus a fixed cost per series). When
//     full, new series are refused (counted; the request answers 429) while samples of series
//     already stored are still applied, so a full store stays fresh instead of going stale all
//     at once.
//   - A request is validated as a whole before any of it is applied: an invalid one (labels
//     breaking validate.h's rules or SeriesLimits, a sample too far in the future) changes
//     nothing.
// Thread-safe: one mutex; validation runs outside it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/validate.h"

namespace re2 {
class RE2;
}

namespace podstat::remote_write {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

// The label every relayed series carries, and its value.
inline constexpr std::string_view kRelayLabel = "relay";
inline constexpr std::string_view kRelayLabelValue = "remote_write";

// What a series costs the store beyond its label bytes (hash node, key string, entry, bucket),
// for max_bytes: measured, not exact, and on the high side.
inline constexpr size_t kSeriesOverheadBytes = 128;

// Why a request was refused: the reason label of podstat_receiver_rejected_requests_total.
namespace reject {
inline constexpr std::string_view kUnsupportedMediaType = "unsupported_media_type";  // 415
inline constexpr std::string_view kBodyTooLarge = "body_too_large";                  // 413
inline constexpr std::string_view kMalformed = "malformed";  // 400: snappy, protobuf, decode caps
inline constexpr std::string_view kInvalidLabels = "invalid_labels";               // 400
inline constexpr std::string_view kInvalidUtf8 = "invalid_utf8";                   // 400
inline constexpr std::string_view kLabelLimit = "label_limit";                     // 400
inline constexpr std::string_view kLabelNameLength = "label_name_length_limit";    // 400
inline constexpr std::string_view kLabelValueLength = "label_value_length_limit";  // 400
inline constexpr std::string_view kTooFarInFuture = "too_far_in_future";           // 400
inline constexpr std::string_view kMaxSeries = "max_series";                       // 429
inline constexpr std::string_view kMaxBytes = "max_bytes";                         // 429
inline constexpr std::string_view kAll[] = {
    kUnsupportedMediaType, kBodyTooLarge, kMalformed,       kInvalidLabels,
    kInvalidUtf8,          kLabelLimit,   kLabelNameLength, kLabelValueLength,
    kTooFarInFuture,       kMaxSeries,    kMaxBytes};
}  // namespace reject

// The five cAdvisor metrics seed 004's relay forwards.
std::vector<std::string> DefaultAllowMetrics();

// Flags: --receiver.allow-metric (repeatable; replaces the default list when given),
// --receiver.extra-label k=v (repeatable), --receiver.ttl, --receiver.max-series,
// --receiver.max-bytes, --receiver.max-future, --receiver.label-limit,
// --receiver.label-name-length-limit, --receiver.label-value-length-limit.
struct RelayOptions {
  std::vector<std::string> allow_metrics = DefaultAllowMetrics();  // fully-anchored RE2 regexes
  std::vector<Label> extra_labels;
  std::chrono::milliseconds ttl = std::chrono::minutes(5);
  size_t max_series = 50'000;
  // 64 MiB holds the 50,000 default series at ~1.2 KiB each (cAdvisor's run ~0.5 KiB).
  size_t max_bytes = 64u << 20;
  // Grafana Mimir's creation_grace_period: clocks a few minutes apart still get through.
  std::chrono::milliseconds max_future = std::chrono::minutes(10);
  SeriesLimits series_limits;
  std::function<WallClock::time_point()> wall_clock = [] { return WallClock::now(); };
};

enum class IngestStatus {
  kOk,             // 204
  kInvalid,        // 400: nothing applied
  kTooManySeries,  // 429: some new series refused (max_series or max_bytes), the rest applied
};

struct IngestResult {
  IngestStatus status = IngestStatus::kOk;
  std::string error;          // why, when kInvalid
  std::string_view reason;    // one of reject::, when not kOk
  size_t accepted = 0;        // samples newer than what was stored (or superseded in-request)
  size_t filtered = 0;        // samples of metrics not allowed
  size_t out_of_order = 0;    // samples not newer than the series' newest
  size_t rejected = 0;        // samples of invalid requests or of refused new series
  size_t refused_series = 0;  // new series refused by max_series or max_bytes
};

// One stored series, for exposition.
struct RelaySeries {
  std::vector<Label> labels;  // sorted by name, __name__ included, extra labels merged in
  double value = 0;
  int64_t timestamp_ms = 0;
};

struct RelayFamily {
  std::string name;
  std::vector<RelaySeries> series;  // sorted by labels
};

struct RelayStats {
  uint64_t samples_accepted = 0;
  uint64_t samples_filtered = 0;
  uint64_t samples_out_of_order = 0;
  uint64_t samples_rejected = 0;
  uint64_t series_limit_rejections = 0;
  size_t series = 0;
  size_t bytes = 0;                                                // against max_bytes
  std::map<int, uint64_t> requests;                                // by HTTP status code
  std::map<std::string, uint64_t, std::less<>> rejected_requests;  // by reject:: reason
};

class RelayStore {
 public:
  // Fails (nullptr, reason in *error) on a regex that does not compile (RE2 syntax, as
  // Prometheus's), or an extra label with an invalid name, the name "relay", an empty value or a
  // value that is not UTF-8.
  static std::unique_ptr<RelayStore> Create(RelayOptions options, std::string* error);
  RelayStore(const RelayStore&) = delete;
  RelayStore& operator=(const RelayStore&) = delete;

  // Validates and applies a decoded request. Normalises the view in place on the way (each
  // series' labels sorted, empty-valued ones dropped from its label_count): no copies, so the
  // receiver's hot path allocates nothing per label.
  IngestResult Ingest(WriteRequestView& request, Clock::time_point now);

  // The live series (expired ones are dropped first), grouped by metric name, families sorted.
  std::vector<RelayFamily> Collect(Clock::time_point now);

  // The live series as text exposition (format 0.0.4): per family "# HELP", "# TYPE name untyped"
  // and one line per series, without timestamps -- the relay re-exposes the latest value as a
  // current reading (as seed 004 does), and an explicit old timestamp would make the scraping
  // Prometheus skip staleness handling or reject the sample as out of bounds.
  // Families for which skip_family returns true are left out: the caller passes the names its own
  // exposition already has, since one family must not appear twice on a page (promtool rejects
  // it). Those series are then not re-exposed; merging them into the caller's family is the
  // alternative, via Collect().
  std::string RenderExposition(Clock::time_point now,
                               const std::function<bool(std::string_view)>& skip_family = {});

  // Counts one answered request (HandleWrite calls it), and a refused one by its reason too.
  void CountRequest(int status_code, std::string_view reason = {});
  ~RelayStore();

  RelayStats Stats() const;

 private:
  // A stored series. Its labels live only in its map key (name \xff value \xff ..., sorted, extra
  // labels merged), which is parsed back at exposition time: creating a series then costs two
  // allocations instead of one per label string -- ingest is the hot path, scrapes are rare.
  struct Entry {
    uint32_t name_offset = 0;  // the metric name within the key
    uint32_t name_length = 0;
    double value = 0;
    int64_t timestamp_ms = 0;
    Clock::time_point refreshed;
  };
  // Series keys run to hundreds of bytes; this hashes 8 bytes per step (std::hash's murmur
  // costs about twice as much per byte on such keys).
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  using EntryMap = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  // A label every stored series gets: an extra label (the series' own value wins) or the relay
  // label (it wins over the series').
  struct AddedLabel {
    Label label;
    bool overrides = false;
  };

  explicit RelayStore(RelayOptions options);
  bool Allowed(std::string_view metric_name);
  void ExpireLocked(Clock::time_point now);
  void EraseLocked(EntryMap::iterator it);
  // Refuses a whole request for reason (result.error already says why), counted.
  IngestResult Refuse(std::string_view reason, IngestResult& result,
                      const WriteRequestView& request);
  void ApplySeriesLocked(std::span<const LabelRef> sorted_labels, std::string_view metric_name,
                         std::span<const Sample> samples, Clock::time_point now, bool* swept,
                         IngestResult& result);
  using EntryRef = std::pair<std::string_view, const Entry*>;  // key, entry
  std::vector<EntryRef> SortedEntriesLocked() const;

  const RelayOptions options_;
  std::vector<AddedLabel> added_labels_;  // sorted by name
  std::unordered_set<std::string, StringHash, std::equal_to<>> exact_names_;
  std::vector<std::unique_ptr<re2::RE2>> patterns_;

  mutable std::mutex mutex_;
  EntryMap entries_;
  size_t bytes_ = 0;  // sum of key sizes + kSeriesOverheadBytes per entry
  std::unordered_map<std::string, bool, StringHash, std::equal_to<>> verdicts_;  // name -> allowed
  Clock::time_point last_sweep_{};
  std::string key_;  // scratch for series keys
  RelayStats stats_;
};

// Text exposition of families (as Collect returns them), one "# TYPE name untyped" each.
std::string RenderFamilies(const std::vector<RelayFamily>& families);

// Exposition helpers, shared with the sender's self-metrics.
void AppendEscapedLabelValue(std::string& out, std::string_view value);
void AppendSampleValue(std::string& out, double value);

}  // namespace podstat::remote_write
