#include "podstat/remote_write/retry.h"

#include <gtest/gtest.h>

namespace podstat::remote_write {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2015-10-21 07:28:00 UTC.
const auto kNow = std::chrono::system_clock::from_time_t(1445412480);

TEST(RemoteWriteRetry, ClassifiesStatuses) {
  EXPECT_EQ(Classify(200, "", kNow).action, RetryAction::kDone);
  EXPECT_EQ(Classify(204, "", kNow).action, RetryAction::kDone);
  EXPECT_EQ(Classify(0, "", kNow).action, RetryAction::kRetry);
  EXPECT_EQ(Classify(500, "", kNow).action, RetryAction::kRetry);
  EXPECT_EQ(Classify(503, "", kNow).action, RetryAction::kRetry);
  EXPECT_EQ(Classify(429, "", kNow).action, RetryAction::kRetry);
  for (int status : {400, 401, 403, 404, 409, 413, 415, 301, 100})
    EXPECT_EQ(Classify(status, "", kNow).action, RetryAction::kDrop) << status;
}

TEST(RemoteWriteRetry, HonoursRetryAfterOnRetryableAnswersOnly) {
  EXPECT_EQ(Classify(429, "7", kNow).retry_after, milliseconds(7000));
  EXPECT_EQ(Classify(503, "2", kNow).retry_after, milliseconds(2000));
  EXPECT_FALSE(Classify(429, "", kNow).retry_after);
  EXPECT_FALSE(Classify(400, "7", kNow).retry_after);
  EXPECT_FALSE(Classify(204, "7", kNow).retry_after);
}

TEST(RemoteWriteRetry, ParsesRetryAfterForms) {
  EXPECT_EQ(ParseRetryAfter("0", kNow), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter(" 120 ", kNow), milliseconds(120'000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", kNow), milliseconds(30'000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", kNow), milliseconds(0));  // past
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kNow), milliseconds(seconds(24 * 3600)));
  EXPECT_FALSE(ParseRetryAfter("", kNow));
  EXPECT_FALSE(ParseRetryAfter("-5", kNow));
  EXPECT_FALSE(ParseRetryAfter("1.5", kNow));
  EXPECT_FALSE(ParseRetryAfter("soon", kNow));
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT trailing", kNow));
}

TEST(RemoteWriteRetry, BackoffDoublesUpToTheCap) {
  const milliseconds min(30), max(5000);
  // unit_random = 1 gives the top of the jitter range, i.e. the un-jittered delay.
  EXPECT_EQ(Backoff(0, min, max, 1.0), milliseconds(30));
  EXPECT_EQ(Backoff(1, min, max, 1.0), milliseconds(60));
  EXPECT_EQ(Backoff(4, min, max, 1.0), milliseconds(480));
  EXPECT_EQ(Backoff(8, min, max, 1.0), milliseconds(5000));
  EXPECT_EQ(Backoff(1000, min, max, 1.0), milliseconds(5000));  // no overflow
}

TEST(RemoteWriteRetry, BackoffJitterStaysWithinHalfToFull) {
  const milliseconds min(30), max(5000);
  EXPECT_EQ(Backoff(2, min, max, 0.0), milliseconds(60));  // half of 120
  EXPECT_EQ(Backoff(2, min, max, 0.5), milliseconds(90));
  for (double r = 0; r < 1; r += 0.01) {
    const auto d = Backoff(3, min, max, r);
    EXPECT_GE(d, milliseconds(120));
    EXPECT_LE(d, milliseconds(240));
  }
  // Out-of-range randomness is clamped, a zero minimum still waits.
  EXPECT_EQ(Backoff(0, min, max, 7.0), milliseconds(30));
  EXPECT_GE(Backoff(0, milliseconds(0), max, 1.0), milliseconds(1));
}

}  // namespace
}  // namespace podstat::remote_write
