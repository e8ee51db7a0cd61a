// prometheus.WriteRequest (remote_write 1.0) encoded and decoded by hand -- the subset of protobuf
// the message needs, with field numbers from prometheus/prompb (remote.proto, types.proto):
//
//   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
//                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms since the epoch
//
// Fields we do not use (metadata, exemplars, histograms, anything newer) are skipped by wire type.
// Two decoded forms: WriteRequestView (zero-copy, string_views into the caller's buffer, flat
// vectors reused across calls: the receiver's hot path) and WriteRequest (owning; what the sender
// builds and what tests compare).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/util/strings.h"

namespace podstat::remote_write {

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};

struct Sample {
  double value = 0;
  int64_t timestamp_ms = 0;
};

struct TimeSeries {
  std::vector<Label> labels;
  std::vector<Sample> samples;
};

struct WriteRequest {
  std::vector<TimeSeries> timeseries;
};

// Prometheus's staleness marker: a NaN with this exact bit pattern, sent when a series ends. Any
// other NaN is an ordinary value.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double StaleMarker() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleMarker(double value) { return std::bit_cast<uint64_t>(value) == kStaleNaNBits; }

// Serialises a request as protobuf. Proto3 rules: empty strings and zero numbers are left out
// (a decoder reads them back as the same defaults). Labels are written in the order given: the
// caller sorts them (the sender does).
std::string EncodeWriteRequest(const WriteRequest& request);
// Same, into out (replaced), reusing its capacity.
void EncodeWriteRequest(const WriteRequest& request, std::string& out);

// Caps that keep hostile input from ballooning memory: every decoded element costs more memory
// than its smallest encoding (a 2-byte empty Sample becomes 16 bytes), so the counts are bounded
// as well as the bytes. A request over any cap is rejected as a whole.
struct DecodeLimits {
  size_t max_series = 100'000;
  size_t max_samples = 1'000'000;
  size_t max_labels = 1'000'000;  // all series together
  size_t max_labels_per_series = 128;
  size_t max_label_name_bytes = 1024;
  size_t max_label_value_bytes = 16 * 1024;
};

struct LabelRef {
  std::string_view name;
  std::string_view value;
};

// One series of a view: ranges into WriteRequestView::labels and ::samples.
struct SeriesRef {
  uint32_t first_label = 0;
  uint32_t label_count = 0;
  uint32_t first_sample = 0;
  uint32_t sample_count = 0;
};

// A decoded request whose strings point into the bytes it was decoded from: those must outlive it.
struct WriteRequestView {
  std::vector<LabelRef> labels;
  std::vector<Sample> samples;
  std::vector<SeriesRef> series;

  // Empties the view but keeps capacity, so a reused view stops allocating.
  void Clear() {
    labels.clear();
    samples.clear();
    series.clear();
  }
  // Spans into this view's vectors: not on a temporary view, which they would outlive.
  std::span<const LabelRef> LabelsOf(const SeriesRef& s) const& {
    return {labels.data() + s.first_label, s.label_count};
  }
  std::span<const LabelRef> LabelsOf(const SeriesRef& s) const&& = delete;
  std::span<const Sample> SamplesOf(const SeriesRef& s) const& {
    return {samples.data() + s.first_sample, s.sample_count};
  }
  std::span<const Sample> SamplesOf(const SeriesRef& s) const&& = delete;
};

// Decodes bytes into out (cleared first). Returns false with a short reason in *error on
// malformed protobuf (truncated or over-long varint, length past the end, invalid or unexpected
// wire type, field number 0, groups) or when a DecodeLimits cap is exceeded; out is then
// unspecified. Labels are not validated here (see validate.h) -- only framed.
bool DecodeWriteRequest(std::string_view bytes, WriteRequestView& out, std::string* error,
                        const DecodeLimits& limits = {});
// The view would point into a string that dies with the call (see TemporaryString).
template <TemporaryString T>
bool DecodeWriteRequest(T&& bytes, WriteRequestView& out, std::string* error,
                        const DecodeLimits& limits = {}) = delete;

// Same, into owning structs.
bool DecodeWriteRequest(std::string_view bytes, WriteRequest& out, std::string* error,
                        const DecodeLimits& limits = {});

// A view over an owning request (strings point into request), e.g. to ingest what a test built.
void MakeView(const WriteRequest& request, WriteRequestView& out);
void MakeView(WriteRequest&& request, WriteRequestView& out) = delete;  // would dangle at once
void MakeView(const WriteRequest&& request, WriteRequestView& out) = delete;

}  // namespace podstat::remote_write
