#include "podstat/util/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "podstat/util/fd.h"

namespace podstat {

std::optional<std::string> ReadFile(const std::string& path, int* error_number) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (error_number) *error_number = errno;
    return std::nullopt;
  }
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error_number) *error_number = errno;
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

std::optional<std::string> ReadLink(const std::string& path, int* error_number) {
  char buffer[4096];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof(buffer));
  if (n < 0) {
    if (error_number) *error_number = errno;
    return std::nullopt;
  }
  return std::string(buffer, static_cast<size_t>(n));
}

std::string ErrnoMessage(int error_number) {
  char buffer[256];
  // GNU strerror_r returns the message pointer, which may or may not be buffer.
  return std::string(strerror_r(error_number, buffer, sizeof(buffer)));
}

}  // namespace podstat
