#include "podstat/remote_write/receiver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "podstat/app/self_metrics.h"
#include "podstat/remote_write/snappy.h"

namespace podstat::remote_write {
namespace {

// The relay's self-metrics as /metrics writes them.
std::string SelfMetricsText(const RelayStore& store) {
  const RelayStats stats = store.Stats();
  return app::RenderSelfFamilies({&stats, {}, {}});
}

constexpr std::string_view kType = "application/x-protobuf";
const Clock::time_point kNow = Clock::time_point() + std::chrono::hours(1);

TimeSeries Mem(std::string pod, double value, int64_t ts) {
  return {{{"__name__", "container_memory_usage_bytes"}, {"pod", std::move(pod)}}, {{value, ts}}};
}

std::string Body(std::vector<TimeSeries> series) {
  WriteRequest request;
  request.timeseries = std::move(series);
  return SnappyCompress(EncodeWriteRequest(request));
}

class RemoteWriteReceiver : public ::testing::Test {
 protected:
  void SetUp() override {
    RelayOptions options;
    options.max_series = 3;
    store_ = RelayStore::Create(options, nullptr);
    ASSERT_TRUE(store_);
  }
  ReceiverResponse Post(std::string_view body, std::string_view type = kType,
                        std::string_view encoding = "snappy") {
    return HandleWrite(type, encoding, body, limits_, *store_, kNow);
  }
  size_t StoredSeries() { return store_->Stats().series; }

  ReceiverLimits limits_;
  std::unique_ptr<RelayStore> store_;
};

TEST_F(RemoteWriteReceiver, StoresAValidWrite) {
  const ReceiverResponse response = Post(Body({Mem("a", 1, 1), Mem("b", 2, 1)}));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(StoredSeries(), 2u);
}

TEST_F(RemoteWriteReceiver, AcceptsContentTypeVariantsAndMissingHeaders) {
  const std::string body = Body({Mem("a", 1, 1)});
  EXPECT_EQ(Post(body, "application/x-protobuf;proto=prometheus.WriteRequest").status, 204);
  EXPECT_EQ(Post(body, "Application/X-Protobuf ; proto=\"prometheus.WriteRequest\"").status, 204);
  EXPECT_EQ(Post(body, "application/x-protobuf; charset=binary").status, 204);
  EXPECT_EQ(Post(body, kType, "SNAPPY").status, 204);
  // Like Prometheus: no header = 1.0 and snappy.
  EXPECT_EQ(Post(body, "", "").status, 204);
}

TEST_F(RemoteWriteReceiver, WrongEncodingOrTypeIs415) {
  const std::string body = Body({Mem("a", 1, 1)});
  EXPECT_EQ(Post(body, kType, "gzip").status, 415);
  EXPECT_EQ(Post(body, kType, "gzip").body, "Content-Encoding must be snappy");
  EXPECT_EQ(Post(body, "application/json").status, 415);
  EXPECT_EQ(Post(body, "application/x-protobuf;proto=foo.Bar").status, 415);
  const ReceiverResponse v2 =
      Post(body, "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  EXPECT_EQ(v2.status, 415);
  EXPECT_NE(v2.body.find("2.0"), std::string::npos) << v2.body;
  EXPECT_EQ(StoredSeries(), 0u);
}

TEST_F(RemoteWriteReceiver, OversizedBodyIs413) {
  limits_.max_body_bytes = 10;
  const ReceiverResponse response = Post(Body({Mem("a", 1, 1)}));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(StoredSeries(), 0u);
  // Also refused from the headers alone.
  auto early = CheckWriteHeaders(kType, "snappy", 11, limits_);
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 413);
  EXPECT_FALSE(CheckWriteHeaders(kType, "snappy", 10, limits_));
  EXPECT_FALSE(CheckWriteHeaders(kType, "snappy", std::nullopt, limits_));
}

TEST_F(RemoteWriteReceiver, MalformedSnappyIs400) {
  ReceiverResponse response =
      Post(std::string("\x05\x00"
                       "a",
                       3));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, "snappy: output shorter than the declared length");
  // Uncompressed protobuf sent as if it were snappy.
  WriteRequest request;
  request.timeseries = {Mem("a", 1, 1)};
  EXPECT_EQ(Post(EncodeWriteRequest(request)).status, 400);
}

TEST_F(RemoteWriteReceiver, DecompressionBombIs400BeforeAllocating) {
  limits_.max_decoded_bytes = 1000;
  // A real 5000-byte payload compresses far below the body limit, but inflates past the cap.
  const ReceiverResponse response = Post(SnappyCompress(std::string(5000, '\0')));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, "snappy: declared length over the limit");
}

TEST_F(RemoteWriteReceiver, MalformedProtobufIs400) {
  const ReceiverResponse response = Post(SnappyCompress(std::string("\x0a\x05\x00", 3)));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, "protobuf: length past the end");
}

TEST_F(RemoteWriteReceiver, InvalidLabelsAre400AndChangeNothing) {
  ASSERT_EQ(Post(Body({Mem("a", 1, 1)})).status, 204);
  struct Case {
    TimeSeries series;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{{{"pod", "x"}}, {{1, 2}}}, "invalid series: series without a metric name (__name__)"},
      {{{{"__name__", "container_fs_usage_bytes"}, {"pod", "\xc3\x28"}}, {{1, 2}}},
       "invalid series: label \"pod\" value is not valid UTF-8"},
      {{{{"__name__", "container_fs_usage_bytes"}, {"pod", "a"}, {"pod", "b"}}, {{1, 2}}},
       "invalid series: duplicate label name \"pod\""},
      {{{{"__name__", "container_fs_usage_bytes"}, {"", "a"}}, {{1, 2}}},
       "invalid series: empty label name"},
  };
  for (const Case& c : cases) {
    const ReceiverResponse response = Post(Body({Mem("a", 50, 50), c.series}));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, c.reason);
  }
  const auto families = store_->Collect(kNow);
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].series.size(), 1u);
  EXPECT_EQ(families[0].series[0].value, 1) << "a rejected request changed a stored series";
}

TEST_F(RemoteWriteReceiver, FullStoreIs429) {
  EXPECT_EQ(Post(Body({Mem("a", 1, 1), Mem("b", 1, 1), Mem("c", 1, 1)})).status, 204);
  const ReceiverResponse response = Post(Body({Mem("d", 1, 1)}));
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.body, "series limit reached: 1 new series refused");
  EXPECT_EQ(store_->Stats().series_limit_rejections, 1u);
}

TEST_F(RemoteWriteReceiver, CountsEveryAnswerByCode) {
  Post(Body({Mem("a", 1, 1)}));
  Post(Body({Mem("a", 2, 2)}));
  Post("garbage");
  Post("x", "text/plain");
  const auto requests = store_->Stats().requests;
  EXPECT_EQ(requests.at(204), 2u);
  EXPECT_EQ(requests.at(400), 1u);
  EXPECT_EQ(requests.at(415), 1u);
}

// Every refusal is counted once by the first rule it broke, so the reasons add up to the 4xx.
TEST_F(RemoteWriteReceiver, CountsEveryRefusalByReason) {
  Post("garbage");
  Post("x", "text/plain");
  Post(std::string(limits_.max_body_bytes + 1, 'x'));
  Post(Body({Mem("\xc0\xaf", 1, 1)}));
  Post(Body({Mem(std::string(3000, 'p'), 1, 1)}));
  Post(Body({Mem("a", 1, 1), Mem("b", 1, 1), Mem("c", 1, 1), Mem("d", 1, 1)}));
  const ReceiverResponse future = Post(Body({Mem("a", 1, 7'258'118'400'000)}));
  EXPECT_EQ(future.status, 400);
  EXPECT_EQ(future.reason, reject::kTooFarInFuture);
  const auto stats = store_->Stats();
  const std::map<std::string, uint64_t, std::less<>> want = {
      {"malformed", 1},        {"unsupported_media_type", 1},   {"body_too_large", 1},
      {"invalid_utf8", 1},     {"label_value_length_limit", 1}, {"max_series", 1},
      {"too_far_in_future", 1}};
  EXPECT_EQ(stats.rejected_requests, want);
  const std::string text = SelfMetricsText(*store_);
  EXPECT_NE(text.find("podstat_receiver_rejected_requests_total{reason=\"invalid_utf8\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("podstat_receiver_rejected_requests_total{reason=\"max_bytes\"} 0\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace podstat::remote_write

namespace podstat::remote_write {
namespace {

TEST(RemoteWriteReceiverPool, ReusedBuffersGiveTheSameAnswersAcrossThreads) {
  auto store = RelayStore::Create({}, nullptr);
  ASSERT_TRUE(store);
  Receiver receiver(*store, {});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        // Alternate big and small, valid and broken, so a stale buffer would show.
        std::vector<TimeSeries> series;
        for (int k = 0; k < (i % 2 ? 200 : 1); ++k) {
          std::string name = "t";  // appended: "t" + ... trips GCC 12's -Wrestrict (PR 105329)
          name += std::to_string(t);
          name += '-';
          name += std::to_string(k);
          series.push_back(Mem(std::move(name), i, i + 1));
        }
        const std::string body = i % 5 == 4 ? std::string("\x05\x00", 2) : Body(series);
        const int want = i % 5 == 4 ? 400 : 204;
        if (receiver.Handle(kType, "snappy", body, kNow).status != want) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(store->Stats().series, 4u * 200u);
  EXPECT_EQ(store->Stats().requests.at(400), 4u * 10u);
}

}  // namespace
}  // namespace podstat::remote_write
