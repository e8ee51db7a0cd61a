// Command-line flags, Prometheus-exporter style (--name=value, --name value, --[no-]flag), on
// CLI11 through util/flags.h. Each area registers its own flags into Config; a source that owns
// its settings can take its Register*Flags function along.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podstat/sources/loader.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

namespace CLI {
class App;
}

namespace podstat::app {

struct Config {
  std::string listen_address = ":9560";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;  // --web.config.file: TLS, basic auth, headers (exporter-toolkit)
  std::chrono::milliseconds web_header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds web_body_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds web_write_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds web_idle_timeout{std::chrono::minutes(5)};
  uint64_t web_max_connections = 1024;
  uint64_t web_max_connections_per_client = 256;
  LogLevel log_level = LogLevel::kInfo;
  HostPaths paths;
  std::chrono::milliseconds sample_interval{std::chrono::seconds(15)};
  std::chrono::milliseconds sample_max_age{std::chrono::seconds(5)};
  // What the sources read and how: --[no-]bpf*, --[no-]collector.*, registered by the sources
  // themselves (sources::RegisterSourceFlags).
  sources::SourceConfig sources;
  std::string docker_endpoint = "/var/run/docker.sock";  // empty: no Docker names
  std::string cri_endpoint = "auto";  // metadata::ResolveCriEndpoint; empty: no CRI names
  std::chrono::milliseconds metadata_refresh{std::chrono::seconds(10)};
  bool compat_cadvisor = false;  // --compat=cadvisor: cAdvisor's network names as well
  // remote_write receiver (relay, seed 004) on the agent's own port.
  bool receiver_enable = false;  // --[no-]receiver.enable
  // --receiver.listen-address: the write paths on their own listener (empty: on the main one),
  // with their own --receiver.web-config.file.
  std::string receiver_listen_address;
  std::string receiver_web_config_file;
  std::vector<std::string> receiver_allow;  // --receiver.allow-metric (empty: the default five)
  std::vector<std::pair<std::string, std::string>> receiver_extra_labels;
  std::chrono::milliseconds receiver_ttl{std::chrono::minutes(5)};
  uint64_t receiver_max_series = 50'000;
  uint64_t receiver_max_body_bytes = 10u << 20;
  uint64_t receiver_max_bytes = 64u << 20;                                  // --receiver.max-bytes
  std::chrono::milliseconds receiver_max_future{std::chrono::minutes(10)};  // --receiver.max-future
  uint64_t receiver_label_limit = 64;                 // --receiver.label-limit
  uint64_t receiver_label_name_length_limit = 512;    // --receiver.label-name-length-limit
  uint64_t receiver_label_value_length_limit = 2048;  // --receiver.label-value-length-limit
  // remote_write sender.
  std::vector<std::string> remote_write_urls;  // --remote-write.url, repeatable
  std::chrono::milliseconds remote_write_interval{std::chrono::seconds(15)};
  std::vector<std::pair<std::string, std::string>> remote_write_external_labels;
  std::string remote_write_username;       // --remote-write.basic-auth.username
  std::string remote_write_password_file;  // --remote-write.basic-auth.password-file
  std::string remote_write_bearer_token_file;
  std::string remote_write_tls_ca_file;      // --remote-write.tls.ca-file
  std::string remote_write_tls_cert_file;    // --remote-write.tls.cert-file
  std::string remote_write_tls_key_file;     // --remote-write.tls.key-file
  uint64_t remote_write_max_samples = 2000;  // --remote-write.max-samples-per-send
  uint64_t remote_write_queue_capacity = 100'000;
  bool check = false;
  bool help = false;
  bool metrics = false;  // --metrics: print the metric and source tables
  bool version = false;
};

// Parses argv[1..]. On a bad flag returns nullopt with a one-line reason in *error.
std::optional<Config> ParseFlags(const std::vector<std::string>& args, std::string* error);

// --help, generated from the registered flags.
std::string UsageText();

// The flags of one area, bound to `config`'s fields; each starts its own group in --help. Called
// in this order by ParseFlags and UsageText.
void RegisterWebFlags(CLI::App& app, Config& config);
void RegisterLogFlags(CLI::App& app, Config& config);
void RegisterPathFlags(CLI::App& app, Config& config);
void RegisterSampleFlags(CLI::App& app, Config& config);
void RegisterMetadataFlags(CLI::App& app, Config& config);
void RegisterCompatFlags(CLI::App& app, Config& config);  // --compat
void RegisterReceiverFlags(CLI::App& app, Config& config);
void RegisterRemoteWriteFlags(CLI::App& app, Config& config);
void RegisterGeneralFlags(CLI::App& app, Config& config);  // --check, --version, -h/--help

}  // namespace podstat::app
