#include "podstat/util/log.h"

#include <chrono>
#include <ctime>

namespace podstat {

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

namespace {

// Quotes a logfmt value: backslashes, quotes and newlines escaped so one record stays one line.
std::string Quote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (c == '\n') {
      quoted += "\\n";
    } else {
      quoted += c;
    }
  }
  quoted += '"';
  return quoted;
}

}  // namespace

void Logger::Write(LogLevel level, std::string_view component, std::string_view message) {
  using std::chrono::system_clock;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);

  std::lock_guard lock(mutex_);
  std::fprintf(out_, "ts=%s.%03dZ level=%.*s component=%.*s msg=%s\n", stamp,
               static_cast<int>(millis), static_cast<int>(LogLevelName(level).size()),
               LogLevelName(level).data(), static_cast<int>(component.size()), component.data(),
               Quote(message).c_str());
  std::fflush(out_);
}

}  // namespace podstat
