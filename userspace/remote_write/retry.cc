#include "podstat/remote_write/retry.h"

#include <algorithm>
#include <ctime>
#include <string>

namespace podstat::remote_write {
namespace {

// Caps absurd Retry-After values before converting, so the arithmetic cannot overflow. The sender
// applies its own (smaller) cap on top.
constexpr long long kMaxRetryAfterSeconds = 24 * 3600;

}  // namespace

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    for (char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > kMaxRetryAfterSeconds) {
        seconds = kMaxRetryAfterSeconds;
        break;
      }
    }
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate, the only HTTP-date form senders are required to produce.
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::time_t at = ::timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  const auto delay = std::chrono::system_clock::from_time_t(at) - now;
  if (delay <= std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(delay),
                  std::chrono::milliseconds(std::chrono::seconds(kMaxRetryAfterSeconds)));
}

RetryDecision Classify(int http_status, std::string_view retry_after_header,
                       std::chrono::system_clock::time_point now) {
  if (http_status >= 200 && http_status < 300) return {RetryAction::kDone, std::nullopt};
  if (http_status == 0) return {RetryAction::kRetry, std::nullopt};
  if (http_status == 429 || (http_status >= 500 && http_status < 600))
    return {RetryAction::kRetry, ParseRetryAfter(retry_after_header, now)};
  return {RetryAction::kDrop, std::nullopt};
}

std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds min,
                                  std::chrono::milliseconds max, double unit_random) {
  auto delay = std::max(min, std::chrono::milliseconds(1));
  for (int i = 0; i < attempt && delay < max; ++i) delay *= 2;
  delay = std::min(delay, max);
  unit_random = std::clamp(unit_random, 0.0, 1.0);
  const auto half = delay.count() / 2;
  return std::chrono::milliseconds(
      half + static_cast<long long>(static_cast<double>(delay.count() - half) * unit_random));
}

}  // namespace podstat::remote_write
