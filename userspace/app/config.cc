#include "podstat/app/config.h"

#include "podstat/privilege/capabilities.h"
#include "podstat/remote_write/validate.h"
#include "podstat/util/flags.h"

namespace podstat::app {
namespace {

using std::chrono::milliseconds;

constexpr const char* kDescription =
    "podstat: per-container sockets, TCP health, network, CPU and memory from eBPF and\n"
    "cgroup files, served to Prometheus.";

// The capability table of privilege::Needs(), wrapped for --help.
std::string CapabilitiesText() {
  std::string text =
      "\nCapabilities (root is not required; without one, the agent logs what it loses and goes "
      "on).\nAfter attaching its eBPF programs it keeps only those marked \"kept\":\n";
  for (const privilege::CapabilityNeed& need : privilege::Needs()) {
    text += flags::Wrap(std::string(need.name) + (need.lifetime ? " (kept)" : "") +
                            (need.optional ? " (optional)" : "") + ": " + need.used_for + ".",
                        2, 4);
  }
  return text;
}

std::string Footer() {
  return std::string(
             R"(Endpoints: /metrics (Prometheus text format, gzip when asked), /healthz, / (status page),
and with --receiver.enable POST /api/v1/write and /write.
Durations: 250ms, 15s, 5m, 1h. Periods are at least 100ms (--bpf.reconcile-interval and
--receiver.ttl at least 1s); only --sample.max-age may be 0s.
Signals: SIGTERM and SIGINT stop the agent cleanly; SIGHUP re-reads container names now.
)") + CapabilitiesText();
}

// Every flag, area by area, bound to `config`; the order here is the order of --help.
void RegisterAll(CLI::App& app, Config& config) {
  app.name("podstat");
  flags::Configure(app, kDescription, Footer());
  RegisterWebFlags(app, config);
  RegisterLogFlags(app, config);
  RegisterPathFlags(app, config);
  RegisterSampleFlags(app, config);
  sources::RegisterSourceFlags(app, config.sources);  // eBPF, then Collectors
  RegisterCompatFlags(app, config);
  RegisterMetadataFlags(app, config);
  RegisterReceiverFlags(app, config);
  RegisterRemoteWriteFlags(app, config);
  RegisterGeneralFlags(app, config);
}

// Rules between flags, once every flag is parsed; "" when they hold.
std::string CrossFlagError(const Config& config) {
  if (!config.receiver_listen_address.empty() && !config.receiver_enable) {
    return "--receiver.listen-address needs --receiver.enable";
  }
  if (!config.receiver_web_config_file.empty() && config.receiver_listen_address.empty()) {
    return "--receiver.web-config.file needs --receiver.listen-address (without it the receiver "
           "is served by --web.listen-address under --web.config.file)";
  }
  return "";
}

}  // namespace

void RegisterWebFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Web");
  flags::AddText(app, "web.listen-address", config.listen_address, "ADDR",
                 "Address for /metrics, /healthz and / (default \":9560\": every IPv6 and IPv4 "
                 "address; \"0.0.0.0:9560\" IPv4 only; \"127.0.0.1:9560\", \"[::1]:9560\", "
                 "\"[::]:9560\").");
  flags::AddValue(app, "web.telemetry-path", "PATH",
                  "Path of the metrics endpoint (default \"/metrics\").",
                  [&config](const std::string& value, std::string* must_be) {
                    *must_be = "a path starting with /";
                    config.telemetry_path = value;
                    return value.starts_with("/");
                  });
  flags::AddText(app, "web.config.file", config.web_config_file, "PATH",
                 "TLS, client certificates, basic auth (bcrypt) and response headers, in the "
                 "format of Prometheus's exporter-toolkit (the file node_exporter takes). Re-read "
                 "when it or a certificate it names changes; a bad edit keeps the last good config "
                 "and is logged. Default: plain HTTP, no authentication.");
  flags::AddDuration(app, "web.header-timeout", config.web_header_timeout, milliseconds(100),
                     "Deadline for a connection's TLS handshake and request header, counted from "
                     "accept, however slowly bytes arrive (default 10s).");
  flags::AddDuration(app, "web.body-timeout", config.web_body_timeout, milliseconds(100),
                     "Deadline for a request body (default 60s).");
  flags::AddDuration(app, "web.write-timeout", config.web_write_timeout, milliseconds(100),
                     "Deadline for writing a response (default 60s).");
  flags::AddDuration(app, "web.idle-timeout", config.web_idle_timeout, milliseconds(100),
                     "A keep-alive connection is closed after this long without a next request "
                     "(default 5m).");
  flags::AddUint(app, "web.max-connections", config.web_max_connections, 1, 1'000'000,
                 "Open connections at most, per listener; more are closed at once and counted "
                 "(default 1024).");
  flags::AddUint(app, "web.max-connections-per-client", config.web_max_connections_per_client, 1,
                 1'000'000, "Open connections at most per client IP address (default 256).");
}

void RegisterLogFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Logging");
  flags::AddValue(app, "log.level", "LEVEL",
                  "debug, info, warn or error (default \"info\"). debug includes the BPF "
                  "verifier's log when a program fails to load.",
                  [&config](const std::string& value, std::string* must_be) {
                    *must_be = "debug, info, warn or error";
                    const auto level = ParseLogLevel(value);
                    if (level) config.log_level = *level;
                    return level.has_value();
                  });
}

void RegisterPathFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Host paths");
  flags::AddText(app, "path.procfs", config.paths.procfs, "PATH",
                 "The host's procfs (default \"/proc\"; \"/host/proc\" in a pod).");
  flags::AddText(app, "path.sysfs", config.paths.sysfs, "PATH",
                 "The host's sysfs, where cgroup2 is found (default \"/sys\").");
  flags::AddText(app, "path.rootfs", config.paths.rootfs, "PATH",
                 "The host's root filesystem (default \"/\").");
}

void RegisterSampleFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Sampling");
  flags::AddDuration(app, "sample.interval", config.sample_interval, milliseconds(100),
                     "Background collection period (default 15s).");
  flags::AddDuration(app, "sample.max-age", config.sample_max_age, milliseconds(0),
                     "A scrape is served from data at most this old; older data is collected "
                     "afresh first (default 5s; 0s: always fresh).");
}

void RegisterMetadataFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Metadata");
  flags::AddText(app, "runtime.docker-endpoint", config.docker_endpoint, "PATH",
                 "Docker Engine API unix socket, for container names and images (default "
                 "\"/var/run/docker.sock\"; \"\" disables). A daemon that is down or slow never "
                 "delays a scrape.",
                 /*allow_empty=*/true);
  flags::AddText(app, "runtime.cri-endpoint", config.cri_endpoint, "ENDPOINT",
                 "CRI runtime (containerd, CRI-O) gRPC unix socket, for pod, container and image "
                 "names (\"unix:///run/containerd/containerd.sock\" or a path). Default \"auto\": "
                 "the first socket of /run/containerd/containerd.sock, "
                 "/run/k3s/containerd/containerd.sock, /var/run/crio/crio.sock, "
                 "/run/crio/crio.sock under --path.rootfs; \"\" disables. A runtime that is down "
                 "or slow never delays a scrape.",
                 /*allow_empty=*/true);
  flags::AddDuration(app, "metadata.refresh-interval", config.metadata_refresh, milliseconds(100),
                     "How often container names are re-read from Docker, the CRI and the kubelet's "
                     "/var/log/pods layout under --path.rootfs; unknown containers trigger a "
                     "re-read at once (default 10s).");
}

void RegisterCompatFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Collectors");
  flags::AddValue(app, "compat", "cadvisor",
                  "Also export cAdvisor's names for the same numbers "
                  "(container_network_tcp_usage_total{tcp_state} and tcp6, udp and udp6), so "
                  "cAdvisor dashboards work unchanged (default none).",
                  [&config](const std::string& value, std::string* must_be) {
                    *must_be = "cadvisor or none";
                    config.compat_cadvisor = value == "cadvisor";
                    return value == "cadvisor" || value == "none";
                  });
}

void RegisterReceiverFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Receiver (remote_write in)");
  flags::AddToggle(app, "receiver.enable", config.receiver_enable,
                   "Accept Prometheus remote_write on POST /api/v1/write and /write (default off) "
                   "and re-expose the kept series on /metrics, merged into podstat's own families "
                   "by name. Every relayed series carries relay=\"remote_write\", set by podstat "
                   "over any relay label the sender sent, so it never passes for one of podstat's "
                   "own series (which never carry it).");
  flags::AddRepeated(app, "receiver.allow-metric", config.receiver_allow, "REGEX",
                     "Metric names to keep (RE2 syntax as Prometheus's, fully anchored; "
                     "repeatable; the first use replaces the default: "
                     "container_cpu_load_average_10s, container_memory_usage_bytes, "
                     "container_memory_max_usage_bytes, container_fs_usage_bytes, "
                     "container_fs_limit_bytes).");
  flags::AddLabels(app, "receiver.extra-label", config.receiver_extra_labels,
                   remote_write::IsValidLabelName,
                   "Label added to every relayed series (repeatable); a label the series already "
                   "has wins. \"relay\" is reserved.");
  flags::AddDuration(app, "receiver.ttl", config.receiver_ttl, milliseconds(1000),
                     "Relayed series that get no newer sample for this long are dropped (default "
                     "5m).");
  flags::AddUint(app, "receiver.max-series", config.receiver_max_series, 1, 100'000'000,
                 "Cap on relayed series; new series beyond it are refused with 429 and counted "
                 "(default 50000).");
  flags::AddUint(app, "receiver.max-bytes", config.receiver_max_bytes, 1u << 20, uint64_t{1} << 40,
                 "Cap on the relay store's size (label bytes + 128 per series); new series beyond "
                 "it are refused with 429 and counted (default 67108864 = 64 MiB, enough for "
                 "50000 series of 1.2 KiB; at least 1048576).");
  flags::AddDuration(app, "receiver.max-future", config.receiver_max_future, milliseconds(0),
                     "A write with a sample dated further ahead of this host's clock is refused "
                     "with 400 (default 10m).");
  // The maxima are the decoder's caps (remote_write/proto.h DecodeLimits).
  flags::AddUint(app, "receiver.label-limit", config.receiver_label_limit, 1, 128,
                 "A write with a series of more labels (__name__ included) is refused with 400 "
                 "(default 64, at most 128).");
  flags::AddUint(app, "receiver.label-name-length-limit", config.receiver_label_name_length_limit,
                 8, 1024,
                 "A write with a label name longer than N bytes is refused with 400 (default "
                 "512, at most 1024).");
  flags::AddUint(app, "receiver.label-value-length-limit", config.receiver_label_value_length_limit,
                 1, 16 * 1024,
                 "A write with a label value (or metric name) longer than N bytes is refused "
                 "with 400 (default 2048, at most 16384). Each refusal is counted in "
                 "podstat_receiver_rejected_requests_total{reason}; so are invalid names and "
                 "values that are not UTF-8 (400).");
  flags::AddUint(app, "receiver.max-body-bytes", config.receiver_max_body_bytes, 1024, 1u << 30,
                 "Larger request bodies get 413 (default 10485760), refused from the "
                 "Content-Length before the body is read.");
  flags::AddText(app, "receiver.listen-address", config.receiver_listen_address, "ADDR",
                 "Serve POST /api/v1/write and /write on this address instead of "
                 "--web.listen-address (which then answers 404 for them), with "
                 "--receiver.web-config.file: writes can need credentials while /metrics stays "
                 "open, or be reachable only locally. Needs --receiver.enable.");
  flags::AddText(app, "receiver.web-config.file", config.receiver_web_config_file, "PATH",
                 "The web config of --receiver.listen-address (default: none, plain HTTP without "
                 "authentication).");
}

void RegisterRemoteWriteFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "Remote write (out)");
  flags::AddValue(app, "remote-write.url", "URL",
                  "Push podstat's own metrics there with remote_write 1.0 (repeatable; http or "
                  "https).",
                  [&config](const std::string& value, std::string* must_be) {
                    *must_be = "an http:// or https:// URL";
                    if (!value.starts_with("http://") && !value.starts_with("https://")) {
                      return false;
                    }
                    config.remote_write_urls.push_back(value);
                    return true;
                  });
  flags::AddDuration(app, "remote-write.interval", config.remote_write_interval, milliseconds(100),
                     "How often (default 15s).");
  flags::AddLabels(app, "remote-write.external-label", config.remote_write_external_labels,
                   remote_write::IsValidLabelName,
                   "Label added to every pushed series (repeatable).");
  flags::AddText(app, "remote-write.basic-auth.username", config.remote_write_username, "NAME",
                 "Basic auth user name.");
  flags::AddText(app, "remote-write.basic-auth.password-file", config.remote_write_password_file,
                 "PATH", "Basic auth password, read from the file on every request.");
  flags::AddText(app, "remote-write.bearer-token-file", config.remote_write_bearer_token_file,
                 "PATH", "Bearer token, read from the file on every request.");
  flags::AddText(app, "remote-write.tls.ca-file", config.remote_write_tls_ca_file, "PATH",
                 "Trust the CAs in this PEM file for https:// URLs instead of the system's; the "
                 "server's name is still verified.");
  flags::AddText(app, "remote-write.tls.cert-file", config.remote_write_tls_cert_file, "PATH",
                 "Client certificate (PEM), for a server that asks for one; with "
                 "--remote-write.tls.key-file. The files must be readable at start.");
  flags::AddText(app, "remote-write.tls.key-file", config.remote_write_tls_key_file, "PATH",
                 "The client certificate's key (PEM).");
  flags::AddUint(app, "remote-write.max-samples-per-send", config.remote_write_max_samples, 1,
                 1'000'000, "Samples per request (default 2000).");
  flags::AddUint(app, "remote-write.queue-capacity", config.remote_write_queue_capacity, 1,
                 100'000'000,
                 "Samples queued per URL while it is down; the oldest are dropped beyond it, and "
                 "counted (default 100000).");
}

void RegisterGeneralFlags(CLI::App& app, Config& config) {
  flags::SetGroup(app, "General");
  flags::AddSwitch(app, "--check", config.check,
                   "Try everything the agent uses (cgroup hierarchies, sock_diag for TCP and UDP, "
                   "loading and attaching every eBPF program), print what works and what the "
                   "agent would fall back to, and exit 0 only if nothing is missing, else 1.");
  flags::AddSwitch(app, "--metrics", config.metrics,
                   "Print every metric podstat can export (type, labels, the sources that write "
                   "it, what it means) and every source, as Markdown tables, and exit.");
  flags::AddSwitch(app, "--version", config.version, "Print the version and exit.");
  flags::AddSwitch(app, "-h, --help", config.help, "Print this help and exit.");
}

std::string UsageText() {
  Config defaults;
  CLI::App app;
  RegisterAll(app, defaults);
  return flags::Help(app);
}

std::optional<Config> ParseFlags(const std::vector<std::string>& args, std::string* error) {
  Config config;
  CLI::App app;
  RegisterAll(app, config);
  if (!flags::ParseArgs(app, args, error)) return std::nullopt;
  if (std::string rule = CrossFlagError(config); !rule.empty()) {
    *error = std::move(rule);
    return std::nullopt;
  }
  return config;
}

}  // namespace podstat::app
