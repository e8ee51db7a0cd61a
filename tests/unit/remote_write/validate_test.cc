#include "podstat/remote_write/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podstat::remote_write {
namespace {

std::string NormalizeError(std::vector<LabelRef> labels, SeriesLimits limits = {}) {
  size_t count = 0;
  std::string error;
  EXPECT_NE(NormalizeLabels(labels, limits, &count, &error), LabelProblem::kNone);
  return error;
}

LabelProblem Problem(std::vector<LabelRef> labels, SeriesLimits limits = {}) {
  size_t count = 0;
  return NormalizeLabels(labels, limits, &count, nullptr);
}

TEST(RemoteWriteValidate, Names) {
  EXPECT_TRUE(IsValidMetricName("container_memory_usage_bytes"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m:sum"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("_x9"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("ü"));
}

TEST(RemoteWriteValidate, SortsByNameInByteOrder) {
  std::vector<LabelRef> sorted = {{"pod", "p"}, {"__name__", "m"}, {"Zone", "z"}, {"a", "1"}};
  size_t count = 0;
  std::string error;
  ASSERT_EQ(NormalizeLabels(sorted, {}, &count, &error), LabelProblem::kNone) << error;
  ASSERT_EQ(count, 4u);
  // Byte order: 'Z' (0x5a) < '_' (0x5f) < 'a' < 'p'.
  EXPECT_EQ(sorted[0].name, "Zone");
  EXPECT_EQ(sorted[1].name, "__name__");
  EXPECT_EQ(sorted[2].name, "a");
  EXPECT_EQ(sorted[3].name, "pod");
}

TEST(RemoteWriteValidate, DropsEmptyValues) {
  std::vector<LabelRef> labels = {{"__name__", "m"}, {"empty", ""}, {"a", "1"}, {"b", ""}};
  size_t count = 0;
  ASSERT_EQ(NormalizeLabels(labels, {}, &count, nullptr), LabelProblem::kNone);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(labels[0].name, "__name__");
  EXPECT_EQ(labels[1].name, "a");
}

TEST(RemoteWriteValidate, RejectsWhatTheSpecForbids) {
  EXPECT_EQ(NormalizeError({{"a", "1"}}), "series without a metric name (__name__)");
  EXPECT_EQ(NormalizeError({}), "series without a metric name (__name__)");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"", "v"}}), "empty label name");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"a", "1"}, {"a", "2"}}),
            "duplicate label name \"a\"");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"__name__", "n"}}),
            "duplicate label name \"__name__\"");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"a", ""}, {"a", "2"}}),
            "duplicate label name \"a\"");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"a", "\xff"}}),
            "label \"a\" value is not valid UTF-8");
  EXPECT_EQ(NormalizeError({{"__name__", "bad-name"}}), "invalid metric name \"bad-name\"");
  EXPECT_EQ(NormalizeError({{"__name__", ""}}), "invalid metric name \"\"");
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"a.b", "1"}}), "invalid label name \"a.b\"");
  // The quoted name is sanitised and shortened.
  const std::string error = NormalizeError({{"__name__", "m"}, {std::string(200, '\n'), "1"}});
  EXPECT_LT(error.size(), 100u);
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(RemoteWriteValidate, InvalidUtf8IsItsOwnProblem) {
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "\xff\xfe"}}), LabelProblem::kInvalidUtf8);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "\xc0\xaf"}}), LabelProblem::kInvalidUtf8);
  EXPECT_EQ(Problem({{"__name__", "m\xff"}}), LabelProblem::kInvalidUtf8);
  // A name that is not UTF-8 is already outside the name charset.
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a\xff", "v"}}), LabelProblem::kInvalid);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "\xc3\xbc"}}), LabelProblem::kNone);
}

// Prometheus's label_limit, label_name_length_limit, label_value_length_limit: at the limit is
// fine, one over is refused with its own problem.
TEST(RemoteWriteValidate, SeriesLimits) {
  SeriesLimits limits;
  limits.label_limit = 3;
  limits.label_name_length_limit = 8;  // as long as "__name__"
  limits.label_value_length_limit = 5;
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "1"}, {"b", "2"}}, limits), LabelProblem::kNone);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}}, limits),
            LabelProblem::kLabelLimit);
  // Empty values are absent labels: not counted.
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", ""}}, limits),
            LabelProblem::kNone);
  EXPECT_EQ(NormalizeError({{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}}, limits),
            "series with 4 labels, over the limit of 3");
  EXPECT_EQ(Problem({{"__name__", "m"}, {"abcdefgh", "1"}}, limits), LabelProblem::kNone);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"abcdefghi", "1"}}, limits),
            LabelProblem::kLabelNameLength);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "12345"}}, limits), LabelProblem::kNone);
  EXPECT_EQ(Problem({{"__name__", "m"}, {"a", "123456"}}, limits), LabelProblem::kLabelValueLength);
  // The metric name is a value like any other.
  EXPECT_EQ(Problem({{"__name__", "metric"}}, limits), LabelProblem::kLabelValueLength);
}

}  // namespace
}  // namespace podstat::remote_write
