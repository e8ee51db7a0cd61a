// The label rules of remote_write 1.0 as a receiver applies them, and the name rules of the text
// exposition format the relay re-exposes series in:
//   - label names unique and non-empty; a metric name (__name__) present;
//   - names in the classic charset: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*
//     (Prometheus 3 allows UTF-8 names, but the 0.0.4 text format we expose cannot carry them);
//   - label values valid UTF-8 (Prometheus answers 400 otherwise);
//   - per series at most label_limit labels (__name__ included, empty-valued ones not), names at
//     most label_name_length_limit bytes and values (the metric name too) at most
//     label_value_length_limit bytes: Prometheus's scrape limits of the same names, which keep
//     one sender from filling the relay store with a few enormous series;
//   - an empty label value means "no such label" in Prometheus's data model, so it is dropped
//     rather than rejected (the spec tells senders not to send them; our sender never does).
// The spec also tells senders to sort labels by name; receivers in the wild do not insist, and
// neither do we: NormalizeLabels sorts.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "podstat/remote_write/proto.h"

namespace podstat::remote_write {

inline constexpr std::string_view kMetricNameLabel = "__name__";

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// Flags --receiver.label-limit, --receiver.label-name-length-limit,
// --receiver.label-value-length-limit. Defaults: 64 labels, twice Grafana Mimir's 30, leaves room
// for a kubernetes_sd labelmap of pod labels on top of cAdvisor's dozen; 512-byte names hold the
// longest real ones (kube-state-metrics' label_<key>, a Kubernetes key being at most 253 + 1 + 63
// bytes); 2048-byte values are Mimir's limit and hold every cgroup path and image reference seen
// in practice. Each flag is capped by the decoder's DecodeLimits (proto.h: 128 labels, 1024-byte
// names, 16 KiB values), beyond which a request is refused as malformed before it gets here.
struct SeriesLimits {
  size_t label_limit = 64;
  size_t label_name_length_limit = 512;
  size_t label_value_length_limit = 2048;
};

// Which rule a series broke, for the reason label of podstat_receiver_rejected_requests_total.
enum class LabelProblem {
  kNone,
  kInvalid,           // empty, duplicate or badly formed name; no metric name
  kInvalidUtf8,       // a value that is not UTF-8
  kLabelLimit,        // more than label_limit labels
  kLabelNameLength,   // a name longer than label_name_length_limit
  kLabelValueLength,  // a value longer than label_value_length_limit
};

// Validates one series' labels and rewrites them in place: sorted by name in byte order, with
// empty-valued labels moved out of the first *count entries (the ones to keep). Returns the
// broken rule, with a short reason in *error (naming the offending label), when a rule above is
// broken; the labels are then reordered but otherwise untouched. No allocation.
LabelProblem NormalizeLabels(std::span<LabelRef> labels, const SeriesLimits& limits, size_t* count,
                             std::string* error);

}  // namespace podstat::remote_write
