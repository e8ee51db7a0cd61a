#include "podstat/util/rlimit.h"

#include <sys/resource.h>

#include <cerrno>

#include "podstat/util/file.h"

namespace podstat {
namespace {

std::string Describe(rlim_t limit) {
  return limit == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit);
}

}  // namespace

std::string RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return "getrlimit(RLIMIT_NOFILE): " + ErrnoMessage(errno);
  }
  if (limit.rlim_cur == limit.rlim_max) {
    return "open file limit " + Describe(limit.rlim_cur) + " (already the hard limit)";
  }
  const rlim_t was = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return "cannot raise the open file limit from " + Describe(was) + " to the hard limit " +
           Describe(limit.rlim_max) + ": " + ErrnoMessage(errno);
  }
  return "open file limit raised from " + Describe(was) + " to the hard limit " +
         Describe(limit.rlim_max);
}

}  // namespace podstat
