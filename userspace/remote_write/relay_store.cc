#include "podstat/remote_write/relay_store.h"

#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "podstat/remote_write/validate.h"
#include "podstat/util/strings.h"

namespace podstat::remote_write {
namespace {

// Expiry scans every series; on ingest do it at most this often (and whenever the store is full).
constexpr auto kMaxSweepInterval = std::chrono::seconds(1);

// Label names and metric names never contain 0xff, and valid UTF-8 never does either, so it
// separates the parts of a series key unambiguously.
constexpr char kKeySeparator = '\xff';

bool IsPlainName(std::string_view pattern) {
  return !pattern.empty() && std::all_of(pattern.begin(), pattern.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
  });
}

// Calls f(name, value) for the union of sorted series labels and sorted added labels, in name
// order; on a clash the series' label wins unless the added one overrides.
template <typename Added, typename F>
void MergeLabels(std::span<const LabelRef> labels, const std::vector<Added>& added, F&& f) {
  size_t i = 0, j = 0;
  while (i < labels.size() || j < added.size()) {
    if (j == added.size() || (i < labels.size() && labels[i].name < added[j].label.name)) {
      f(labels[i].name, labels[i].value);
      ++i;
      continue;
    }
    const Label& label = added[j].label;
    if (i < labels.size() && labels[i].name == label.name) {
      if (added[j].overrides) {
        f(std::string_view(label.name), std::string_view(label.value));
      } else {
        f(labels[i].name, labels[i].value);
      }
      ++i;
    } else {
      f(std::string_view(label.name), std::string_view(label.value));
    }
    ++j;
  }
}

std::string_view ReasonOf(LabelProblem problem) {
  switch (problem) {
    case LabelProblem::kInvalidUtf8:
      return reject::kInvalidUtf8;
    case LabelProblem::kLabelLimit:
      return reject::kLabelLimit;
    case LabelProblem::kLabelNameLength:
      return reject::kLabelNameLength;
    case LabelProblem::kLabelValueLength:
      return reject::kLabelValueLength;
    case LabelProblem::kNone:
    case LabelProblem::kInvalid:
      break;
  }
  return reject::kInvalidLabels;
}

// Calls f(name, value) for each label of a series key.
template <typename F>
void ForEachKeyLabel(std::string_view key, F&& f) {
  while (!key.empty()) {
    const size_t name_end = key.find(kKeySeparator);
    const size_t value_end = key.find(kKeySeparator, name_end + 1);
    f(key.substr(0, name_end), key.substr(name_end + 1, value_end - name_end - 1));
    key.remove_prefix(value_end + 1);
  }
}

// The {a="b",...} part of a series, __name__ left out, values escaped.
void AppendKeyLabelText(std::string& out, std::string_view key) {
  bool first = true;
  ForEachKeyLabel(key, [&](std::string_view name, std::string_view value) {
    if (name == kMetricNameLabel) return;
    out += first ? '{' : ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscapedLabelValue(out, value);
    out += '"';
  });
  if (!first) out += '}';
}

std::string_view FindMetricName(std::span<const LabelRef> sorted) {
  for (const LabelRef& label : sorted)
    if (label.name == kMetricNameLabel) return label.value;
  return {};
}

}  // namespace

size_t RelayStore::StringHash::operator()(std::string_view s) const {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = s.size() * kMul;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof(word));
    h = (std::rotl(h, 23) ^ word) * kMul;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (std::rotl(h, 23) ^ tail) * kMul;
  return static_cast<size_t>(h ^ (h >> 29));
}

std::vector<std::string> DefaultAllowMetrics() {
  return {"container_cpu_load_average_10s", "container_memory_usage_bytes",
          "container_memory_max_usage_bytes", "container_fs_usage_bytes",
          "container_fs_limit_bytes"};
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendSampleValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    // Whole numbers (counters, byte counts) as integers: "1000000", not "1e+06".
    out += std::to_string(static_cast<int64_t>(value));
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, result.ptr);
  }
}

std::unique_ptr<RelayStore> RelayStore::Create(RelayOptions options, std::string* error) {
  auto fail = [&](std::string reason) {
    if (error) *error = std::move(reason);
    return nullptr;
  };
  for (const Label& label : options.extra_labels) {
    if (!IsValidLabelName(label.name) || label.name == kMetricNameLabel)
      return fail("invalid extra label name \"" + label.name + "\"");
    if (label.name == kRelayLabel)
      return fail("extra label " + label.name + " is reserved: podstat sets relay=\"" +
                  std::string(kRelayLabelValue) + "\" on every relayed series");
    if (label.value.empty() || !IsValidUtf8(label.value))
      return fail("extra label " + label.name + " needs a non-empty UTF-8 value");
  }
  std::sort(options.extra_labels.begin(), options.extra_labels.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  for (size_t i = 1; i < options.extra_labels.size(); ++i) {
    if (options.extra_labels[i].name == options.extra_labels[i - 1].name)
      return fail("extra label " + options.extra_labels[i].name + " given twice");
  }
  if (options.max_series == 0) return fail("max series must be positive");
  if (options.max_bytes == 0) return fail("max bytes must be positive");

  std::unique_ptr<RelayStore> store(new RelayStore(options));
  RE2::Options re2_options;
  re2_options.set_log_errors(false);  // the error goes into *error instead of stderr
  for (const std::string& pattern : options.allow_metrics) {
    if (IsPlainName(pattern)) {
      store->exact_names_.insert(pattern);
      continue;
    }
    // Anchored on both ends, as Prometheus anchors relabel regexes: "^(?:" pattern ")$".
    auto re = std::make_unique<RE2>("^(?:" + pattern + ")$", re2_options);
    if (!re->ok())
      return fail("invalid --receiver.allow-metric regex \"" + pattern + "\": " + re->error());
    store->patterns_.push_back(std::move(re));
  }
  return store;
}

RelayStore::RelayStore(RelayOptions options) : options_(std::move(options)) {
  for (const Label& label : options_.extra_labels) added_labels_.push_back({label, false});
  added_labels_.push_back({{std::string(kRelayLabel), std::string(kRelayLabelValue)}, true});
  std::sort(added_labels_.begin(), added_labels_.end(),
            [](const AddedLabel& a, const AddedLabel& b) { return a.label.name < b.label.name; });
}

RelayStore::~RelayStore() = default;

bool RelayStore::Allowed(std::string_view metric_name) {
  if (exact_names_.find(metric_name) != exact_names_.end()) return true;
  if (patterns_.empty()) return false;
  if (auto it = verdicts_.find(metric_name); it != verdicts_.end()) return it->second;
  const bool allowed =
      std::any_of(patterns_.begin(), patterns_.end(), [&](const std::unique_ptr<RE2>& re) {
        return RE2::FullMatch(re2::StringPiece(metric_name.data(), metric_name.size()), *re);
      });
  // Bounded in count and in name length (real names are short, and RE2 is linear on a long one
  // anyway), so at most ~3 MB: a sender inventing endless names must not grow it without limit.
  constexpr size_t kMaxCachedVerdicts = 10'000;
  constexpr size_t kMaxCachedNameBytes = 256;
  if (verdicts_.size() < kMaxCachedVerdicts && metric_name.size() <= kMaxCachedNameBytes)
    verdicts_.emplace(std::string(metric_name), allowed);
  return allowed;
}

void RelayStore::EraseLocked(EntryMap::iterator it) {
  bytes_ -= it->first.size() + kSeriesOverheadBytes;
  entries_.erase(it);
}

void RelayStore::ExpireLocked(Clock::time_point now) {
  last_sweep_ = now;
  std::erase_if(entries_, [&](const auto& item) {
    if (now - item.second.refreshed <= options_.ttl) return false;
    bytes_ -= item.first.size() + kSeriesOverheadBytes;
    return true;
  });
}

IngestResult RelayStore::Refuse(std::string_view reason, IngestResult& result,
                                const WriteRequestView& request) {
  result.status = IngestStatus::kInvalid;
  result.reason = reason;
  result.rejected = request.samples.size();
  std::lock_guard lock(mutex_);
  stats_.samples_rejected += result.rejected;
  return result;
}

IngestResult RelayStore::Ingest(WriteRequestView& request, Clock::time_point now) {
  IngestResult result;
  // Phase 1, without the lock: validate every series, sorting its labels in place.
  for (SeriesRef& series : request.series) {
    const std::span<LabelRef> labels(request.labels.data() + series.first_label,
                                     series.label_count);
    size_t kept = 0;
    const LabelProblem problem =
        NormalizeLabels(labels, options_.series_limits, &kept, &result.error);
    if (problem != LabelProblem::kNone) return Refuse(ReasonOf(problem), result, request);
    series.label_count = static_cast<uint32_t>(kept);
  }
  const int64_t latest_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                (options_.wall_clock() + options_.max_future).time_since_epoch())
                                .count();
  // One pass over the flat sample array; the series is looked up only to name it in the error.
  for (size_t i = 0; i < request.samples.size(); ++i) {
    if (request.samples[i].timestamp_ms <= latest_ms) continue;
    std::string_view metric;
    for (const SeriesRef& series : request.series) {
      if (i >= series.first_sample && i < series.first_sample + series.sample_count)
        metric = FindMetricName(request.LabelsOf(series));
    }
    result.error = "sample of " + std::string(metric) + " at " +
                   std::to_string(request.samples[i].timestamp_ms) +
                   " ms since the epoch, more than " + std::to_string(options_.max_future.count()) +
                   " ms ahead of this host's clock";
    return Refuse(reject::kTooFarInFuture, result, request);
  }

  // Phase 2: apply.
  std::lock_guard lock(mutex_);
  bool swept = false;
  const auto sweep_interval =
      std::min<Clock::duration>(options_.ttl, Clock::duration(kMaxSweepInterval));
  if (now - last_sweep_ >= sweep_interval) {
    ExpireLocked(now);
    swept = true;
  }
  for (const SeriesRef& series : request.series) {
    const std::span<const LabelRef> labels = request.LabelsOf(series);
    ApplySeriesLocked(labels, FindMetricName(labels), request.SamplesOf(series), now, &swept,
                      result);
  }
  if (result.refused_series > 0) result.status = IngestStatus::kTooManySeries;
  stats_.samples_accepted += result.accepted;
  stats_.samples_filtered += result.filtered;
  stats_.samples_out_of_order += result.out_of_order;
  stats_.samples_rejected += result.rejected;
  return result;
}

void RelayStore::ApplySeriesLocked(std::span<const LabelRef> sorted_labels,
                                   std::string_view metric_name, std::span<const Sample> samples,
                                   Clock::time_point now, bool* swept, IngestResult& result) {
  if (samples.empty()) return;
  if (!Allowed(metric_name)) {
    result.filtered += samples.size();
    return;
  }
  key_.clear();
  MergeLabels(sorted_labels, added_labels_, [&](std::string_view name, std::string_view value) {
    key_ += name;
    key_ += kKeySeparator;
    key_ += value;
    key_ += kKeySeparator;
  });
  auto it = entries_.find(std::string_view(key_));
  const bool exists = it != entries_.end();

  // The newest sample, never going back from what is stored.
  std::optional<int64_t> newest_ts;
  if (exists) newest_ts = it->second.timestamp_ms;
  const Sample* newest = nullptr;
  size_t accepted = 0;
  for (const Sample& sample : samples) {
    if (newest_ts && sample.timestamp_ms <= *newest_ts) continue;
    ++accepted;
    newest_ts = sample.timestamp_ms;
    newest = &sample;
  }
  const size_t out_of_order = samples.size() - accepted;

  if (exists) {
    result.accepted += accepted;
    result.out_of_order += out_of_order;
    // Only an accepted sample keeps a series alive: resending old ones is not news.
    if (newest == nullptr) return;
    Entry& entry = it->second;
    entry.refreshed = now;
    if (IsStaleMarker(newest->value)) {
      EraseLocked(it);
      return;
    }
    entry.value = newest->value;
    entry.timestamp_ms = newest->timestamp_ms;
    return;
  }
  if (IsStaleMarker(newest->value)) {  // ended before we ever stored it: nothing to keep
    result.accepted += accepted;
    result.out_of_order += out_of_order;
    return;
  }
  const size_t cost = key_.size() + kSeriesOverheadBytes;
  auto full = [&] {
    return entries_.size() >= options_.max_series || bytes_ + cost > options_.max_bytes;
  };
  if (full() && !*swept) {
    ExpireLocked(now);
    *swept = true;
  }
  if (full()) {
    result.rejected += samples.size();
    ++result.refused_series;
    const bool by_count = entries_.size() >= options_.max_series;
    if (by_count) ++stats_.series_limit_rejections;
    if (result.reason.empty()) result.reason = by_count ? reject::kMaxSeries : reject::kMaxBytes;
    return;
  }
  result.accepted += accepted;
  result.out_of_order += out_of_order;
  Entry entry;
  // The key holds "__name__" \xff <metric name> \xff: find the name inside it.
  const std::string name_field = std::string(kMetricNameLabel) + kKeySeparator;
  size_t at = 0;
  while (key_.compare(at, name_field.size(), name_field) != 0)
    at = key_.find(kKeySeparator, key_.find(kKeySeparator, at) + 1) + 1;
  entry.name_offset = static_cast<uint32_t>(at + name_field.size());
  entry.name_length = static_cast<uint32_t>(metric_name.size());
  entry.value = newest->value;
  entry.timestamp_ms = newest->timestamp_ms;
  entry.refreshed = now;
  entries_.emplace(key_, entry);
  bytes_ += cost;
}

namespace {
std::string_view EntryName(std::string_view key, uint32_t offset, uint32_t length) {
  return key.substr(offset, length);
}
template <TemporaryString T>
std::string_view EntryName(T&& key, uint32_t offset, uint32_t length) = delete;
}  // namespace

std::vector<RelayStore::EntryRef> RelayStore::SortedEntriesLocked() const {
  std::vector<EntryRef> sorted;
  sorted.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) sorted.emplace_back(key, &entry);
  std::sort(sorted.begin(), sorted.end(), [](const EntryRef& a, const EntryRef& b) {
    const auto name_a = EntryName(a.first, a.second->name_offset, a.second->name_length);
    const auto name_b = EntryName(b.first, b.second->name_offset, b.second->name_length);
    if (name_a != name_b) return name_a < name_b;
    return a.first < b.first;
  });
  return sorted;
}

std::vector<RelayFamily> RelayStore::Collect(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  ExpireLocked(now);
  std::vector<RelayFamily> families;
  for (const auto& [key, entry] : SortedEntriesLocked()) {
    const auto name = EntryName(key, entry->name_offset, entry->name_length);
    if (families.empty() || families.back().name != name)
      families.push_back({std::string(name), {}});
    RelaySeries& series = families.back().series.emplace_back();
    ForEachKeyLabel(key, [&](std::string_view label, std::string_view value) {
      series.labels.push_back({std::string(label), std::string(value)});
    });
    series.value = entry->value;
    series.timestamp_ms = entry->timestamp_ms;
  }
  return families;
}

std::string RelayStore::RenderExposition(Clock::time_point now,
                                         const std::function<bool(std::string_view)>& skip_family) {
  std::lock_guard lock(mutex_);
  ExpireLocked(now);
  std::string out;
  std::string_view family;
  bool skipping = false;
  for (const auto& [key, entry] : SortedEntriesLocked()) {
    const auto name = EntryName(key, entry->name_offset, entry->name_length);
    if (name != family) {
      family = name;
      skipping = skip_family && skip_family(family);
      if (!skipping) {
        out += "# HELP ";
        out += name;
        out += " Relayed from remote_write by podstat's receiver.\n# TYPE ";
        out += name;
        out += " untyped\n";
      }
    }
    if (skipping) continue;
    out += name;
    AppendKeyLabelText(out, key);
    out += ' ';
    AppendSampleValue(out, entry->value);
    out += '\n';
  }
  return out;
}

std::string RenderFamilies(const std::vector<RelayFamily>& families) {
  std::string out;
  for (const RelayFamily& family : families) {
    out += "# HELP " + family.name + " Relayed from remote_write by podstat's receiver.\n";
    out += "# TYPE " + family.name + " untyped\n";
    for (const RelaySeries& series : family.series) {
      out += family.name;
      bool first = true;
      for (const Label& label : series.labels) {
        if (label.name == kMetricNameLabel) continue;
        out += first ? '{' : ',';
        first = false;
        out += label.name;
        out += "=\"";
        AppendEscapedLabelValue(out, label.value);
        out += '"';
      }
      if (!first) out += '}';
      out += ' ';
      AppendSampleValue(out, series.value);
      out += '\n';
    }
  }
  return out;
}

void RelayStore::CountRequest(int status_code, std::string_view reason) {
  std::lock_guard lock(mutex_);
  ++stats_.requests[status_code];
  if (!reason.empty()) {
    auto it = stats_.rejected_requests.find(reason);
    if (it == stats_.rejected_requests.end())
      it = stats_.rejected_requests.emplace(std::string(reason), 0).first;
    ++it->second;
  }
}

RelayStats RelayStore::Stats() const {
  std::lock_guard lock(mutex_);
  RelayStats stats = stats_;
  stats.series = entries_.size();
  stats.bytes = bytes_;
  return stats;
}

}  // namespace podstat::remote_write
