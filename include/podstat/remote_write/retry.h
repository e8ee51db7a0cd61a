// The sender's retry policy as pure functions, so every branch is unit-tested without a network.
// remote_write 1.0: retry 5xx and network errors with backoff, retry 429 honouring Retry-After,
// never retry other 4xx (the data would be refused again: drop and count it).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace podstat::remote_write {

enum class RetryAction {
  kDone,   // 2xx: delivered
  kRetry,  // 5xx, 429, network error
  kDrop,   // any other status: the receiver will never take this data
};

struct RetryDecision {
  RetryAction action = RetryAction::kDone;
  // The receiver's Retry-After, when it sent a valid one with a retryable answer.
  std::optional<std::chrono::milliseconds> retry_after;
};

// http_status 0 means no HTTP answer at all (connect failure, timeout, reset). Retry-After is
// honoured on 429 and on 5xx, as Prometheus's sender does.
RetryDecision Classify(int http_status, std::string_view retry_after_header,
                       std::chrono::system_clock::time_point now);

// Retry-After as delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"; a date
// in the past means 0). nullopt when empty or unparseable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

// Delay before retry number `attempt` (0 = first retry): min * 2^attempt capped at max, with
// "equal jitter" -- uniformly in [d/2, d] -- so that many agents knocked over by one outage do not
// come back in lockstep. unit_random in [0, 1) comes from the caller's RNG (injectable in tests).
std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds min,
                                  std::chrono::milliseconds max, double unit_random);

}  // namespace podstat::remote_write
