// Every privileged test starts with PODSTAT_REQUIRE_PRIVILEGES(): without root or kernel BTF the
// test is skipped with a message that says so, never silently passed. Tests of what the agent
// reads from cgroup files and /proc, which it does with or without eBPF, start with
// PODSTAT_REQUIRE_ROOT() instead: without kernel BTF they test the agent's fallback.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace podstat::testing {

// Empty when the test can run; otherwise why it cannot.
inline std::string MissingPrivileges() {
  if (::geteuid() != 0) return "not running as root";
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
  return {};
}

inline std::string MissingRoot() { return ::geteuid() != 0 ? "not running as root" : ""; }

}  // namespace podstat::testing

// Skips the test, loudly, when `missing` (a MissingPrivileges-style reason) is not empty.
#define PODSTAT_SKIP_IF_MISSING(missing, hint)                                          \
  do {                                                                                  \
    const std::string podstat_missing = (missing);                                      \
    if (!podstat_missing.empty())                                                       \
      GTEST_SKIP() << "SKIPPED PRIVILEGED TEST: " << podstat_missing << " -- " << hint; \
  } while (0)

#define PODSTAT_REQUIRE_PRIVILEGES()                               \
  PODSTAT_SKIP_IF_MISSING(::podstat::testing::MissingPrivileges(), \
                          "run `make test` as root on a kernel with BTF to exercise BPF")
#define PODSTAT_REQUIRE_ROOT()                               \
  PODSTAT_SKIP_IF_MISSING(::podstat::testing::MissingRoot(), \
                          "run `make test` as root to exercise cgroups and /proc")
