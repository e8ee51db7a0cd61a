#include "podstat/app/config.h"

#include <functional>
#include <map>

#include "podstat/privilege/capabilities.h"
#include "podstat/util/strings.h"

namespace podstat::app {

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
    if (!number) return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(*number) * unit.millis);
  }
  return std::nullopt;
}

// The capability table of privilege::Needs(), wrapped for --help.
std::string CapabilitiesText() {
  std::string text =
      "\nCapabilities (root is not required; without one, the agent logs what it loses and goes "
      "on).\nAfter attaching its eBPF programs it keeps only those marked \"kept\":\n";
  constexpr size_t kWidth = 96;
  for (const privilege::CapabilityNeed& need : privilege::Needs()) {
    const std::string entry = std::string(need.name) + (need.lifetime ? " (kept)" : "") +
                              (need.optional ? " (optional)" : "") + ": " + need.used_for + ".";
    std::string line = " ";
    for (const std::string_view word : SplitFields(entry)) {
      if (line.size() + 1 + word.size() > kWidth) {
        text += line + "\n";
        line = "   ";
      }
      line += " ";
      line += word;
    }
    text += line + "\n";
  }
  return text;
}

std::string UsageText() {
  return std::string(
             R"(podstat: per-container sockets, TCP health, network, CPU and memory from eBPF and
cgroup files, served to Prometheus.

Usage: podstat [flags]

  --web.listen-address=ADDR       Address for /metrics, /healthz and / (default ":9560":
                                  every IPv6 and IPv4 address; "0.0.0.0:9560" IPv4 only;
                                  "127.0.0.1:9560", "[::1]:9560", "[::]:9560").
  --web.telemetry-path=PATH       Path of the metrics endpoint (default "/metrics").
  --web.config.file=PATH          TLS, client certificates, basic auth (bcrypt) and response
                                  headers, in the format of Prometheus's exporter-toolkit (the
                                  file node_exporter takes). Re-read when it or a certificate
                                  it names changes; a bad edit keeps the last good config and
                                  is logged. Default: plain HTTP, no authentication.
  --web.header-timeout=DUR        Deadline for a connection's TLS handshake and request header,
                                  counted from accept, however slowly bytes arrive (default 10s).
  --web.body-timeout=DUR          Deadline for a request body (default 60s).
  --web.write-timeout=DUR         Deadline for writing a response (default 60s).
  --web.idle-timeout=DUR          A keep-alive connection is closed after this long without a
                                  next request (default 5m).
  --web.max-connections=N         Open connections at most, per listener; more are closed at
                                  once and counted (default 1024).
  --web.max-connections-per-client=N
                                  ... at most per client IP address (default 256).
  --log.level=LEVEL               debug, info, warn or error (default "info"). debug includes
                                  the BPF verifier's log when a program fails to load.
  --path.procfs=PATH              The host's procfs (default "/proc"; "/host/proc" in a pod).
  --path.sysfs=PATH               The host's sysfs, where cgroup2 is found (default "/sys").
  --path.rootfs=PATH              The host's root filesystem (default "/").
  --sample.interval=DURATION      Background collection period (default 15s).
  --sample.max-age=DURATION       A scrape is served from data at most this old; older data is
                                  collected afresh first (default 5s; 0s: always fresh).
  --bpf.tracepoint-type=TYPE      auto, tp_btf or raw_tp (default auto: tp_btf when the kernel
                                  has BTF-typed tracing, else raw_tp, falling back on failure).
  --bpf.max-cgroups=N             Capacity of the per-cgroup socket map (default 8192; raised to
                                  twice the number of cgroups present at start).
  --bpf.reconcile-interval=DUR    How often socket counts are checked against sock_diag and
                                  corrected (default 5m).
  --[no-]bpf                      Use eBPF (default on). Off, or where the programs cannot
                                  load: TCP states and socket counts per network namespace
                                  from /proc/<pid>/net (~1 ms per namespace and sample), CPU
                                  from cgroup accounting, no retransmit/reset counters.
  --[no-]bpf.pin                  Pin the maps under /sys/fs/bpf/podstat for bpftool
                                  (default off).
  --runtime.docker-endpoint=PATH  Docker Engine API unix socket, for container names and
                                  images (default "/var/run/docker.sock"; "" disables). A
                                  daemon that is down or slow never delays a scrape.
  --metadata.refresh-interval=DUR How often container names are re-read from Docker and the
                                  kubelet's /var/log/pods layout under --path.rootfs; unknown
                                  containers trigger a re-read at once (default 10s).
  --[no-]collector.cpu            CPU per container, pod and the root (default on):
                                  container_cpu_usage_seconds_total and run-queue wait from eBPF
                                  on sched_switch, user/system split from cgroup accounting.
  --bpf.max-tasks=N               Threads the CPU program can track at once: its map is sized
                                  min(pid_max, N), ~96 bytes each (default 65536, ~6.3 MB).
  --[no-]bpf.cpu                  Use the sched_switch program for CPU (default on); without it,
                                  or where it cannot load, usage comes from cgroup accounting
                                  and no run-queue wait is exported.
  --[no-]collector.memory         Memory per container, pod and the root (container_memory_*,
                                  container_spec_memory_limit_bytes, container_oom_kills_total)
                                  and the kubelet's node_memory_available_bytes (default on).
  --[no-]collector.process        Per process (opt-in, default off): the top N processes of
                                  each container by CPU, with pid and comm labels: CPU seconds
                                  by mode, VmRSS, VmSize, RssFile from /proc/<pid>/stat, status.
  --collector.process.top=N       N for --collector.process (default 5, at most 50).
  --[no-]collector.network        Per network namespace (default on): interface counters
                                  (container_network_*_total{interface}) and sockstat
                                  (container_sockstat_*), on the cgroup owning the namespace.
  --[no-]collector.network.loopback
                                  Report the "lo" interface too (default off).
  --compat=cadvisor               Also export cAdvisor's names for the same numbers
                                  (container_network_tcp_usage_total{tcp_state} and tcp6,
                                  udp and udp6), so cAdvisor dashboards work unchanged.
  --[no-]receiver.enable          Accept Prometheus remote_write on POST /api/v1/write and
                                  /write (default off) and re-expose the kept series on
                                  /metrics, merged into podstat's own families by name. Every
                                  relayed series carries relay="remote_write", set by podstat
                                  over any relay label the sender sent, so it never passes for
                                  one of podstat's own series (which never carry it).
  --receiver.allow-metric=REGEX   Metric names to keep (RE2 syntax as Prometheus's, fully
                                  anchored; repeatable; the first use replaces the default:
                                  container_cpu_load_average_10s,
                                  container_memory_usage_bytes,
                                  container_memory_max_usage_bytes, container_fs_usage_bytes,
                                  container_fs_limit_bytes).
  --receiver.extra-label=NAME=VALUE
                                  Label added to every relayed series (repeatable); a label
                                  the series already has wins. "relay" is reserved.
  --receiver.ttl=DURATION         Relayed series that get no newer sample for this long are
                                  dropped (default 5m).
  --receiver.max-series=N         Cap on relayed series; new series beyond it are refused with
                                  429 and counted (default 50000).
  --receiver.max-bytes=N          Cap on the relay store's size (label bytes + 128 per series);
                                  new series beyond it are refused with 429 and counted
                                  (default 67108864 = 64 MiB, enough for 50000 series of
                                  1.2 KiB; at least 1048576).
  --receiver.max-future=DURATION  A write with a sample dated further ahead of this host's
                                  clock is refused with 400 (default 10m).
  --receiver.label-limit=N        A write with a series of more labels (__name__ included) is
                                  refused with 400 (default 64, at most 128).
  --receiver.label-name-length-limit=N
                                  ... with a label name longer than N bytes (default 512, at
                                  most 1024).
  --receiver.label-value-length-limit=N
                                  ... with a label value (or metric name) longer than N bytes
                                  (default 2048, at most 16384). Each refusal is counted in
                                  podstat_receiver_rejected_requests_total{reason}; so are
                                  invalid names and values that are not UTF-8 (400).
  --receiver.max-body-bytes=N     Larger request bodies get 413 (default 10485760), refused
                                  from the Content-Length before the body is read.
  --receiver.listen-address=ADDR  Serve POST /api/v1/write and /write on this address instead
                                  of --web.listen-address (which then answers 404 for them),
                                  with --receiver.web-config.file: writes can need credentials
                                  while /metrics stays open, or be reachable only locally.
  --receiver.web-config.file=PATH The web config of --receiver.listen-address (default: none,
                                  plain HTTP without authentication).
  --remote-write.url=URL          Push podstat's own metrics there with remote_write 1.0
                                  (repeatable; http or https).
  --remote-write.interval=DUR     How often (default 15s).
  --remote-write.external-label=NAME=VALUE
                                  Label added to every pushed series (repeatable).
  --remote-write.basic-auth.username=NAME
  --remote-write.basic-auth.password-file=PATH
  --remote-write.bearer-token-file=PATH
                                  Credentials, read from the file on every request.
  --remote-write.tls.ca-file=PATH Trust the CAs in this PEM file for https:// URLs instead of
                                  the system's; the server's name is still verified.
  --remote-write.tls.cert-file=PATH
  --remote-write.tls.key-file=PATH
                                  Client certificate and key (PEM), for a server that asks
                                  for one; both or neither. The files must be readable at start.
  --remote-write.max-samples-per-send=N
                                  Samples per request (default 2000).
  --remote-write.queue-capacity=N Samples queued per URL while it is down; the oldest are
                                  dropped beyond it, and counted (default 100000).
  --check                         Try everything the agent uses (cgroup hierarchies, sock_diag
                                  for TCP and UDP, loading and attaching every eBPF program),
                                  print what works and what the agent would fall back to, and
                                  exit 0 only if nothing is missing, else 1.
  --version                       Print the version and exit.
  -h, --help                      Print this help and exit.

Endpoints: /metrics (Prometheus text format, gzip when asked), /healthz, / (status page),
and with --receiver.enable POST /api/v1/write and /write.
Durations: 250ms, 15s, 5m, 1h. Periods are at least 100ms (--bpf.reconcile-interval and
--receiver.ttl at least 1s); only --sample.max-age may be 0s.
Signals: SIGTERM and SIGINT stop the agent cleanly; SIGHUP re-reads container names now.
)") + CapabilitiesText();
}

std::optional<Config> ParseFlags(const std::vector<std::string>& args, std::string* error) {
  Config config;
  std::string reason;  // set by a setter that can say more than "invalid value"
  using Setter = std::function<bool(const std::string&)>;
  auto text = [](std::string& field) -> Setter {
    return [&field](const std::string& value) {
      field = value;
      return !value.empty();
    };
  };
  // A period of 0 would make its loop spin; `minimum` is what each period can sensibly be.
  auto duration = [&reason](
                      std::chrono::milliseconds& field,
                      std::chrono::milliseconds minimum = std::chrono::milliseconds(0)) -> Setter {
    return [&field, &reason, minimum](const std::string& value) {
      const auto parsed = ParseDuration(value);
      if (!parsed) return false;
      if (*parsed < minimum) {
        reason = "at least " + std::to_string(minimum.count()) + "ms";
        return false;
      }
      field = *parsed;
      return true;
    };
  };
  using std::chrono::milliseconds;
  // NAME=VALUE with a valid label name; repeatable.
  auto label_pair = [](std::vector<std::pair<std::string, std::string>>& field) -> Setter {
    return [&field](const std::string& value) {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return false;
      const std::string name = value.substr(0, eq);
      for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
      }
      field.emplace_back(name, value.substr(eq + 1));
      return true;
    };
  };
  auto number = [](uint64_t& field, uint64_t min, uint64_t max) -> Setter {
    return [&field, min, max](const std::string& value) {
      const auto n = ParseUint64(value);
      if (n && *n >= min && *n <= max) field = *n;
      return n && *n >= min && *n <= max;
    };
  };
  const std::map<std::string, Setter, std::less<>> valued = {
      {"web.listen-address", text(config.listen_address)},
      {"web.config.file", text(config.web_config_file)},
      {"web.header-timeout", duration(config.web_header_timeout, milliseconds(100))},
      {"web.body-timeout", duration(config.web_body_timeout, milliseconds(100))},
      {"web.write-timeout", duration(config.web_write_timeout, milliseconds(100))},
      {"web.idle-timeout", duration(config.web_idle_timeout, milliseconds(100))},
      {"web.max-connections", number(config.web_max_connections, 1, 1'000'000)},
      {"web.max-connections-per-client",
       number(config.web_max_connections_per_client, 1, 1'000'000)},
      {"receiver.listen-address", text(config.receiver_listen_address)},
      {"receiver.web-config.file", text(config.receiver_web_config_file)},
      {"web.telemetry-path",
       [&](const std::string& v) {
         config.telemetry_path = v;
         return v.starts_with("/");
       }},
      {"log.level",
       [&](const std::string& v) {
         const auto level = ParseLogLevel(v);
         if (level) config.log_level = *level;
         return level.has_value();
       }},
      {"path.procfs", text(config.paths.procfs)},
      {"path.sysfs", text(config.paths.sysfs)},
      {"path.rootfs", text(config.paths.rootfs)},
      {"sample.interval", duration(config.sample_interval, milliseconds(100))},
      {"sample.max-age", duration(config.sample_max_age)},
      {"bpf.tracepoint-type",
       [&](const std::string& v) {
         config.bpf_tracepoint_type = v;
         return v == "auto" || v == "tp_btf" || v == "raw_tp";
       }},
      {"bpf.max-cgroups",
       [&](const std::string& v) {
         const auto n = ParseUint64(v);
         if (n && *n >= 16 && *n <= (1u << 24)) config.bpf_max_cgroups = static_cast<uint32_t>(*n);
         return n && *n >= 16 && *n <= (1u << 24);
       }},
      {"bpf.reconcile-interval", duration(config.bpf_reconcile_interval, milliseconds(1000))},
      {"bpf.max-tasks",
       [&](const std::string& v) {
         const auto n = ParseUint64(v);
         if (n && *n >= 1024 && *n <= (1u << 22)) config.bpf_max_tasks = static_cast<uint32_t>(*n);
         return n && *n >= 1024 && *n <= (1u << 22);
       }},
      {"runtime.docker-endpoint",
       [&](const std::string& v) {
         config.docker_endpoint = v;  // "" turns the Docker provider off
         return true;
       }},
      {"metadata.refresh-interval", duration(config.metadata_refresh, milliseconds(100))},
      {"receiver.allow-metric",
       [&](const std::string& v) {
         config.receiver_allow.push_back(v);
         return !v.empty();
       }},
      {"receiver.extra-label", label_pair(config.receiver_extra_labels)},
      {"receiver.ttl", duration(config.receiver_ttl, milliseconds(1000))},
      {"receiver.max-series", number(config.receiver_max_series, 1, 100'000'000)},
      {"receiver.max-body-bytes", number(config.receiver_max_body_bytes, 1024, 1u << 30)},
      {"receiver.max-bytes", number(config.receiver_max_bytes, 1u << 20, uint64_t{1} << 40)},
      {"receiver.max-future", duration(config.receiver_max_future)},
      // The maxima are the decoder's caps (remote_write/proto.h DecodeLimits).
      {"receiver.label-limit", number(config.receiver_label_limit, 1, 128)},
      {"receiver.label-name-length-limit",
       number(config.receiver_label_name_length_limit, 8, 1024)},
      {"receiver.label-value-length-limit",
       number(config.receiver_label_value_length_limit, 1, 16 * 1024)},
      {"remote-write.url",
       [&](const std::string& v) {
         config.remote_write_urls.push_back(v);
         return v.starts_with("http://") || v.starts_with("https://");
       }},
      {"remote-write.interval", duration(config.remote_write_interval, milliseconds(100))},
      {"remote-write.external-label", label_pair(config.remote_write_external_labels)},
      {"remote-write.basic-auth.username", text(config.remote_write_username)},
      {"remote-write.basic-auth.password-file", text(config.remote_write_password_file)},
      {"remote-write.bearer-token-file", text(config.remote_write_bearer_token_file)},
      {"remote-write.tls.ca-file", text(config.remote_write_tls_ca_file)},
      {"remote-write.tls.cert-file", text(config.remote_write_tls_cert_file)},
      {"remote-write.tls.key-file", text(config.remote_write_tls_key_file)},
      {"remote-write.max-samples-per-send", number(config.remote_write_max_samples, 1, 1'000'000)},
      {"remote-write.queue-capacity", number(config.remote_write_queue_capacity, 1, 100'000'000)},
      {"compat",
       [&](const std::string& v) {
         config.compat_cadvisor = v == "cadvisor";
         return v == "cadvisor" || v == "none";
       }},
      {"collector.process.top",
       [&](const std::string& v) {
         // Capped: each process is 5 series per container, and they are high-cardinality.
         const auto n = ParseUint64(v);
         if (n && *n >= 1 && *n <= 50) config.process_top = static_cast<uint32_t>(*n);
         return n && *n >= 1 && *n <= 50;
       }},
  };
  const std::map<std::string, bool*, std::less<>> booleans = {
      {"bpf", &config.bpf},
      {"receiver.enable", &config.receiver_enable},
      {"bpf.pin", &config.bpf_pin},
      {"bpf.cpu", &config.bpf_cpu},
      {"check", &config.check},
      {"help", &config.help},
      {"version", &config.version},
      {"collector.cpu", &config.collect_cpu},
      {"collector.memory", &config.collect_memory},
      {"collector.process", &config.collect_process},
      {"collector.network", &config.collect_network},
      {"collector.network.loopback", &config.network_loopback}};

  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h") arg = "--help";
    if (!arg.starts_with("--")) {
      *error = "unexpected argument '" + arg + "' (see --help)";
      return std::nullopt;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (const auto it = valued.find(name); it != valued.end()) {
      if (!value) {
        if (i + 1 >= args.size()) {
          *error = "flag --" + name + " needs a value";
          return std::nullopt;
        }
        value = args[++i];
      }
      if (!it->second(*value)) {
        *error = "invalid value '" + *value + "' for --" + name +
                 (reason.empty() ? "" : ": must be " + reason) + " (see --help)";
        return std::nullopt;
      }
      continue;
    }
    const bool negated = name.starts_with("no-");
    const std::string bare = negated ? name.substr(3) : name;
    if (const auto it = booleans.find(bare); it != booleans.end()) {
      if (value) {
        if (*value != "true" && *value != "false") {
          *error = "flag --" + bare + " takes true or false, not '" + *value + "'";
          return std::nullopt;
        }
        *it->second = (*value == "true") != negated;
      } else {
        *it->second = !negated;
      }
      continue;
    }
    *error = "unknown flag --" + name + " (see --help)";
    return std::nullopt;
  }
  if (!config.receiver_listen_address.empty() && !config.receiver_enable) {
    *error = "--receiver.listen-address needs --receiver.enable";
    return std::nullopt;
  }
  if (!config.receiver_web_config_file.empty() && config.receiver_listen_address.empty()) {
    *error =
        "--receiver.web-config.file needs --receiver.listen-address (without it the receiver "
        "is served by --web.listen-address under --web.config.file)";
    return std::nullopt;
  }
  return config;
}

}  // namespace podstat::app
