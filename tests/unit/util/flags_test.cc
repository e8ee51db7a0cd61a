// The flag helpers as a source uses them: its own fields, its own group, one CLI::App.
#include "podstat/util/flags.h"

#include <gtest/gtest.h>

#include <chrono>

namespace podstat::flags {
namespace {

using std::chrono::milliseconds;

struct SourceSettings {
  bool enabled = true;
  milliseconds period{std::chrono::seconds(15)};
  uint32_t top = 5;
  std::string endpoint = "/run/x.sock";
  std::vector<std::string> allow;
};

// A CLI::App holds pointers into `settings`; both live in the test.
void Register(CLI::App& app, SourceSettings& settings) {
  Configure(app, "test: a source's flags.", "Footer prose.\n");
  SetGroup(app, "Things");
  AddToggle(app, "collector.thing", settings.enabled, "Collect things (default on).");
  AddDuration(app, "thing.period", settings.period, milliseconds(100), "How often.");
  AddUint(app, "thing.top", settings.top, 1, 50, "How many.");
  AddText(app, "thing.endpoint", settings.endpoint, "PATH", "Where (\"\" disables).",
          /*allow_empty=*/true);
  AddRepeated(app, "thing.allow", settings.allow, "NAME", "Repeatable.");
}

bool Parse(SourceSettings& settings, const std::vector<std::string>& args, std::string* error) {
  CLI::App app;
  app.name("test");
  Register(app, settings);
  return ParseArgs(app, args, error);
}

TEST(FlagHelpers, ToggleBothWaysAndWithAValue) {
  std::string error;
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, bool>>{
           {{"--no-collector.thing"}, false},
           {{"--collector.thing=false"}, false},
           {{"--no-collector.thing=false"}, true},
           {{"--no-collector.thing", "--collector.thing"}, true},  // the last one wins
           {{}, true}}) {
    SourceSettings settings;
    ASSERT_TRUE(Parse(settings, args, &error)) << error;
    EXPECT_EQ(settings.enabled, expected) << (args.empty() ? "" : args[0]);
  }
}

// CLI11 alone reads "--name=" as "--name" and takes the next argument as its value.
TEST(FlagHelpers, AnEmptyValueAfterTheEqualsSignIsAValue) {
  SourceSettings settings;
  std::string error;
  ASSERT_TRUE(Parse(settings, {"--thing.endpoint=", "--thing.top=7"}, &error)) << error;
  EXPECT_EQ(settings.endpoint, "");
  EXPECT_EQ(settings.top, 7u);
  SourceSettings other;
  ASSERT_TRUE(Parse(other, {"--thing.endpoint", "", "--no-collector.thing"}, &error)) << error;
  EXPECT_EQ(other.endpoint, "");
  EXPECT_FALSE(other.enabled);
}

TEST(FlagHelpers, RepeatedFlagsAccumulateOrTheLastWins) {
  SourceSettings settings;
  std::string error;
  ASSERT_TRUE(Parse(settings,
                    {"--thing.allow=a", "--thing.allow", "b", "--thing.top=3", "--thing.top", "9"},
                    &error))
      << error;
  EXPECT_EQ(settings.allow, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(settings.top, 9u);
  // A repeatable flag takes one value per use: a second word is an unexpected argument.
  EXPECT_FALSE(Parse(settings, {"--thing.allow", "a", "b"}, &error));
  EXPECT_EQ(error, "unexpected argument 'b' (see --help)");
  // Every use is checked, not only the last.
  EXPECT_FALSE(Parse(settings, {"--thing.top=99", "--thing.top=3"}, &error));
  EXPECT_EQ(error, "invalid value '99' for --thing.top: must be from 1 to 50 (see --help)");
}

TEST(FlagHelpers, ErrorsAreOneLineAndNameTheFlag) {
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--thing.period=50ms"},
            "invalid value '50ms' for --thing.period: must be at least 100ms (see --help)"},
           {{"--thing.period=soon"},
            "invalid value 'soon' for --thing.period: must be a duration such as 250ms, 15s, 5m "
            "or 1h (see --help)"},
           {{"--thing.top"}, "flag --thing.top needs a value"},
           {{"--thing.top=x"},
            "invalid value 'x' for --thing.top: must be from 1 to 50 (see --help)"},
           {{"--thing.allow="},
            "invalid value '' for --thing.allow: must be non-empty (see --help)"},
           {{"--collector.thing", "--bogus=1", "x"}, "unknown flag --bogus (see --help)"},
           {{"-x"}, "unknown flag -x (see --help)"},
           {{"stray"}, "unexpected argument 'stray' (see --help)"}}) {
    SourceSettings settings;
    std::string error;
    EXPECT_FALSE(Parse(settings, args, &error)) << args[0];
    EXPECT_EQ(error, expected);
  }
  SourceSettings settings;
  std::string error;
  EXPECT_FALSE(Parse(settings, {"--collector.thing=maybe"}, &error));
  EXPECT_EQ(error,
            "invalid value 'maybe' for --collector.thing: must be true or false (see --help)");
}

TEST(FlagHelpers, HelpListsTheGroupWithWrappedDescriptions) {
  SourceSettings settings;
  CLI::App app;
  app.name("test");
  Register(app, settings);
  SetGroup(app, "More");
  bool verbose = false;
  AddSwitch(app, "-v, --verbose", verbose,
            "A description long enough to be wrapped: it goes on past the ninety-sixth column of "
            "the terminal, so the formatter breaks it at a word and indents the rest.");
  EXPECT_EQ(
      Help(app),
      "test: a source's flags.\n"
      "\n"
      "Usage: test [flags]\n"
      "\n"
      "Things:\n"
      "  --[no-]collector.thing          Collect things (default on).\n"
      "  --thing.period=DUR              How often.\n"
      "  --thing.top=N                   How many.\n"
      "  --thing.endpoint=PATH           Where (\"\" disables).\n"
      "  --thing.allow=NAME              Repeatable.\n"
      "\n"
      "More:\n"
      "  -v, --verbose                   A description long enough to be wrapped: it goes "
      "on past the\n"
      "                                  ninety-sixth column of the terminal, so the formatter "
      "breaks\n"
      "                                  it at a word and indents the rest.\n"
      "\n"
      "Footer prose.\n");
  std::string error;
  ASSERT_TRUE(ParseArgs(app, {"-v"}, &error)) << error;
  EXPECT_TRUE(verbose);
}

TEST(Durations, RefuseWhatOverflowsMilliseconds) {
  EXPECT_EQ(ParseDuration("9223372036854775s"), milliseconds(9223372036854775000));
  // 18446744073709552 * 1000 wraps around 2^64 to 384 ms.
  EXPECT_EQ(ParseDuration("18446744073709552s"), std::nullopt);
  EXPECT_EQ(ParseDuration("9223372036854776s"), std::nullopt);
  EXPECT_EQ(ParseDuration("2562047788016h"), std::nullopt);
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
}

}  // namespace
}  // namespace podstat::flags
