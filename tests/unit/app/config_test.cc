#include "podstat/app/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "podstat/util/flags.h"
#include "podstat/util/strings.h"

namespace podstat::app {
namespace {

using flags::ParseDuration;

std::optional<Config> Parse(std::vector<std::string> args, std::string* error = nullptr) {
  std::string ignored;
  return ParseFlags(args, error ? error : &ignored);
}

// The README quotes --help whole; a flag added without it would be undocumented there.
TEST(Flags, ReadmeQuotesTheCurrentHelp) {
  std::ifstream readme(std::string(PODSTAT_FIXTURES_DIR) + "/../../README.md");
  ASSERT_TRUE(readme) << "README.md not found next to tests/";
  std::stringstream text;
  text << readme.rdbuf();
  EXPECT_NE(text.str().find(UsageText()), std::string::npos)
      << "README.md's --help block is stale: paste the output of `build/podstat --help`";
}

TEST(Flags, DefaultsFollowTheDesign) {
  const auto config = Parse({});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->listen_address, ":9560");
  EXPECT_EQ(config->telemetry_path, "/metrics");
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
  EXPECT_EQ(config->paths.procfs, "/proc");
  EXPECT_EQ(config->sources.bpf_tracepoint_type, "auto");
  EXPECT_FALSE(config->sources.bpf_pin);
}

TEST(Flags, BothValueForms) {
  const auto config = Parse({"--web.listen-address=127.0.0.1:1234", "--log.level", "debug",
                             "--sample.max-age=0s", "--bpf.reconcile-interval=2m", "--bpf.pin",
                             "--path.procfs=/host/proc", "--bpf.tracepoint-type=raw_tp"});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->listen_address, "127.0.0.1:1234");
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->sample_max_age, std::chrono::milliseconds(0));
  EXPECT_EQ(config->sources.reconcile_interval, std::chrono::minutes(2));
  EXPECT_TRUE(config->sources.bpf_pin);
  EXPECT_EQ(config->paths.Proc(12, "ns/net"), "/host/proc/12/ns/net");
  EXPECT_EQ(config->sources.bpf_tracepoint_type, "raw_tp");
}

// A period of 0 made its loop spin (--sample.interval=0s); only --sample.max-age may be 0.
TEST(Flags, PeriodsMustBePositive) {
  for (const char* flag :
       {"--sample.interval=0s", "--metadata.refresh-interval=0ms", "--bpf.reconcile-interval=0s",
        "--receiver.ttl=0s", "--remote-write.interval=0s", "--sample.interval=50ms"}) {
    std::string error;
    EXPECT_FALSE(Parse({flag}, &error)) << flag;
    EXPECT_NE(error.find("must be at least"), std::string::npos) << flag << ": " << error;
  }
  EXPECT_TRUE(Parse({"--sample.interval=100ms", "--sample.max-age=0s"}));
}

TEST(Flags, NegationAndHelp) {
  EXPECT_FALSE(Parse({"--bpf.pin", "--no-bpf.pin"})->sources.bpf_pin);
  EXPECT_TRUE(Parse({"-h"})->help);
  EXPECT_TRUE(Parse({"--check"})->check);
  EXPECT_TRUE(Parse({"--metrics"})->metrics);
  EXPECT_FALSE(Parse({})->metrics);
  EXPECT_FALSE(Parse({"--no-collector.pressure"})->sources.collect_pressure);
  EXPECT_TRUE(Parse({})->sources.collect_pressure);
  EXPECT_FALSE(Parse({})->sources.collect_process);
  EXPECT_TRUE(Parse({"--collector.process", "--collector.process.top=7"})->sources.collect_process);
  EXPECT_EQ(Parse({"--collector.process.top=7"})->sources.process_top, 7u);
  EXPECT_FALSE(Parse({"--no-collector.memory"})->sources.collect_memory);
  EXPECT_FALSE(Parse({"--no-bpf.cpu"})->sources.bpf_cpu);
  EXPECT_EQ(Parse({"--bpf.max-tasks=4096"})->sources.bpf_max_tasks, 4096u);
}

TEST(Flags, ErrorsNameTheFlag) {
  std::string error;
  EXPECT_FALSE(Parse({"--log.level=loud"}, &error));
  EXPECT_NE(error.find("--log.level"), std::string::npos);
  EXPECT_FALSE(Parse({"--no-such-flag"}, &error));
  EXPECT_NE(error.find("unknown flag --no-such-flag"), std::string::npos);
  EXPECT_FALSE(Parse({"--web.listen-address"}, &error));
  EXPECT_NE(error.find("needs a value"), std::string::npos);
  EXPECT_FALSE(Parse({"--bpf.tracepoint-type=kprobe"}, &error));
  EXPECT_FALSE(Parse({"--bpf.max-cgroups=3"}, &error));
  EXPECT_FALSE(Parse({"--sample.interval=fast"}, &error));
  EXPECT_FALSE(Parse({"--collector.process.top=500"}, &error));  // capped
  EXPECT_FALSE(Parse({"stray"}, &error));
  EXPECT_NE(error.find("unexpected argument"), std::string::npos);
}

TEST(Durations, Units) {
  EXPECT_EQ(ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("15s"), std::chrono::seconds(15));
  EXPECT_EQ(ParseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("5"), std::nullopt);
  EXPECT_EQ(ParseDuration("s"), std::nullopt);
  EXPECT_EQ(ParseDuration("-1s"), std::nullopt);
}

TEST(Usage, MentionsEveryFlag) {
  const std::string usage = UsageText();
  for (const char* flag : {"--web.listen-address",
                           "--web.telemetry-path",
                           "--log.level",
                           "--path.procfs",
                           "--path.sysfs",
                           "--path.rootfs",
                           "--sample.interval",
                           "--sample.max-age",
                           "--bpf.tracepoint-type",
                           "--bpf.max-cgroups",
                           "--bpf.reconcile-interval",
                           "bpf.pin",
                           "--check",
                           "--version",
                           "collector.cpu",
                           "collector.memory",
                           "collector.process",
                           "--collector.process.top",
                           "bpf.cpu",
                           "--bpf.max-tasks",
                           "--runtime.docker-endpoint",
                           "--metadata.refresh-interval"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace podstat::app

namespace podstat::app {
namespace {

TEST(ParseFlagsRemoteWrite, RepeatableFlagsAccumulateAndLabelsAreChecked) {
  std::string error;
  const auto config = ParseFlags(
      {"--receiver.enable", "--receiver.allow-metric=up", "--receiver.allow-metric", "node_.*",
       "--receiver.extra-label=cluster=edge-1", "--remote-write.url=http://a:9090/api/v1/write",
       "--remote-write.url=https://b/api/v1/write", "--remote-write.external-label=cluster=c=1",
       "--remote-write.interval=5s", "--no-bpf", "--compat=cadvisor", "--no-collector.network"},
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_TRUE(config->receiver_enable);
  EXPECT_EQ(config->receiver_allow, (std::vector<std::string>{"up", "node_.*"}));
  ASSERT_EQ(config->receiver_extra_labels.size(), 1u);
  EXPECT_EQ(config->receiver_extra_labels[0].second, "edge-1");
  EXPECT_EQ(config->remote_write_urls.size(), 2u);
  EXPECT_EQ(config->remote_write_external_labels.at(0).second, "c=1");  // split at the first =
  EXPECT_EQ(config->remote_write_interval, std::chrono::seconds(5));
  EXPECT_FALSE(config->sources.bpf);
  EXPECT_TRUE(config->compat_cadvisor);
  EXPECT_FALSE(config->sources.collect_network);
}

TEST(ParseFlagsRemoteWrite, TlsFilesForTheSender) {
  std::string error;
  const auto config = ParseFlags(
      {"--remote-write.url=https://p:9090/api/v1/write", "--remote-write.tls.ca-file=/etc/ca.crt",
       "--remote-write.tls.cert-file", "/etc/client.crt", "--remote-write.tls.key-file=/etc/k"},
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->remote_write_tls_ca_file, "/etc/ca.crt");
  EXPECT_EQ(config->remote_write_tls_cert_file, "/etc/client.crt");
  EXPECT_EQ(config->remote_write_tls_key_file, "/etc/k");
  EXPECT_FALSE(ParseFlags({"--remote-write.tls.ca-file="}, &error));
}

TEST(ParseFlagsRemoteWrite, ReceiverLimitsHaveDefaultsAndRanges) {
  std::string error;
  auto config = ParseFlags({}, &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->receiver_max_bytes, 64u << 20);
  EXPECT_EQ(config->receiver_max_future, std::chrono::minutes(10));
  EXPECT_EQ(config->receiver_label_limit, 64u);
  EXPECT_EQ(config->receiver_label_name_length_limit, 512u);
  EXPECT_EQ(config->receiver_label_value_length_limit, 2048u);
  config = ParseFlags(
      {"--receiver.max-bytes=1048576", "--receiver.max-future=1m", "--receiver.label-limit=128",
       "--receiver.label-name-length-limit=8", "--receiver.label-value-length-limit=16384"},
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->receiver_max_bytes, 1u << 20);
  EXPECT_EQ(config->receiver_max_future, std::chrono::minutes(1));
  EXPECT_EQ(config->receiver_label_limit, 128u);
  // Past the decoder's caps, or too small to hold anything.
  for (const char* bad : {"--receiver.max-bytes=1000", "--receiver.label-limit=0",
                          "--receiver.label-limit=129", "--receiver.label-name-length-limit=7",
                          "--receiver.label-value-length-limit=16385", "--receiver.max-future=x"}) {
    EXPECT_FALSE(ParseFlags({bad}, &error)) << bad;
  }
}

TEST(ParseFlagsRemoteWrite, RejectsBadLabelsUrlsAndIntervals) {
  for (const char* bad :
       {"--receiver.extra-label=novalue", "--receiver.extra-label=1x=y",
        "--remote-write.external-label==v", "--remote-write.url=ftp://x",
        "--remote-write.interval=0s", "--compat=prometheus", "--receiver.max-series=0"}) {
    std::string error;
    EXPECT_FALSE(ParseFlags({bad}, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(Flags, WebListenerFlags) {
  const auto config =
      Parse({"--web.config.file=/etc/podstat/web.yml", "--web.header-timeout=2s",
             "--web.body-timeout=30s", "--web.write-timeout=5s", "--web.idle-timeout=1m",
             "--web.max-connections=64", "--web.max-connections-per-client=8", "--receiver.enable",
             "--receiver.listen-address=127.0.0.1:9561",
             "--receiver.web-config.file=/etc/podstat/receiver.yml"});
  ASSERT_TRUE(config);
  EXPECT_EQ(config->web_config_file, "/etc/podstat/web.yml");
  EXPECT_EQ(config->web_header_timeout, std::chrono::seconds(2));
  EXPECT_EQ(config->web_body_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->web_write_timeout, std::chrono::seconds(5));
  EXPECT_EQ(config->web_idle_timeout, std::chrono::minutes(1));
  EXPECT_EQ(config->web_max_connections, 64u);
  EXPECT_EQ(config->web_max_connections_per_client, 8u);
  EXPECT_EQ(config->receiver_listen_address, "127.0.0.1:9561");
  EXPECT_EQ(config->receiver_web_config_file, "/etc/podstat/receiver.yml");

  std::string error;
  EXPECT_FALSE(Parse({"--receiver.listen-address=:9561"}, &error));
  EXPECT_NE(error.find("needs --receiver.enable"), std::string::npos) << error;
  EXPECT_FALSE(Parse({"--receiver.enable", "--receiver.web-config.file=x.yml"}, &error));
  EXPECT_NE(error.find("needs --receiver.listen-address"), std::string::npos) << error;
  EXPECT_FALSE(Parse({"--web.header-timeout=0s"}, &error));
  EXPECT_NE(error.find("at least"), std::string::npos) << error;
  EXPECT_FALSE(Parse({"--web.max-connections=0"}, &error));
}

}  // namespace
}  // namespace podstat::app

namespace podstat::app {
namespace {

// --help is generated from the registered flags, one heading per area, in this order.
TEST(Usage, GroupsFlagsByArea) {
  const std::string usage = UsageText();
  size_t at = 0;
  for (const char* heading :
       {"\nWeb:\n  --web.listen-address=ADDR", "\nLogging:\n", "\nHost paths:\n", "\nSampling:\n",
        "\neBPF:\n  --[no-]bpf ", "\nCollectors:\n  --[no-]collector.cpu ", "\nMetadata:\n",
        "\nReceiver (remote_write in):\n", "\nRemote write (out):\n", "\nGeneral:\n",
        "\nEndpoints: ", "\nCapabilities "}) {
    const size_t found = usage.find(heading, at);
    ASSERT_NE(found, std::string::npos) << heading << " (after offset " << at << ")";
    at = found;
  }
  for (const std::string_view line : SplitLines(usage)) {
    EXPECT_LE(line.size(), 96u) << line;
  }
}

TEST(Flags, EmptyValuesAndToggleValues) {
  std::string error;
  const auto config = Parse(
      {"--runtime.docker-endpoint=", "--log.level=warn", "--no-collector.cpu=false", "--bpf=false"},
      &error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->docker_endpoint, "");  // "" turns the Docker provider off
  EXPECT_EQ(config->log_level, LogLevel::kWarn);
  EXPECT_TRUE(config->sources.collect_cpu);
  EXPECT_FALSE(config->sources.bpf);
  // A duration whose milliseconds wrap around 2^64 (to 384 ms) was taken as that.
  EXPECT_FALSE(Parse({"--sample.interval=18446744073709552s"}, &error));
  EXPECT_FALSE(Parse({"--bpf=maybe"}, &error));
  EXPECT_NE(error.find("--bpf"), std::string::npos) << error;
}

}  // namespace
}  // namespace podstat::app
