// Small synchronous file helpers for /proc, /sys and cgroupfs, where files are tiny and reads are
// atomic snapshots. Errors come back as errno values, never exceptions: a vanished /proc/<pid> is
// normal, and the caller decides whether it matters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace podstat {

// Reads a whole file. On failure returns nullopt and stores errno in *error_number if given.
std::optional<std::string> ReadFile(const std::string& path, int* error_number = nullptr);

// Reads a symlink's target (e.g. /proc/<pid>/ns/net -> "net:[4026531840]").
std::optional<std::string> ReadLink(const std::string& path, int* error_number = nullptr);

// strerror() as a std::string, thread-safe.
std::string ErrnoMessage(int error_number);

}  // namespace podstat
