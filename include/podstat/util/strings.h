// String helpers for the line-oriented formats of /proc and cgroupfs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podstat {

// Splits on any run of the given separator characters, dropping empty fields.
std::vector<std::string_view> SplitFields(std::string_view text,
                                          std::string_view separators = " \t");

// Splits into lines without the trailing newline; keeps empty lines out.
std::vector<std::string_view> SplitLines(std::string_view text);

std::string_view Trim(std::string_view text);

// Parses an unsigned decimal (or hex with base 16) number spanning the whole text.
std::optional<uint64_t> ParseUint64(std::string_view text, int base = 10);
std::optional<int64_t> ParseInt64(std::string_view text);

}  // namespace podstat
