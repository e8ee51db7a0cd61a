// Every privileged test starts with PODSTAT_REQUIRE_PRIVILEGES(): without root or kernel BTF the
// test is skipped with a message that says so, never silently passed.
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

}  // namespace podstat::testing

#define PODSTAT_REQUIRE_PRIVILEGES()                                                      \
  do {                                                                                    \
    const std::string podstat_missing = ::podstat::testing::MissingPrivileges();          \
    if (!podstat_missing.empty())                                                         \
      GTEST_SKIP() << "SKIPPED PRIVILEGED TEST: " << podstat_missing                      \
                   << " -- run `make test` as root on a kernel with BTF to exercise BPF"; \
  } while (0)
