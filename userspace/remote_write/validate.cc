#include "podstat/remote_write/validate.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "podstat/util/strings.h"

namespace podstat::remote_write {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Error text quotes user input: keep it short and printable.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (char c : text.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f && c != '"') ? c : '?';
  }
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

LabelProblem Fail(std::string* error, LabelProblem problem, std::string reason) {
  if (error) *error = std::move(reason);
  return problem;
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAsciiLetter(c) || IsDigit(c) || c == '_' || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAsciiLetter(c) || IsDigit(c) || c == '_'; });
}

LabelProblem NormalizeLabels(std::span<LabelRef> labels, const SeriesLimits& limits, size_t* count,
                             std::string* error) {
  using enum LabelProblem;
  // The count first: a series over it is refused without looking at its (many) labels.
  const size_t present = static_cast<size_t>(std::count_if(
      labels.begin(), labels.end(), [](const LabelRef& label) { return !label.value.empty(); }));
  if (present > limits.label_limit)
    return Fail(error, kLabelLimit,
                "series with " + std::to_string(present) + " labels, over the limit of " +
                    std::to_string(limits.label_limit));
  bool has_name = false;
  for (const LabelRef& label : labels) {
    if (label.name.empty()) return Fail(error, kInvalid, "empty label name");
    if (label.name.size() > limits.label_name_length_limit)
      return Fail(error, kLabelNameLength,
                  "label name " + Quote(label.name) + " longer than " +
                      std::to_string(limits.label_name_length_limit) + " bytes");
    if (label.value.size() > limits.label_value_length_limit)
      return Fail(error, kLabelValueLength,
                  "label " + Quote(label.name) + " value longer than " +
                      std::to_string(limits.label_value_length_limit) + " bytes");
    if (label.name == kMetricNameLabel) {
      if (!IsValidMetricName(label.value))
        return Fail(error, IsValidUtf8(label.value) ? kInvalid : kInvalidUtf8,
                    "invalid metric name " + Quote(label.value));
      has_name = true;
    } else if (!IsValidLabelName(label.name)) {
      return Fail(error, kInvalid, "invalid label name " + Quote(label.name));
    }
    if (!IsValidUtf8(label.value))
      return Fail(error, kInvalidUtf8, "label " + Quote(label.name) + " value is not valid UTF-8");
  }
  if (!has_name) return Fail(error, kInvalid, "series without a metric name (__name__)");
  // Series carry a handful of labels, usually sorted already: insertion sort beats std::sort here.
  for (size_t i = 1; i < labels.size(); ++i) {
    const LabelRef current = labels[i];
    size_t j = i;
    for (; j > 0 && labels[j - 1].name > current.name; --j) labels[j] = labels[j - 1];
    labels[j] = current;
  }
  // Duplicates are checked before empty values go, so {a="", a="x"} is still a duplicate.
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i].name == labels[i - 1].name)
      return Fail(error, kInvalid, "duplicate label name " + Quote(labels[i].name));
  }
  size_t kept = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!labels[i].value.empty()) labels[kept++] = labels[i];
  }
  *count = kept;
  return kNone;
}

}  // namespace podstat::remote_write
