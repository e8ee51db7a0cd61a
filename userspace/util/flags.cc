#include "podstat/util/flags.h"

#include <algorithm>
#include <memory>

#include "podstat/util/strings.h"

namespace podstat::flags {
namespace {

constexpr size_t kHelpWidth = 96;
constexpr size_t kDescriptionColumn = 34;

// "--web.listen-address=ADDR", "--[no-]bpf", or the names an AddSwitch gave.
std::string Label(const CLI::Option& option) {
  if (!option.get_option_text().empty()) return option.get_option_text();
  const std::string& name = option.get_lnames().front();
  if (option.get_items_expected_max() == 0) {
    return option.get_fnames().empty() ? "--" + name : "--[no-]" + name;
  }
  return "--" + name + "=" + option.get_type_name();
}

// The whole --help layout: CLI11's default puts types and defaults in columns of their own and
// does not wrap descriptions; podstat's flags are documented in sentences.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const override {
    std::string out = app->get_description() + "\n\nUsage: " + app->get_name() + " [flags]\n";
    for (const std::string& group : app->get_groups()) {
      const std::vector<const CLI::Option*> options =
          app->get_options([&group](const CLI::Option* option) {
            return option->get_group() == group && option->nonpositional();
          });
      if (group.empty() || options.empty()) continue;
      out += "\n" + group + ":\n";
      for (const CLI::Option* option : options) out += make_option(option, false);
    }
    return out + "\n" + app->get_footer();
  }

  std::string make_option(const CLI::Option* option, bool) const override {
    const std::string label = "  " + Label(*option);
    std::string description =
        Wrap(option->get_description(), kDescriptionColumn, kDescriptionColumn);
    if (label.size() + 1 <= kDescriptionColumn) {
      // The first line of the description goes beside the label.
      return label + description.substr(label.size());
    }
    return label + "\n" + description;
  }
};

std::string MustBeOneOf(std::initializer_list<const char*> choices) {
  std::string text = "one of";
  for (const char* choice : choices) text += std::string(text.size() > 6 ? ", " : " ") + choice;
  return text;
}

// A decimal number in [min, max], handed to `store`.
Setter InRange(uint64_t min, uint64_t max, std::function<void(uint64_t)> store) {
  return [min, max, store = std::move(store)](const std::string& value, std::string* must_be) {
    const auto number = ParseUint64(value);
    if (!number || *number < min || *number > max) {
      *must_be = "from " + std::to_string(min) + " to " + std::to_string(max);
      return false;
    }
    store(*number);
    return true;
  };
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    int64_t millis;
  };
  // Longest suffix first so "ms" is not read as "s".
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  for (const Unit& unit : kUnits) {
    if (!text.ends_with(unit.suffix)) continue;
    const auto number = ParseUint64(text.substr(0, text.size() - unit.suffix.size()));
    // Past int64 milliseconds the product would wrap, e.g. to a negative --sample.max-age.
    if (!number || *number > static_cast<uint64_t>(INT64_MAX / unit.millis)) return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(*number) * unit.millis);
  }
  return std::nullopt;
}

void Configure(CLI::App& app, std::string description, std::string footer) {
  app.description(std::move(description));
  app.footer(std::move(footer));
  app.set_help_flag();  // -h,--help is the caller's switch, so --help is printed by main
  app.allow_extras();   // ParseArgs names the first unknown argument itself
  app.formatter(std::make_shared<HelpFormatter>());
}

void SetGroup(CLI::App& app, const std::string& group) { app.option_defaults()->group(group); }

CLI::Option* AddValue(CLI::App& app, const std::string& name, const std::string& metavar,
                      const std::string& help, Setter set) {
  auto apply = [name, set = std::move(set)](const CLI::results_t& values) {
    for (const std::string& value : values) {
      std::string must_be;
      if (!set(value, &must_be)) {
        throw CLI::ValidationError("invalid value '" + value + "' for --" + name +
                                   (must_be.empty() ? "" : ": must be " + must_be) +
                                   " (see --help)");
      }
    }
    return true;
  };
  return app.add_option("--" + name, std::move(apply), help)
      ->type_name(metavar)
      ->allow_extra_args(false)
      // Every value reaches the setter: a bad one is an error even if a later one is good, and
      // repeatable flags accumulate.
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

CLI::Option* AddToggle(CLI::App& app, const std::string& name, bool& field,
                       const std::string& help) {
  return app.add_flag("--" + name + ",!--no-" + name, field, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option* AddSwitch(CLI::App& app, const std::string& names, bool& field,
                       const std::string& help) {
  std::string spec;
  for (const std::string_view name : SplitFields(names, ", ")) {
    if (!spec.empty()) spec += ',';
    spec += name;
    if (name.starts_with("--")) spec += ",!--no-" + std::string(name.substr(2));
  }
  return app.add_flag(spec, field, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->option_text(names);  // Label(): listed as given, without --[no-]
}

CLI::Option* AddText(CLI::App& app, const std::string& name, std::string& field,
                     const std::string& metavar, const std::string& help, bool allow_empty) {
  return AddValue(app, name, metavar, help,
                  [&field, allow_empty](const std::string& value, std::string* must_be) {
                    if (value.empty() && !allow_empty) {
                      *must_be = "non-empty";
                      return false;
                    }
                    field = value;
                    return true;
                  });
}

CLI::Option* AddChoice(CLI::App& app, const std::string& name, std::string& field,
                       std::initializer_list<const char*> choices, const std::string& metavar,
                       const std::string& help) {
  return AddValue(app, name, metavar, help,
                  [&field, choices = std::vector<std::string>(choices.begin(), choices.end()),
                   must = MustBeOneOf(choices)](const std::string& value, std::string* must_be) {
                    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
                      *must_be = must;
                      return false;
                    }
                    field = value;
                    return true;
                  });
}

CLI::Option* AddDuration(CLI::App& app, const std::string& name, std::chrono::milliseconds& field,
                         std::chrono::milliseconds minimum, const std::string& help) {
  return AddValue(app, name, "DUR", help,
                  [&field, minimum](const std::string& value, std::string* must_be) {
                    const auto parsed = ParseDuration(value);
                    if (!parsed) {
                      *must_be = "a duration such as 250ms, 15s, 5m or 1h";
                      return false;
                    }
                    // A period of 0 would make its loop spin.
                    if (*parsed < minimum) {
                      *must_be = "at least " + std::to_string(minimum.count()) + "ms";
                      return false;
                    }
                    field = *parsed;
                    return true;
                  });
}

CLI::Option* AddUint(CLI::App& app, const std::string& name, uint64_t& field, uint64_t min,
                     uint64_t max, const std::string& help) {
  return AddValue(app, name, "N", help, InRange(min, max, [&field](uint64_t n) { field = n; }));
}

CLI::Option* AddUint(CLI::App& app, const std::string& name, uint32_t& field, uint32_t min,
                     uint32_t max, const std::string& help) {
  return AddValue(app, name, "N", help,
                  InRange(min, max, [&field](uint64_t n) { field = static_cast<uint32_t>(n); }));
}

CLI::Option* AddRepeated(CLI::App& app, const std::string& name, std::vector<std::string>& field,
                         const std::string& metavar, const std::string& help) {
  return AddValue(app, name, metavar, help,
                  [&field](const std::string& value, std::string* must_be) {
                    if (value.empty()) {
                      *must_be = "non-empty";
                      return false;
                    }
                    field.push_back(value);
                    return true;
                  });
}

CLI::Option* AddLabels(CLI::App& app, const std::string& name,
                       std::vector<std::pair<std::string, std::string>>& field,
                       std::function<bool(std::string_view)> valid_name, const std::string& help) {
  return AddValue(
      app, name, "NAME=VALUE", help,
      [&field, valid_name = std::move(valid_name)](const std::string& value, std::string* must_be) {
        const size_t eq = value.find('=');
        if (eq == std::string::npos || !valid_name(value.substr(0, eq))) {
          *must_be = "NAME=VALUE with NAME a label name";
          return false;
        }
        field.emplace_back(value.substr(0, eq), value.substr(eq + 1));
        return true;
      });
}

bool ParseArgs(CLI::App& app, const std::vector<std::string>& args, std::string* error) {
  // CLI11 wants them in reverse order. "--name=" becomes "--name" "": CLI11 would otherwise take
  // the next argument as the value, and "" is a value (--runtime.docker-endpoint= turns Docker
  // off).
  std::vector<std::string> reversed;
  for (const std::string& arg : args) {
    if (arg.size() > 3 && arg.starts_with("--") && arg.ends_with("=") &&
        arg.find('=') == arg.size() - 1) {
      reversed.push_back(arg.substr(0, arg.size() - 1));
      reversed.emplace_back();
    } else {
      reversed.push_back(arg);
    }
  }
  std::reverse(reversed.begin(), reversed.end());
  try {
    app.parse(reversed);
  } catch (const CLI::ValidationError& e) {  // thrown by AddValue with the whole message
    *error = e.what();
    return false;
  } catch (const CLI::ArgumentMismatch& e) {
    // "--web.listen-address: 1 required TEXT missing": the value was the last argument.
    const std::string what = e.what();
    const size_t colon = what.find(':');
    *error = what.find("missing") != std::string::npos && colon != std::string::npos
                 ? "flag " + what.substr(0, colon) + " needs a value"
                 : what + " (see --help)";
    return false;
  } catch (const CLI::ConversionError& e) {
    // Only toggles convert in CLI11 (values go to a Setter): "Could not convert: --bpf = maybe".
    const std::string what = e.what();
    const size_t colon = what.find(": ");
    const size_t equals = what.find(" = ");
    *error = colon != std::string::npos && equals != std::string::npos && colon < equals
                 ? "invalid value '" + what.substr(equals + 3) + "' for " +
                       what.substr(colon + 2, equals - colon - 2) +
                       ": must be true or false (see --help)"
                 : what + " (see --help)";
    return false;
  } catch (const CLI::ParseError& e) {
    *error = std::string(e.what()) + " (see --help)";
    return false;
  }
  const std::vector<std::string> extras = app.remaining();
  if (extras.empty()) return true;
  const std::string& first = extras.front();
  *error = first.starts_with("-")
               ? "unknown flag " + first.substr(0, first.find('=')) + " (see --help)"
               : "unexpected argument '" + first + "' (see --help)";
  return false;
}

std::string Help(const CLI::App& app) { return app.help(); }

std::string Wrap(std::string_view text, size_t first_indent, size_t next_indent) {
  std::string out;
  std::string line;
  size_t indent = first_indent;
  for (const std::string_view word : SplitFields(text)) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > kHelpWidth) {
      out += std::string(indent, ' ') + line + "\n";
      line.clear();
      indent = next_indent;
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out += std::string(indent, ' ') + line + "\n";
  return out;
}

}  // namespace podstat::flags
