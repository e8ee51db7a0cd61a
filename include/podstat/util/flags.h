// Command-line flags on CLI11, Prometheus-exporter style: --name=value and --name value,
// --[no-]name toggles, repeatable flags, durations such as 15s. Each area (a source, the web
// listener, the receiver...) registers its own flags on one CLI::App with these helpers; the
// app's --help is generated from what was registered, grouped by the group set before it.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podstat::flags {

// Parses a duration: "250ms", "15s", "5m", "1h", "0s"; nullopt otherwise.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// A flag's value handler: stores the value and returns true, or returns false with *must_be
// set to what the value must be ("at least 100ms"), or left empty if there is nothing to add.
using Setter = std::function<bool(const std::string& value, std::string* must_be)>;

// Configures `app` for these conventions: no CLI11 --help (the caller registers -h,--help as a
// toggle and prints Help()), unknown arguments collected for ParseArgs to report, help laid out
// by name and wrapped prose.
void Configure(CLI::App& app, std::string description, std::string footer);

// Flags registered after this call are listed under `group` in --help.
void SetGroup(CLI::App& app, const std::string& group);

// A flag taking one value (`metavar` names it in --help), handed to `set`. Repeated, every value
// is handed over in order (the last one wins unless `set` accumulates).
CLI::Option* AddValue(CLI::App& app, const std::string& name, const std::string& metavar,
                      const std::string& help, Setter set);

// --name and --no-name, also --name=true/false.
CLI::Option* AddToggle(CLI::App& app, const std::string& name, bool& field,
                       const std::string& help);

// An on/off flag that is only ever turned on (--check, --version, -h,--help): listed as
// `names` in --help; --no-name and --name=false are accepted as for a toggle.
CLI::Option* AddSwitch(CLI::App& app, const std::string& names, bool& field,
                       const std::string& help);

// Any text, or (allow_empty) also "", which callers use to turn something off.
CLI::Option* AddText(CLI::App& app, const std::string& name, std::string& field,
                     const std::string& metavar, const std::string& help, bool allow_empty = false);

// One of `choices`.
CLI::Option* AddChoice(CLI::App& app, const std::string& name, std::string& field,
                       std::initializer_list<const char*> choices, const std::string& metavar,
                       const std::string& help);

// A duration ("250ms", "15s", "5m", "1h") of at least `minimum`.
CLI::Option* AddDuration(CLI::App& app, const std::string& name, std::chrono::milliseconds& field,
                         std::chrono::milliseconds minimum, const std::string& help);

// An unsigned integer in [min, max].
CLI::Option* AddUint(CLI::App& app, const std::string& name, uint64_t& field, uint64_t min,
                     uint64_t max, const std::string& help);
CLI::Option* AddUint(CLI::App& app, const std::string& name, uint32_t& field, uint32_t min,
                     uint32_t max, const std::string& help);

// Repeatable: each use appends a non-empty value.
CLI::Option* AddRepeated(CLI::App& app, const std::string& name, std::vector<std::string>& field,
                         const std::string& metavar, const std::string& help);

// Repeatable NAME=VALUE, split at the first '=', with NAME accepted by `valid_name`.
CLI::Option* AddLabels(CLI::App& app, const std::string& name,
                       std::vector<std::pair<std::string, std::string>>& field,
                       std::function<bool(std::string_view)> valid_name, const std::string& help);

// Parses `args` (argv[1..]) into the registered fields. On a bad argument returns false with a
// one-line reason in *error that names the flag.
bool ParseArgs(CLI::App& app, const std::vector<std::string>& args, std::string* error);

// --help: the description, usage, every group of flags, then the footer.
std::string Help(const CLI::App& app);

// `text` as lines of at most --help's width (96): the first indented by `first_indent` spaces,
// the others by `next_indent`; for prose in a footer.
std::string Wrap(std::string_view text, size_t first_indent, size_t next_indent);

}  // namespace podstat::flags
