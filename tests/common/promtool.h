// `promtool check metrics` (Debian's prometheus 2.42) as the oracle for an exposition, for tests
// that cannot link the privileged support's RunCommand.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace podstat::testing {

inline bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

struct PromtoolResult {
  int wait_status = -1;  // as from waitpid: 0 accepted; exit 1 parse error, 3 lint findings only
  std::string output;
};

// Runs promtool on text, through a temp file of its own (tests may run in parallel).
inline PromtoolResult PromtoolCheckMetrics(const std::string& text) {
  char path[] = "/tmp/podstat-promtool-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp for promtool input");
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written) {
    ::unlink(path);
    throw std::runtime_error("writing promtool input");
  }
  PromtoolResult result;
  if (std::FILE* pipe =
          ::popen(("promtool check metrics < " + std::string(path) + " 2>&1").c_str(), "r")) {
    char buffer[512];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
    result.wait_status = ::pclose(pipe);
  }
  ::unlink(path);
  return result;
}

}  // namespace podstat::testing
