// Structured logging in logfmt (ts=... level=... component=... msg="..."), like Prometheus
// exporters. A Logger is created by main and passed by reference: there is no global logger.
#pragma once

#include <cstdio>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace podstat {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo, std::FILE* out = stderr)
      : level_(level), out_(out) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Write(LogLevel level, std::string_view component, std::string_view message);

  template <typename... Args>
  void Log(LogLevel level, std::string_view component, const Args&... args) {
    Emit(level, component, args...);
  }
  template <typename... Args>
  void Debug(std::string_view component, const Args&... args) {
    Emit(LogLevel::kDebug, component, args...);
  }
  template <typename... Args>
  void Info(std::string_view component, const Args&... args) {
    Emit(LogLevel::kInfo, component, args...);
  }
  template <typename... Args>
  void Warn(std::string_view component, const Args&... args) {
    Emit(LogLevel::kWarn, component, args...);
  }
  template <typename... Args>
  void Error(std::string_view component, const Args&... args) {
    Emit(LogLevel::kError, component, args...);
  }

 private:
  template <typename... Args>
  void Emit(LogLevel level, std::string_view component, const Args&... args) {
    if (!Enabled(level)) return;
    std::ostringstream message;
    (message << ... << args);
    Write(level, component, message.str());
  }

  LogLevel level_;
  std::FILE* out_;
  std::mutex mutex_;
};

}  // namespace podstat
