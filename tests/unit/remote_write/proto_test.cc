#include "podstat/remote_write/proto.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace podstat::remote_write {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

WriteRequest UpRequest() {
  WriteRequest request;
  request.timeseries.push_back({{{"__name__", "up"}}, {{1.0, 1000}}});
  return request;
}

// WriteRequest{timeseries: [{labels: [{__name__, up}], samples: [{1.0, 1000}]}]}, by hand:
//   Label     0a 08 "__name__" 12 02 "up"                       14 bytes
//   Sample    09 <1.0 as little-endian double> 10 e8 07         12 bytes (1000 = 0xe8 0x07)
//   Series    0a 0e <label> 12 0c <sample>                      30 bytes
//   Request   0a 1e <series>                                    32 bytes
std::string UpGolden() {
  std::string label = Bytes({0x0a, 0x08}) + "__name__" + Bytes({0x12, 0x02}) + "up";
  std::string sample = Bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07});
  std::string series = Bytes({0x0a, 0x0e}) + label + Bytes({0x12, 0x0c}) + sample;
  return Bytes({0x0a, 0x1e}) + series;
}

std::string DecodeError(std::string_view bytes, const DecodeLimits& limits = {}) {
  WriteRequestView view;
  std::string error;
  EXPECT_FALSE(DecodeWriteRequest(bytes, view, &error, limits));
  return error;
}

void ExpectSameRequest(const WriteRequest& a, const WriteRequest& b) {
  ASSERT_EQ(a.timeseries.size(), b.timeseries.size());
  for (size_t i = 0; i < a.timeseries.size(); ++i) {
    EXPECT_EQ(a.timeseries[i].labels, b.timeseries[i].labels);
    ASSERT_EQ(a.timeseries[i].samples.size(), b.timeseries[i].samples.size());
    for (size_t j = 0; j < a.timeseries[i].samples.size(); ++j) {
      const Sample& x = a.timeseries[i].samples[j];
      const Sample& y = b.timeseries[i].samples[j];
      EXPECT_EQ(std::bit_cast<uint64_t>(x.value), std::bit_cast<uint64_t>(y.value));
      EXPECT_EQ(x.timestamp_ms, y.timestamp_ms);
    }
  }
}

TEST(RemoteWriteProto, EncodesGoldenBytes) {
  EXPECT_EQ(EncodeWriteRequest(UpRequest()), UpGolden());
}

TEST(RemoteWriteProto, DecodesGoldenBytes) {
  WriteRequest decoded;
  std::string error;
  ASSERT_TRUE(DecodeWriteRequest(UpGolden(), decoded, &error)) << error;
  ExpectSameRequest(decoded, UpRequest());
}

TEST(RemoteWriteProto, ZeroValuesAreOmittedAndReadBackAsDefaults) {
  WriteRequest request;
  request.timeseries.push_back({{{"__name__", "x"}, {"empty", ""}}, {{0.0, 0}}});
  // Label "empty" with no value: 0a 05 "empty"; Sample{0, 0}: an empty message 12 00.
  const std::string label1 = Bytes({0x0a, 0x08}) + "__name__" + Bytes({0x12, 0x01}) + "x";
  const std::string label2 = Bytes({0x0a, 0x05}) + "empty";
  const std::string series =
      Bytes({0x0a, 13}) + label1 + Bytes({0x0a, 7}) + label2 + Bytes({0x12, 0x00});
  EXPECT_EQ(EncodeWriteRequest(request), Bytes({0x0a, static_cast<int>(series.size())}) + series);
  WriteRequest decoded;
  ASSERT_TRUE(DecodeWriteRequest(EncodeWriteRequest(request), decoded, nullptr));
  ExpectSameRequest(decoded, request);
}

TEST(RemoteWriteProto, RoundTripsSpecialValuesAndNegativeTimestamps) {
  WriteRequest request;
  request.timeseries.push_back(
      {{{"__name__", "m"}, {"pod", "ü-ñ"}},
       {{std::numeric_limits<double>::quiet_NaN(), -1},
        {StaleMarker(), std::numeric_limits<int64_t>::min()},
        {std::numeric_limits<double>::infinity(), std::numeric_limits<int64_t>::max()},
        {-std::numeric_limits<double>::infinity(), 1700000000000},
        {-0.0, 5}}});
  request.timeseries.push_back({{{"__name__", "n"}}, {}});
  WriteRequest decoded;
  std::string error;
  ASSERT_TRUE(DecodeWriteRequest(EncodeWriteRequest(request), decoded, &error)) << error;
  ExpectSameRequest(decoded, request);
  EXPECT_TRUE(IsStaleMarker(decoded.timeseries[0].samples[1].value));
  EXPECT_FALSE(IsStaleMarker(decoded.timeseries[0].samples[0].value));
}

TEST(RemoteWriteProto, RoundTripsRandomRequests) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 50; ++round) {
    WriteRequest request;
    const int series = static_cast<int>(rng() % 20);
    for (int s = 0; s < series; ++s) {
      TimeSeries& ts = request.timeseries.emplace_back();
      for (int l = 0; l < static_cast<int>(rng() % 12); ++l) {
        std::string name = "l";  // appended: "l" + ... trips GCC 12's -Wrestrict (PR 105329)
        name += std::to_string(l);
        ts.labels.push_back({std::move(name), std::string(rng() % 300, 'v')});
      }
      for (int i = 0; i < static_cast<int>(rng() % 5); ++i)
        ts.samples.push_back({std::bit_cast<double>(rng()), static_cast<int64_t>(rng())});
    }
    WriteRequest decoded;
    std::string error;
    ASSERT_TRUE(DecodeWriteRequest(EncodeWriteRequest(request), decoded, &error)) << error;
    ExpectSameRequest(decoded, request);
  }
}

TEST(RemoteWriteProto, ViewPointsIntoTheInput) {
  const std::string bytes = UpGolden();
  WriteRequestView view;
  ASSERT_TRUE(DecodeWriteRequest(bytes, view, nullptr));
  ASSERT_EQ(view.series.size(), 1u);
  const auto labels = view.LabelsOf(view.series[0]);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].value, "up");
  EXPECT_GE(labels[0].value.data(), bytes.data());
  EXPECT_LT(labels[0].value.data(), bytes.data() + bytes.size());
  EXPECT_EQ(view.SamplesOf(view.series[0])[0].timestamp_ms, 1000);
}

TEST(RemoteWriteProto, SkipsUnknownFieldsByWireType) {
  // WriteRequest.metadata (3, length-delimited), an unknown varint (7), fixed32 (8) and fixed64
  // (9) at top level; exemplars (3) and histograms (4) in the series; an unknown field in the
  // label and in the sample.
  std::string label = Bytes({0x0a, 0x08}) + "__name__" + Bytes({0x12, 0x02}) + "up" +
                      Bytes({0x18, 0x05});  // field 3 varint
  std::string sample = Bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07}) +
                       Bytes({0x1d, 1, 2, 3, 4});  // field 3 fixed32
  std::string series = Bytes({0x0a, static_cast<int>(label.size())}) + label +
                       Bytes({0x12, static_cast<int>(sample.size())}) + sample +
                       Bytes({0x1a, 0x02, 0x08, 0x01}) +         // exemplar
                       Bytes({0x22, 0x00});                      // histogram
  std::string request = Bytes({0x1a, 0x03, 'm', 'e', 't'}) +     // metadata
                        Bytes({0x38, 0xff, 0x01}) +              // field 7 varint
                        Bytes({0x45, 1, 2, 3, 4}) +              // field 8 fixed32
                        Bytes({0x49, 1, 2, 3, 4, 5, 6, 7, 8}) +  // field 9 fixed64
                        Bytes({0x0a, static_cast<int>(series.size())}) + series;
  WriteRequest decoded;
  std::string error;
  ASSERT_TRUE(DecodeWriteRequest(request, decoded, &error)) << error;
  ExpectSameRequest(decoded, UpRequest());
}

TEST(RemoteWriteProto, RejectsMalformedFraming) {
  EXPECT_EQ(DecodeError(Bytes({0x0a})), "truncated varint");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x05, 0x00})), "length past the end");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})),
            "length past the end");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})),
            "varint overflows 64 bits");
  EXPECT_EQ(
      DecodeError(Bytes({0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})),
      "varint overflows 64 bits");
  EXPECT_EQ(DecodeError(Bytes({0x02, 0x00})), "field number 0");
  EXPECT_EQ(DecodeError(Bytes({0x13})), "groups are not supported");
  EXPECT_EQ(DecodeError(Bytes({0x16})), "invalid wire type");
  EXPECT_EQ(DecodeError(Bytes({0x08, 0x01})), "wrong wire type for WriteRequest.timeseries");
  EXPECT_EQ(DecodeError(Bytes({0x19, 1, 2, 3})), "truncated fixed64");
  EXPECT_EQ(DecodeError(Bytes({0x1d, 1, 2, 3})), "truncated fixed32");
  // Inside a series, a label, a sample.
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x02, 0x08, 0x01})), "wrong wire type for TimeSeries.labels");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01})), "wrong wire type for Label");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x04, 0x12, 0x02, 0x08, 0x01})),
            "wrong wire type for Sample.value");
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x04, 0x12, 0x02, 0x11, 0x01})),
            "wrong wire type for Sample.timestamp");
  // A label whose length runs past its series.
  EXPECT_EQ(DecodeError(Bytes({0x0a, 0x04, 0x0a, 0x05, 0x0a, 0x00})), "length past the end");
}

TEST(RemoteWriteProto, TruncationAtEveryByteIsAnErrorNotACrash) {
  WriteRequest request = UpRequest();
  request.timeseries.push_back({{{"__name__", "b"}, {"k", "v"}}, {{2.5, 7}, {3.5, 8}}});
  const std::string bytes = EncodeWriteRequest(request);
  for (size_t n = 1; n < bytes.size(); ++n) {
    WriteRequestView view;
    std::string error;
    // Some prefixes end on a series boundary and are valid shorter requests; none may crash.
    if (!DecodeWriteRequest(std::string_view(bytes).substr(0, n), view, &error)) {
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(RemoteWriteProto, EnforcesCaps) {
  WriteRequest request;
  for (int i = 0; i < 3; ++i)
    request.timeseries.push_back({{{"__name__", "m"}, {"a", "1"}, {"b", "2"}}, {{1, 1}, {2, 2}}});
  const std::string bytes = EncodeWriteRequest(request);
  DecodeLimits limits;
  limits.max_series = 2;
  EXPECT_EQ(DecodeError(bytes, limits), "too many series");
  limits = {};
  limits.max_samples = 5;
  EXPECT_EQ(DecodeError(bytes, limits), "too many samples");
  limits = {};
  limits.max_labels = 8;
  EXPECT_EQ(DecodeError(bytes, limits), "too many labels");
  limits = {};
  limits.max_labels_per_series = 2;
  EXPECT_EQ(DecodeError(bytes, limits), "too many labels in a series");
  limits = {};
  limits.max_label_name_bytes = 7;
  EXPECT_EQ(DecodeError(bytes, limits), "label name too long");
  limits = {};
  limits.max_label_value_bytes = 0;
  EXPECT_EQ(DecodeError(bytes, limits), "label value too long");
}

TEST(RemoteWriteProto, ManyEmptySamplesAreBoundedByTheCap) {
  // 2 bytes per empty sample; without a cap each would cost 16 bytes of memory.
  std::string series;
  for (int i = 0; i < 1000; ++i) series += Bytes({0x12, 0x00});
  std::string request = Bytes({0x0a, 0xd0, 0x0f}) + series;  // 2000 = 0xd0 0x0f
  DecodeLimits limits;
  limits.max_samples = 999;
  EXPECT_EQ(DecodeError(request, limits), "too many samples");
  limits.max_samples = 1000;
  WriteRequestView view;
  EXPECT_TRUE(DecodeWriteRequest(request, view, nullptr, limits));
  EXPECT_EQ(view.samples.size(), 1000u);
}

TEST(RemoteWriteProto, MakeViewMatchesDecode) {
  WriteRequest request = UpRequest();
  request.timeseries.push_back({{{"__name__", "b"}, {"k", "v"}}, {{2.5, 7}, {3.5, 8}}});
  WriteRequestView view;
  MakeView(request, view);
  ASSERT_EQ(view.series.size(), 2u);
  EXPECT_EQ(view.LabelsOf(view.series[1])[1].value, "v");
  EXPECT_EQ(view.SamplesOf(view.series[1])[1].timestamp_ms, 8);
}

}  // namespace
}  // namespace podstat::remote_write
