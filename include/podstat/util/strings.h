// String helpers for the line-oriented formats of /proc and cgroupfs.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace podstat {

// A std::string (const or not) bound to a forwarding reference `T&&` as an rvalue: an lvalue
// deduces T = std::string& and does not match. Functions that return views into their argument
// declare a deleted overload for it, so that passing a temporary string, whose buffer dies at the
// end of the full expression while the views live on, does not compile. The bug this stops:
// `for (auto field : SplitFields(ReadOr(path)))` -- C++20's range-for extends the lifetime of the
// returned vector only, not of the string it points into. Keep the string in a named variable.
//
// Why a constrained template rather than plain `std::string&&` / `const std::string&&`
// overloads: those would make every call with a string literal or a `const char*` ambiguous
// (both std::string and std::string_view are user-defined conversions from it); the template
// matches rvalue std::strings exactly and nothing else.
template <typename T>
concept TemporaryString = std::same_as<std::remove_const_t<T>, std::string>;

// Splits on any run of the given separator characters, dropping empty fields.
std::vector<std::string_view> SplitFields(std::string_view text,
                                          std::string_view separators = " \t");
template <TemporaryString T>
std::vector<std::string_view> SplitFields(T&& text, std::string_view separators = " \t") = delete;

// Splits into lines without the trailing newline; keeps empty lines out.
std::vector<std::string_view> SplitLines(std::string_view text);
template <TemporaryString T>
std::vector<std::string_view> SplitLines(T&& text) = delete;

std::string_view Trim(std::string_view text);
template <TemporaryString T>
std::string_view Trim(T&& text) = delete;

// Parses an unsigned decimal (or hex with base 16) number spanning the whole text.
std::optional<uint64_t> ParseUint64(std::string_view text, int base = 10);
std::optional<int64_t> ParseInt64(std::string_view text);

// Text from the kernel or a runtime made fit for a Prometheus label value, which must be valid
// UTF-8: one invalid byte anywhere makes Prometheus (and `promtool check metrics`) reject the
// whole scrape, so every series of the node would be lost to one cgroup named with invalid bytes.
//
// Well-formed UTF-8 (RFC 3629, as Go's utf8.ValidString and so Prometheus judge it: no overlong
// forms, no surrogates, nothing above U+10FFFF) is returned unchanged, control characters included
// (the exposition writer escapes '"', '\' and newline). Each byte of an ill-formed sequence
// becomes the four characters `\xHH` (upper-case hex), e.g. "x-\xff\xfe" -> `x-\xFF\xFE`: every
// byte is kept, so distinct names stay distinct and a cgroup stays recognisable by its path (not
// U+FFFD, which would merge "x-\xff" and "x-\xfe" into one series).
//
// Not injective: a name spelling `\xFF` in ASCII gives the same text as one holding the byte
// 0xFF there. Both would have to be siblings in one directory, created by whoever may write it
// (the kernel keeps names unique per directory); callers that key on the result say what happens
// then. systemd's own escapes are lower-case (`\x2d`), so they never collide with these.
std::string EscapeInvalidUtf8(std::string_view text);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF;
// NUL and control characters are valid), as Prometheus requires of label values.
bool IsValidUtf8(std::string_view text);

}  // namespace podstat
