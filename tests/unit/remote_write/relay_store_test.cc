#include "podstat/remote_write/relay_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "podstat/app/self_metrics.h"

namespace podstat::remote_write {
namespace {

// The relay's self-metrics as /metrics writes them.
std::string SelfMetricsText(const RelayStore& store) {
  const RelayStats stats = store.Stats();
  return app::RenderSelfFamilies({&stats, {}, {}});
}

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);

TimeSeries Series(std::vector<Label> labels, std::vector<Sample> samples) {
  return {std::move(labels), std::move(samples)};
}

TimeSeries Mem(std::string pod, double value, int64_t ts) {
  return Series({{"__name__", "container_memory_usage_bytes"}, {"pod", std::move(pod)}},
                {{value, ts}});
}

std::unique_ptr<RelayStore> MakeStore(RelayOptions options = {}) {
  std::string error;
  auto store = RelayStore::Create(std::move(options), &error);
  EXPECT_TRUE(store) << error;
  return store;
}

IngestResult Ingest(RelayStore& store, const WriteRequest& request, Clock::time_point now = kT0) {
  WriteRequestView view;
  MakeView(request, view);
  return store.Ingest(view, now);
}

// The stored value of the only series of the only family, or NaN.
double OnlyValue(RelayStore& store, Clock::time_point now = kT0) {
  const auto families = store.Collect(now);
  if (families.size() != 1 || families[0].series.size() != 1)
    return std::numeric_limits<double>::quiet_NaN();
  return families[0].series[0].value;
}

TEST(RelayStore, DefaultAllowListIsSeed004sFiveMetrics) {
  const auto names = DefaultAllowMetrics();
  EXPECT_EQ(names.size(), 5u);
  auto store = MakeStore();
  WriteRequest request;
  for (const auto& name : names)
    request.timeseries.push_back(Series({{"__name__", name}}, {{1, 1}}));
  request.timeseries.push_back(Series({{"__name__", "node_load1"}}, {{1, 1}, {2, 2}}));
  request.timeseries.push_back(Series({{"__name__", "container_memory_usage_bytes_x"}}, {{1, 1}}));
  const IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.status, IngestStatus::kOk);
  EXPECT_EQ(result.accepted, 5u);
  EXPECT_EQ(result.filtered, 3u);
  EXPECT_EQ(store->Collect(kT0).size(), 5u);
}

TEST(RelayStore, RegexPatternsAreFullyAnchored) {
  RelayOptions options;
  options.allow_metrics = {"container_fs_.*", "up"};
  auto store = MakeStore(options);
  WriteRequest request;
  for (const char* name :
       {"container_fs_usage_bytes", "xcontainer_fs_a", "up", "upx", "container_x"})
    request.timeseries.push_back(Series({{"__name__", name}}, {{1, 1}}));
  const IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.accepted, 2u);
  EXPECT_EQ(result.filtered, 3u);
  const auto families = store->Collect(kT0);
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "container_fs_usage_bytes");
  EXPECT_EQ(families[1].name, "up");
  // Verdicts are cached; the second pass must agree.
  EXPECT_EQ(Ingest(*store, request).filtered, 3u);
}

TEST(RelayStore, CreateRejectsBadOptions) {
  std::string error;
  RelayOptions options;
  options.allow_metrics = {"container_(("};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  EXPECT_NE(error.find("container_(("), std::string::npos) << error;
  options = {};
  options.extra_labels = {{"bad-name", "x"}};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  options.extra_labels = {{"cluster", ""}};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  options.extra_labels = {{"cluster", "a"}, {"cluster", "b"}};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  options.extra_labels = {{"__name__", "a"}};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  options = {};
  options.max_series = 0;
  EXPECT_FALSE(RelayStore::Create(options, &error));
}

TEST(RelayStore, ExtraLabelsAreAddedUnlessTheSeriesHasThem) {
  RelayOptions options;
  options.extra_labels = {{"zone", "z1"}, {"cluster", "c1"}};
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries.push_back(Mem("a", 1, 1));
  TimeSeries own = Mem("b", 2, 1);
  own.labels.push_back({"cluster", "mine"});
  request.timeseries.push_back(own);
  ASSERT_EQ(Ingest(*store, request).accepted, 2u);
  const auto families = store->Collect(kT0);
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].series.size(), 2u);
  const std::vector<Label> want_a = {{"__name__", "container_memory_usage_bytes"},
                                     {"cluster", "c1"},
                                     {"pod", "a"},
                                     {"relay", "remote_write"},
                                     {"zone", "z1"}};
  EXPECT_EQ(families[0].series[0].labels, want_a);
  const std::vector<Label> want_b = {{"__name__", "container_memory_usage_bytes"},
                                     {"cluster", "mine"},
                                     {"pod", "b"},
                                     {"relay", "remote_write"},
                                     {"zone", "z1"}};
  EXPECT_EQ(families[0].series[1].labels, want_b);
}

TEST(RelayStore, UnsortedLabelsNameTheSameSeries) {
  auto store = MakeStore();
  WriteRequest first, second;
  first.timeseries.push_back(
      Series({{"__name__", "container_fs_usage_bytes"}, {"a", "1"}, {"b", "2"}}, {{1, 10}}));
  second.timeseries.push_back(
      Series({{"b", "2"}, {"a", "1"}, {"__name__", "container_fs_usage_bytes"}}, {{2, 20}}));
  Ingest(*store, first);
  Ingest(*store, second);
  EXPECT_EQ(OnlyValue(*store), 2);
}

TEST(RelayStore, KeepsTheNewestSampleAndNeverGoesBack) {
  auto store = MakeStore();
  WriteRequest request;
  request.timeseries.push_back(Mem("a", 5, 500));
  EXPECT_EQ(Ingest(*store, request).accepted, 1u);
  // Older and equal timestamps are ignored and counted.
  request.timeseries = {Mem("a", 4, 400)};
  IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.out_of_order, 1u);
  EXPECT_EQ(result.accepted, 0u);
  request.timeseries = {Mem("a", 9, 500)};
  EXPECT_EQ(Ingest(*store, request).out_of_order, 1u);
  EXPECT_EQ(OnlyValue(*store), 5);
  // Out of order within one request: the newest wins, the later-but-older one is ignored.
  request.timeseries = {Series(Mem("a", 0, 0).labels, {{6, 600}, {8, 800}, {7, 700}})};
  result = Ingest(*store, request);
  EXPECT_EQ(result.accepted, 2u);
  EXPECT_EQ(result.out_of_order, 1u);
  EXPECT_EQ(OnlyValue(*store), 8);
  const auto stats = store->Stats();
  EXPECT_EQ(stats.samples_accepted, 3u);
  EXPECT_EQ(stats.samples_out_of_order, 3u);
}

TEST(RelayStore, NaNAndInfAreValidValues) {
  auto store = MakeStore();
  WriteRequest request;
  request.timeseries.push_back(Mem("nan", std::numeric_limits<double>::quiet_NaN(), 1));
  request.timeseries.push_back(Mem("inf", std::numeric_limits<double>::infinity(), 1));
  request.timeseries.push_back(Mem("ninf", -std::numeric_limits<double>::infinity(), 1));
  EXPECT_EQ(Ingest(*store, request).accepted, 3u);
  const std::string text = store->RenderExposition(kT0);
  EXPECT_NE(text.find("{pod=\"nan\",relay=\"remote_write\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("{pod=\"inf\",relay=\"remote_write\"} +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("{pod=\"ninf\",relay=\"remote_write\"} -Inf\n"), std::string::npos) << text;
}

TEST(RelayStore, StaleMarkerEndsTheSeries) {
  auto store = MakeStore();
  WriteRequest request;
  request.timeseries.push_back(Mem("a", 1, 100));
  request.timeseries.push_back(Mem("b", 1, 100));
  Ingest(*store, request);
  request.timeseries = {Mem("a", StaleMarker(), 200)};
  EXPECT_EQ(Ingest(*store, request).accepted, 1u);
  const auto families = store->Collect(kT0);
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].series.size(), 1u);
  EXPECT_EQ(families[0].series[0].labels[1].value, "b");
  // A stale marker for a series never stored creates nothing.
  request.timeseries = {Mem("never", StaleMarker(), 200)};
  Ingest(*store, request);
  EXPECT_EQ(store->Stats().series, 1u);
}

TEST(RelayStore, ExpiresSeriesNotRefreshedWithinTtl) {
  RelayOptions options;
  options.ttl = seconds(60);
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("old", 1, 1), Mem("fresh", 1, 1)};
  Ingest(*store, request, kT0);
  request.timeseries = {Mem("fresh", 2, 2)};
  Ingest(*store, request, kT0 + seconds(50));
  EXPECT_EQ(store->Collect(kT0 + seconds(60))[0].series.size(), 2u);
  const auto families = store->Collect(kT0 + seconds(61));
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].series.size(), 1u);
  EXPECT_EQ(families[0].series[0].value, 2);
  EXPECT_TRUE(store->Collect(kT0 + seconds(111)).empty());
  EXPECT_EQ(store->Stats().series, 0u);
}

TEST(RelayStore, SeriesLimitRefusesNewSeriesButKeepsExistingFresh) {
  RelayOptions options;
  options.max_series = 2;
  options.ttl = seconds(60);
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("a", 1, 1), Mem("b", 1, 1)};
  EXPECT_EQ(Ingest(*store, request).status, IngestStatus::kOk);
  request.timeseries = {Mem("a", 2, 2), Mem("c", 2, 2), Mem("d", 2, 2)};
  const IngestResult result = Ingest(*store, request, kT0 + seconds(30));
  EXPECT_EQ(result.status, IngestStatus::kTooManySeries);
  EXPECT_EQ(result.refused_series, 2u);
  EXPECT_EQ(result.rejected, 2u);
  EXPECT_EQ(result.accepted, 1u);
  auto families = store->Collect(kT0 + seconds(30));
  ASSERT_EQ(families[0].series.size(), 2u);
  EXPECT_EQ(families[0].series[0].value, 2);  // a was updated
  EXPECT_EQ(store->Stats().series_limit_rejections, 2u);
  // Once b expires there is room for c.
  request.timeseries = {Mem("a", 3, 3), Mem("c", 3, 3)};
  EXPECT_EQ(Ingest(*store, request, kT0 + seconds(70)).status, IngestStatus::kOk);
  families = store->Collect(kT0 + seconds(70));
  ASSERT_EQ(families[0].series.size(), 2u);
  EXPECT_EQ(families[0].series[1].labels[1].value, "c");
}

TEST(RelayStore, InvalidRequestChangesNothing) {
  auto store = MakeStore();
  WriteRequest good;
  good.timeseries = {Mem("a", 1, 1)};
  Ingest(*store, good);
  WriteRequest bad;
  bad.timeseries = {Mem("a", 99, 99), Mem("new", 5, 5),
                    Series({{"__name__", "container_fs_usage_bytes"}, {"x", "\xc3"}}, {{1, 1}})};
  const IngestResult result = Ingest(*store, bad);
  EXPECT_EQ(result.status, IngestStatus::kInvalid);
  EXPECT_EQ(result.error, "label \"x\" value is not valid UTF-8");
  EXPECT_EQ(result.rejected, 3u);
  EXPECT_EQ(OnlyValue(*store), 1);
  EXPECT_EQ(store->Stats().samples_rejected, 3u);
}

TEST(RelayStore, ExpositionIsGroupedEscapedAndTyped) {
  auto store = MakeStore();
  WriteRequest request;
  request.timeseries = {
      Series({{"__name__", "container_fs_usage_bytes"}, {"pod", "b"}}, {{122880, 1}}),
      Mem("quote\"back\\slash\nnewline", 229376, 1),
      Series({{"__name__", "container_fs_usage_bytes"}, {"pod", "a"}}, {{4.2090070016e+10, 1}}),
      Mem("plain", 0.5, 1),
  };
  Ingest(*store, request);
  const std::string text = store->RenderExposition(kT0);
  const std::string want =
      "# HELP container_fs_usage_bytes Relayed from remote_write by podstat's receiver.\n"
      "# TYPE container_fs_usage_bytes untyped\n"
      "container_fs_usage_bytes{pod=\"a\",relay=\"remote_write\"} 42090070016\n"
      "container_fs_usage_bytes{pod=\"b\",relay=\"remote_write\"} 122880\n"
      "# HELP container_memory_usage_bytes Relayed from remote_write by podstat's receiver.\n"
      "# TYPE container_memory_usage_bytes untyped\n"
      "container_memory_usage_bytes{pod=\"plain\",relay=\"remote_write\"} 0.5\n"
      "container_memory_usage_bytes{pod=\"quote\\\"back\\\\slash\\nnewline\",relay=\"remote_"
      "write\"} 229376\n";
  EXPECT_EQ(text, want);
  EXPECT_EQ(RenderFamilies(store->Collect(kT0)), want);
  // A family the caller already exposes is left out.
  const std::string skipped = store->RenderExposition(
      kT0, [](std::string_view name) { return name == "container_fs_usage_bytes"; });
  EXPECT_EQ(skipped.find("container_fs_usage_bytes"), std::string::npos);
  EXPECT_NE(skipped.find("container_memory_usage_bytes{pod=\"plain\",relay=\"remote_write\"} 0.5"),
            std::string::npos);
}

TEST(RelayStore, SelfMetrics) {
  RelayOptions options;
  options.max_series = 1;
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("a", 1, 1), Mem("b", 1, 1), Series({{"__name__", "other"}}, {{1, 1}})};
  Ingest(*store, request);
  store->CountRequest(429, reject::kMaxSeries);
  store->CountRequest(503);
  const std::string text = SelfMetricsText(*store);
  for (const char* line : {
           "podstat_receiver_requests_total{code=\"204\"} 0\n",
           "podstat_receiver_requests_total{code=\"429\"} 1\n",
           "podstat_receiver_requests_total{code=\"503\"} 1\n",
           "podstat_receiver_rejected_requests_total{reason=\"max_series\"} 1\n",
           "podstat_receiver_rejected_requests_total{reason=\"invalid_utf8\"} 0\n",
           "podstat_receiver_store_bytes 191\n",
           "podstat_receiver_samples_total{result=\"accepted\"} 1\n",
           "podstat_receiver_samples_total{result=\"filtered\"} 1\n",
           "podstat_receiver_samples_total{result=\"rejected\"} 1\n",
           "podstat_receiver_samples_total{result=\"out_of_order\"} 0\n",
           "podstat_receiver_series 1\n",
           "podstat_receiver_series_limit_rejections_total 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from\n" << text;
  }
}

TEST(RelayStore, ConcurrentIngestAndScrape) {
  auto store = MakeStore();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        WriteRequest request;
        std::string name = "p";  // appended: "p" + ... trips GCC 12's -Wrestrict (PR 105329)
        name += std::to_string(t);
        name += '-';
        name += std::to_string(i % 10);
        request.timeseries = {Mem(std::move(name), i, i)};
        Ingest(*store, request);
        if (i % 20 == 0) store->RenderExposition(kT0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->Stats().series, 40u);
  EXPECT_EQ(store->Stats().samples_accepted, 800u);
}

// std::regex matched by recursion, one stack frame per character, and overflowed the HTTP
// worker's stack on a long name; RE2 matches in linear time without recursion.
TEST(RelayStore, AllowListRegexIsRe2AnchoredAndSafeOnLongNames) {
  RelayOptions options;
  options.allow_metrics = {"container_.*", "a|b"};
  auto store = MakeStore(options);
  WriteRequest request;
  const std::string long_name = "container_" + std::string(2000, 'x');
  for (const std::string& name : {long_name, std::string("a"), std::string("b"), std::string("ab"),
                                  std::string("xb"), std::string("ax")})
    request.timeseries.push_back(Series({{"__name__", name}}, {{1, 1}}));
  const IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.status, IngestStatus::kOk) << result.error;
  EXPECT_EQ(result.accepted, 3u);  // the long name, a, b: the alternation is anchored as a whole
  EXPECT_EQ(result.filtered, 3u);
  // RE2 syntax: a backreference is an error, reported with the pattern.
  std::string error;
  options.allow_metrics = {"(a)\\1"};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  EXPECT_NE(error.find("invalid --receiver.allow-metric regex \"(a)\\1\""), std::string::npos)
      << error;
}

// A relayed container_memory_usage_bytes{id="/x"} looked exactly like podstat's own series.
TEST(RelayStore, RelayLabelIsAlwaysSetAndOverridesTheSenders) {
  RelayOptions options;
  options.extra_labels = {{"cluster", "c1"}};
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {
      Series({{"__name__", "container_memory_usage_bytes"}, {"id", "/x"}}, {{1, 1}}),
      Series({{"__name__", "container_memory_usage_bytes"}, {"id", "/y"}, {"relay", "podstat"}},
             {{2, 1}}),
      Series({{"__name__", "container_memory_usage_bytes"}, {"id", "/z"}, {"relay", ""}},
             {{3, 1}})};
  ASSERT_EQ(Ingest(*store, request).accepted, 3u);
  const auto families = store->Collect(kT0);
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].series.size(), 3u);
  for (const RelaySeries& series : families[0].series) {
    const std::vector<Label>& labels = series.labels;
    ASSERT_EQ(labels.size(), 4u);
    EXPECT_EQ(labels[3], (Label{"relay", "remote_write"}));
    EXPECT_EQ(labels[1], (Label{"cluster", "c1"}));
  }
  // A forged relay label does not make a second series next to the unforged one.
  WriteRequest again;
  again.timeseries = {Series(
      {{"__name__", "container_memory_usage_bytes"}, {"id", "/x"}, {"relay", "other"}}, {{9, 2}})};
  ASSERT_EQ(Ingest(*store, again).accepted, 1u);
  EXPECT_EQ(store->Stats().series, 3u);
  // The label cannot be configured away.
  std::string error;
  options.extra_labels = {{"relay", "mine"}};
  EXPECT_FALSE(RelayStore::Create(options, &error));
  EXPECT_NE(error.find("reserved"), std::string::npos) << error;
}

TEST(RelayStore, SeriesLimitsRefuseTheRequestWithAReason) {
  RelayOptions options;
  options.series_limits.label_limit = 3;
  options.series_limits.label_value_length_limit = 40;
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {
      Mem("ok", 1, 1),
      Series({{"__name__", "container_memory_usage_bytes"}, {"a", "1"}, {"b", "2"}, {"c", "3"}},
             {{1, 1}})};
  IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.status, IngestStatus::kInvalid);
  EXPECT_EQ(result.reason, reject::kLabelLimit);
  EXPECT_EQ(result.rejected, 2u);
  EXPECT_EQ(store->Stats().series, 0u);
  request.timeseries = {Mem(std::string(41, 'p'), 1, 1)};
  result = Ingest(*store, request);
  EXPECT_EQ(result.reason, reject::kLabelValueLength);
  request.timeseries = {Mem("\xff", 1, 1)};
  EXPECT_EQ(Ingest(*store, request).reason, reject::kInvalidUtf8);
  request.timeseries = {
      Series({{"__name__", "container_memory_usage_bytes"}, {"a-b", "1"}}, {{1, 1}})};
  EXPECT_EQ(Ingest(*store, request).reason, reject::kInvalidLabels);
}

// Bounded in bytes, not only in series: new series beyond max_bytes are refused (429) while the
// stored ones stay fresh, and the bytes come back when series go.
TEST(RelayStore, MaxBytesRefusesNewSeriesAndIsGivenBack) {
  RelayOptions options;
  options.max_bytes = 4096;
  options.ttl = seconds(10);
  auto store = MakeStore(options);
  const std::string big(500, 'v');
  WriteRequest request;
  for (int i = 0; i < 10; ++i) request.timeseries.push_back(Mem(big + std::to_string(i), 1, 1));
  IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.status, IngestStatus::kTooManySeries);
  EXPECT_EQ(result.reason, reject::kMaxBytes);
  RelayStats stats = store->Stats();
  // Each series: its key (~580 bytes with __name__ and relay) plus the fixed overhead.
  EXPECT_EQ(stats.series, 5u);
  EXPECT_LE(stats.bytes, 4096u);
  EXPECT_GT(stats.bytes, 4096u - 700);
  EXPECT_EQ(result.refused_series, 5u);
  EXPECT_EQ(stats.series_limit_rejections, 0u) << "max_series was not what refused them";
  // A stored series still takes new samples when the store is full.
  WriteRequest update;
  update.timeseries = {Mem(big + "0", 2, 2)};
  EXPECT_EQ(Ingest(*store, update).status, IngestStatus::kOk);
  // A stale marker ends one series and frees its bytes; expiry frees the rest.
  update.timeseries = {Mem(big + "0", StaleMarker(), 3)};
  Ingest(*store, update);
  EXPECT_LT(store->Stats().bytes, stats.bytes);
  EXPECT_EQ(store->Stats().series, 4u);
  store->Collect(kT0 + seconds(11));
  EXPECT_EQ(store->Stats().bytes, 0u);
  EXPECT_EQ(store->Stats().series, 0u);
}

// A sample dated 2200 froze its series: every later real sample was "out of order".
TEST(RelayStore, SamplesTooFarInTheFutureRefuseTheRequest) {
  const auto wall_now = WallClock::time_point() + std::chrono::hours(24 * 365 * 56);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_now.time_since_epoch()).count();
  RelayOptions options;
  options.max_future = std::chrono::minutes(10);
  options.wall_clock = [&] { return wall_now; };
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("a", 1, now_ms), Mem("b", 666, 7'258'118'400'000)};
  IngestResult result = Ingest(*store, request);
  EXPECT_EQ(result.status, IngestStatus::kInvalid);
  EXPECT_EQ(result.reason, reject::kTooFarInFuture);
  EXPECT_NE(result.error.find("7258118400000"), std::string::npos) << result.error;
  EXPECT_EQ(store->Stats().series, 0u);
  // Up to max_future ahead is fine; a later real sample then still gets in.
  request.timeseries = {Mem("b", 1, now_ms + 10 * 60 * 1000)};
  EXPECT_EQ(Ingest(*store, request).status, IngestStatus::kOk);
  request.timeseries = {Mem("b", 1, now_ms + 10 * 60 * 1000 + 1)};
  EXPECT_EQ(Ingest(*store, request).reason, reject::kTooFarInFuture);
}

// Resending a sample already stored (or an older one) is not news: it must not keep the series
// alive past its TTL.
TEST(RelayStore, OnlyAcceptedSamplesRefreshTheTtl) {
  RelayOptions options;
  options.ttl = seconds(10);
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("a", 1, 100)};
  ASSERT_EQ(Ingest(*store, request).accepted, 1u);
  request.timeseries = {Mem("a", 1, 100)};  // the same timestamp again
  EXPECT_EQ(Ingest(*store, request, kT0 + seconds(8)).out_of_order, 1u);
  EXPECT_TRUE(store->Collect(kT0 + seconds(11)).empty()) << "an out-of-order sample refreshed it";
  // An accepted one does.
  request.timeseries = {Mem("a", 1, 200)};
  ASSERT_EQ(Ingest(*store, request, kT0 + seconds(20)).accepted, 1u);
  request.timeseries = {Mem("a", 1, 300)};
  ASSERT_EQ(Ingest(*store, request, kT0 + seconds(28)).accepted, 1u);
  EXPECT_EQ(store->Collect(kT0 + seconds(35)).size(), 1u);
}

// promtool's linter over everything the relay exposes, when promtool is installed.
TEST(RelayStore, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  RelayOptions options;
  options.extra_labels = {{"cluster", "k8s"}};
  auto store = MakeStore(options);
  WriteRequest request;
  request.timeseries = {Mem("a\"b\\c\nd", 1, 1),
                        Mem("ü", std::numeric_limits<double>::quiet_NaN(), 1),
                        Series({{"__name__", "container_fs_limit_bytes"}}, {{-1e300, 1}})};
  Ingest(*store, request);
  const std::string text = store->RenderExposition(kT0) + SelfMetricsText(*store);
  const std::string path = ::testing::TempDir() + "/relay_exposition.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_TRUE(f);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_TRUE(pipe);
  std::string output;
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << output << "\n" << text;
}

}  // namespace
}  // namespace podstat::remote_write
