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

}  // namespace podstat
