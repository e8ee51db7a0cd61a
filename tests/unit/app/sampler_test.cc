#include "podstat/app/sampler.h"

#include <gtest/gtest.h>

#include <atomic>

namespace podstat::app {
namespace {

using std::chrono::milliseconds;

TEST(Sampler, PublishesAndRefreshesOnDemand) {
  std::atomic<int> collections{0};
  Sampler sampler(
      [&] {
        model::Snapshot snapshot;
        snapshot.self.network_namespaces = static_cast<uint64_t>(++collections);
        return snapshot;
      },
      std::chrono::hours(1));  // the background period never elapses in this test
  const auto first = sampler.Fresh(milliseconds(60000), milliseconds(5000));
  ASSERT_TRUE(first);
  // Fresh enough: served as is, no new collection.
  EXPECT_EQ(sampler.Fresh(milliseconds(60000), milliseconds(5000)), first);
  // max-age 0: a collection that started after the request.
  const auto second = sampler.Fresh(milliseconds(0), milliseconds(5000));
  ASSERT_TRUE(second);
  EXPECT_GT(second->self.network_namespaces, first->self.network_namespaces);
  EXPECT_EQ(sampler.Latest(), second);
}

TEST(Sampler, ASlowCollectionDoesNotHangReaders) {
  std::atomic<bool> release{false};
  std::atomic<int> calls{0};
  Sampler sampler(
      [&] {
        if (++calls > 1) {
          while (!release) std::this_thread::sleep_for(milliseconds(5));
        }
        return model::Snapshot{};
      },
      std::chrono::hours(1));
  const auto first = sampler.Fresh(milliseconds(60000), milliseconds(5000));
  ASSERT_TRUE(first);
  const auto started = std::chrono::steady_clock::now();
  const auto served = sampler.Fresh(milliseconds(0), milliseconds(100));  // collection is stuck
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(2000));
  EXPECT_EQ(served, first);  // the last good snapshot
  release = true;
}

}  // namespace
}  // namespace podstat::app
