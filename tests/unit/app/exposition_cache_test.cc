#include "podstat/app/exposition_cache.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "common/exposition_snapshots.h"
#include "common/gunzip.h"
#include "podstat/app/remote_write_bridge.h"
#include "podstat/util/build_info.h"

namespace podstat::app {
namespace {

metrics::BuildContext At(double seconds_after_snapshot) {
  return {"6.18.0-podstat",
          std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)) +
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::duration<double>(seconds_after_snapshot)),
          false};
}

// The page rendered in one go, as the cache must reproduce it.
std::string WholePage(const model::Snapshot& snapshot, const metrics::BuildContext& context,
                      const std::vector<remote_write::RelayFamily>& relayed,
                      std::string_view self_metrics) {
  std::string text;
  metrics::TextSink sink(text);
  RelayMergingSink merged(sink, relayed);
  metrics::WriteFamilies(snapshot, context, merged);
  merged.Finish();
  return text + std::string(self_metrics);
}

// What the server sends: the cache's shared prefix, then the body.
std::string Sent(const ExpositionPage& page) {
  return (page.prefix ? *page.prefix : std::string()) + page.body;
}

std::vector<remote_write::RelayFamily> RelayedAfterOurs() {
  auto relayed = testing::HostileRelayed();
  relayed.erase(relayed.begin());  // the one merging into container_memory_usage_bytes
  return relayed;
}

constexpr std::string_view kSelf =
    "# TYPE podstat_http_requests_total counter\n"
    "podstat_http_requests_total 3\n";

TEST(ExpositionCache, SecondScrapeOfASnapshotReusesItsPartAndRefreshesTheRest) {
  const auto snapshot = std::make_shared<const model::Snapshot>(testing::EveryKindSnapshot());
  ExpositionCache cache;
  const auto relayed = RelayedAfterOurs();
  const ExpositionPage first = cache.Render(snapshot, At(1), relayed, kSelf, false);
  EXPECT_FALSE(first.gzipped);
  EXPECT_EQ(Sent(first), WholePage(*snapshot, At(1), relayed, kSelf));
  // Later, with other relayed series and self-metrics: the age and the tail follow.
  const ExpositionPage second = cache.Render(snapshot, At(2.5), {}, "x 1\n", false);
  EXPECT_EQ(Sent(second), WholePage(*snapshot, At(2.5), {}, "x 1\n"));
  EXPECT_NE(Sent(second).find("\npodstat_snapshot_age_seconds 2.5\n"), std::string::npos);
  // A new snapshot is a new page.
  auto changed = testing::EveryKindSnapshot();
  changed.self.socket_drift = 12345;
  const auto next = std::make_shared<const model::Snapshot>(changed);
  const ExpositionPage third = cache.Render(next, At(3), relayed, kSelf, false);
  EXPECT_EQ(Sent(third), WholePage(changed, At(3), relayed, kSelf));
  EXPECT_NE(Sent(third).find("\npodstat_socket_drift_total 12345\n"), std::string::npos);
}

// Prometheus sends Accept-Encoding: gzip; Go's gzip.Reader reads concatenated members as one
// stream (RFC 1952 §2.2), so the cached members and the fresh one make one valid body.
TEST(ExpositionCache, GzipIsTheCachedMembersThenAFreshOne) {
  const auto snapshot = std::make_shared<const model::Snapshot>(testing::EveryKindSnapshot());
  ExpositionCache cache(1);  // a member per family
  const auto relayed = RelayedAfterOurs();
  const std::string* shared = nullptr;
  for (double age : {1.0, 2.0}) {
    const ExpositionPage page = cache.Render(snapshot, At(age), relayed, kSelf, true);
    ASSERT_TRUE(page.gzipped);
    // Every scrape of the snapshot is handed the cache's one copy of its members.
    ASSERT_TRUE(page.prefix);
    if (shared) {
      EXPECT_EQ(page.prefix.get(), shared);
    }
    shared = page.prefix.get();
    EXPECT_EQ(testing::GunzipMembers(Sent(page)), WholePage(*snapshot, At(age), relayed, kSelf));
    EXPECT_THROW(testing::Gunzip(Sent(page)), std::runtime_error) << "expected two members";
  }
  // A plain scrape after the gzip was made (the cache then holds no text) is the same page; its
  // text is kept and handed to the next plain scrape.
  const ExpositionPage plain = cache.Render(snapshot, At(3), relayed, kSelf, false);
  EXPECT_EQ(Sent(plain), WholePage(*snapshot, At(3), relayed, kSelf));
  ASSERT_TRUE(plain.prefix);
  const ExpositionPage again = cache.Render(snapshot, At(4), relayed, kSelf, false);
  EXPECT_EQ(again.prefix.get(), plain.prefix.get());
  EXPECT_EQ(Sent(again), WholePage(*snapshot, At(4), relayed, kSelf));
  // And gzip still comes from the members.
  EXPECT_EQ(testing::GunzipMembers(Sent(cache.Render(snapshot, At(5), relayed, kSelf, true))),
            WholePage(*snapshot, At(5), relayed, kSelf));
}

// gzip members are written as the page renders (the whole text is never held), at family ends:
// the same bytes whether or not a plain scrape made the text first, whatever the member size.
TEST(ExpositionCache, GzipMembersAreTheSameWhicheverFormComesFirst) {
  const auto snapshot = std::make_shared<const model::Snapshot>(testing::EveryKindSnapshot());
  const auto relayed = RelayedAfterOurs();
  for (const size_t member_bytes :
       {size_t{1}, size_t{700}, size_t{4096}, ExpositionCache::kDefaultGzipMemberBytes}) {
    SCOPED_TRACE(member_bytes);
    ExpositionCache streamed(member_bytes), from_text(member_bytes);
    from_text.Render(snapshot, At(1), relayed, kSelf, false);  // the text first
    const ExpositionPage a = streamed.Render(snapshot, At(1), relayed, kSelf, true);
    const ExpositionPage b = from_text.Render(snapshot, At(1), relayed, kSelf, true);
    ASSERT_TRUE(a.gzipped && b.gzipped);
    EXPECT_EQ(Sent(a), Sent(b));
    EXPECT_EQ(testing::GunzipMembers(Sent(a)), WholePage(*snapshot, At(1), relayed, kSelf));
    // Relayed series inside a cached family reuse the streamed members around fresh ones.
    const auto inside = testing::HostileRelayed();
    EXPECT_EQ(testing::GunzipMembers(Sent(streamed.Render(snapshot, At(2), inside, kSelf, true))),
              WholePage(*snapshot, At(2), inside, kSelf));
  }
}

// A relayed family named like one of the cached part's: its series go inside that family. The
// text is rendered anew; with gzip, the other families' cached members are reused around fresh
// ones.
void RelayedSeriesStayInside(size_t member_bytes) {
  const auto snapshot = std::make_shared<const model::Snapshot>(testing::EveryKindSnapshot());
  ExpositionCache cache(member_bytes);
  const auto relayed = testing::HostileRelayed();
  cache.Render(snapshot, At(1), {}, kSelf, true);  // cached
  const ExpositionPage plain = cache.Render(snapshot, At(2), relayed, kSelf, false);
  EXPECT_FALSE(plain.gzipped);
  EXPECT_EQ(Sent(plain), WholePage(*snapshot, At(2), relayed, kSelf));
  EXPECT_NE(Sent(plain).find("container_memory_usage_bytes{id=\"/\",relay=\"true\"} 12.5\n"
                             "# HELP container_memory_working_set_bytes"),
            std::string::npos);
  const ExpositionPage zipped = cache.Render(snapshot, At(2), relayed, kSelf, true);
  ASSERT_TRUE(zipped.gzipped);
  EXPECT_EQ(testing::GunzipMembers(Sent(zipped)), Sent(plain));
  // The first and the last family of the page take relayed series too.
  auto edges = relayed;
  edges.push_back(
      {"container_tcp_sockets", {{{{"__name__", "container_tcp_sockets"}, {"x", "1"}}, 1, 1}}});
  edges.push_back({"podstat_collection_duration_seconds",
                   {{{{"__name__", "podstat_collection_duration_seconds"}, {"x", "1"}}, 2, 1}}});
  const ExpositionPage both = cache.Render(snapshot, At(3), edges, kSelf, true);
  ASSERT_TRUE(both.gzipped);
  EXPECT_EQ(testing::GunzipMembers(Sent(both)), WholePage(*snapshot, At(3), edges, kSelf));
}

TEST(ExpositionCache, RelayedSeriesInsideACachedFamilyStayInsideIt) {
  // Members of one family each (the test page is small), as at 300 containers, and the default.
  for (const size_t member_bytes : {size_t{1}, ExpositionCache::kDefaultGzipMemberBytes}) {
    SCOPED_TRACE(member_bytes);
    RelayedSeriesStayInside(member_bytes);
  }
}

// The whole page for one fixed snapshot (as node_exporter's e2e-output.txt): any change to what
// /metrics serves shows here as a diff to review. The build's revision and version are
// placeholders.
TEST(ExpositionGolden, FixedSnapshotMatchesTheGoldenFile) {
  const auto snapshot = std::make_shared<const model::Snapshot>(testing::EveryKindSnapshot());
  ExpositionCache cache;
  std::string page = Sent(cache.Render(snapshot, At(2.5), testing::HostileRelayed(), "", false));
  for (const auto& [value, placeholder] :
       {std::pair{std::string("revision=\"") + build_info::kRevision + "\"",
                  std::string("revision=\"REVISION\"")},
        std::pair{std::string("version=\"") + build_info::kVersion + "\"",
                  std::string("version=\"VERSION\"")}}) {
    const size_t at = page.find(value);
    ASSERT_NE(at, std::string::npos) << value;
    page.replace(at, value.size(), placeholder);
  }
  const std::string path = PODSTAT_FIXTURES_DIR "/exposition/golden.txt";
  if (std::getenv("PODSTAT_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << page;
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(page, golden.str())
      << "/metrics for the fixed snapshot changed. If the change is intended, regenerate with\n"
         "  PODSTAT_UPDATE_GOLDEN=1 build/tests/podstat_unit_tests "
         "--gtest_filter=ExpositionGolden.*\nand review `git diff "
         "tests/fixtures/exposition/golden.txt`.";
}

}  // namespace
}  // namespace podstat::app
