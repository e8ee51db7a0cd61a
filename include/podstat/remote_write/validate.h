// The label rules of remote_write 1.0 as a receiver applies them, and the name rules of the text
// exposition format the relay re-exposes series in:
//   - label names unique and non-empty; a metric name (__name__) present;
//   - names in the classic charset: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*
//     (Prometheus 3 allows UTF-8 names, but the 0.0.4 text format we expose cannot carry them);
//   - label values valid UTF-8 (Prometheus answers 400 otherwise);
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

// Strict UTF-8 (as Go's utf8.ValidString): no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequences.
bool IsValidUtf8(std::string_view text);
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// Validates one series' labels and rewrites them in place: sorted by name in byte order, with
// empty-valued labels moved out of the first *count entries (the ones to keep). Returns false
// with a short reason in *error (naming the offending label) when a rule above is broken; the
// labels are then reordered but otherwise untouched. No allocation.
bool NormalizeLabels(std::span<LabelRef> labels, size_t* count, std::string* error);

}  // namespace podstat::remote_write
