// podstat: wiring only. Parse flags, check the machine, load BPF, start the sampler and the HTTP
// listener, wait for a signal, shut down in reverse order.
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "podstat/app/collector.h"
#include "podstat/app/config.h"
#include "podstat/app/exposition_cache.h"
#include "podstat/app/remote_write_bridge.h"
#include "podstat/app/sampler.h"
#include "podstat/app/self_metrics.h"
#include "podstat/app/status_page.h"
#include "podstat/cgroup/namespace.h"
#include "podstat/cgroup/resolver.h"
#include "podstat/http/gzip.h"
#include "podstat/http/server.h"
#include "podstat/metadata/cache.h"
#include "podstat/metadata/provider.h"
#include "podstat/metrics/exposition.h"
#include "podstat/netlink/sock_diag.h"
#include "podstat/privilege/capabilities.h"
#include "podstat/remote_write/receiver.h"
#include "podstat/remote_write/relay_store.h"
#include "podstat/remote_write/sender.h"
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/util/build_info.h"
#include "podstat/util/file.h"
#include "podstat/util/log.h"
#include "podstat/util/rlimit.h"

namespace podstat::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// What the sources are built from: the flags, and the cgroup v2 mount found at start.
sources::SourceConfig SourceConfigOf(const Config& config, const std::string& cgroup_root) {
  sources::SourceConfig sources = config.sources;
  sources.paths = config.paths;
  sources.cgroup_root = cgroup_root;
  return sources;
}

// After every program is attached: only the capabilities the running agent needs stay.
void DropCapabilities(const Config& config, Logger& logger) {
  std::string error;
  if (!privilege::DropToLifetimeNeeds(config.paths.procfs, &error)) {
    logger.Warn("main", "capabilities not dropped (", error, "); running with ",
                privilege::DescribeEffective());
    return;
  }
  logger.Info("main", "eBPF loaded and attached; capabilities reduced to ",
              privilege::DescribeEffective(), " for the agent's life (see --help: Capabilities)");
}

// Lists sockets of one protocol in podstat's own network namespace, as seeding and
// reconciliation do in every namespace. Empty when that works, else why not.
std::string ProbeSockDiag(uint8_t protocol, const char* modules) {
  std::string error;
  auto client = netlink::SockDiagClient::Open(-1, &error);
  if (!client) return error;
  std::vector<netlink::DiagSocket> sockets;
  bool unsupported = false;
  if (!client->Dump(protocol, sockets, &error, ~0u, &unsupported)) return error;
  if (unsupported)
    return std::string("the kernel has no sock_diag handler (modules ") + modules + ")";
  return {};
}

// --check: tries everything the agent would use, as the agent would, and says what works.
// Exit 0 only when the agent would run with every eBPF program and with sock_diag.
int RunCheck(const Config& config, Logger& logger) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // in order with the warnings on stderr
  std::vector<std::string> problems;
  auto line = [](const std::string& what, const std::string& verdict) {
    std::printf("%-28s %s\n", (what + ":").c_str(), verdict.c_str());
  };
  std::printf("podstat %s (%s)\n", build_info::kVersion, build_info::kRevision);
  std::string error;
  const auto cgroup_root = cgroup::FindCgroup2Root(config.paths, &error);
  line("cgroup v2 hierarchy", cgroup_root ? *cgroup_root : "FAILED: " + error);
  if (!cgroup_root) problems.push_back("no cgroup v2 hierarchy");
  const auto missing_capabilities = privilege::MissingNeeds();
  std::string missing_names;
  for (const privilege::CapabilityNeed& need : missing_capabilities) {
    if (need.optional) continue;
    if (!missing_names.empty()) missing_names += ", ";
    missing_names += need.name;
    problems.push_back(std::string("no ") + need.name + " (to " + need.used_for +
                       "): " + need.without);
  }
  line("capabilities", missing_names.empty() ? "every one needed" : "MISSING " + missing_names);
  // sock_diag: seeding (sockets older than the agent) and reconciliation, TCP and UDP.
  for (const auto& [name, protocol, modules] :
       {std::tuple{"sock_diag TCP", uint8_t{IPPROTO_TCP}, "inet_diag, tcp_diag"},
        std::tuple{"sock_diag UDP", uint8_t{IPPROTO_UDP}, "inet_diag, udp_diag"}}) {
    const std::string failure = ProbeSockDiag(protocol, modules);
    line(name, failure.empty() ? "ok" : "FAILED: " + failure);
    if (!failure.empty()) {
      problems.push_back(std::string(name) + " unavailable (" + failure +
                         "): sockets that predate the agent are never counted and counts are "
                         "never reconciled; load the modules (modprobe inet_diag tcp_diag "
                         "udp_diag)");
    }
  }
  if (cgroup_root) {
    sources::SourceConfig source_config = SourceConfigOf(config, *cgroup_root);
    source_config.bpf_pin = false;  // a check leaves no pins behind
    for (const sources::CheckLine& kernel : sources::CheckKernel(source_config, problems)) {
      line(kernel.what, kernel.verdict);
    }
    // Every source of the registry, loaded as the agent would load it.
    sources::LoadedSources loaded = sources::LoadSources(source_config, logger);
    for (const auto& source : loaded.sources) {
      const std::string_view fallback = source->info().fallback_of;
      line("source " + std::string(source->info().name),
           (source->active() ? "ok: " : "off: ") + source->Describe() +
               (fallback.empty() ? "" : " [fallback for " + std::string(fallback) + "]"));
    }
    problems.insert(problems.end(), loaded.problems.begin(), loaded.problems.end());
  }
  if (problems.empty()) {
    std::printf("result: ok, the agent would run with everything above\n");
    return kExitOk;
  }
  std::printf("result: %zu problem(s):\n", problems.size());
  for (const auto& problem : problems) std::printf("  - %s\n", problem.c_str());
  return kExitFailure;
}

// `/`: the status page, from the latest snapshot and what main decided at start. Cheap: no I/O,
// one snapshot pointer and the metadata cache's lock taken briefly.
std::string StatusPage(const Config& config, const std::string& kernel,
                       std::chrono::system_clock::time_point started_at,
                       const BpfDecisions& bpf_decisions, const Sampler& sampler,
                       const metadata::MetadataCache& metadata) {
  const auto now = std::chrono::system_clock::now();
  const auto unix_seconds = [](std::chrono::system_clock::time_point time) -> int64_t {
    return time == std::chrono::system_clock::time_point{}
               ? 0
               : std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  };
  StatusPageInput input;
  input.version = build_info::kVersion;
  input.revision = build_info::kRevision;
  input.kernel_release = kernel;
  input.now_unix_seconds = unix_seconds(now);
  input.started_unix_seconds = unix_seconds(started_at);
  input.uptime_seconds = std::chrono::duration<double>(now - started_at).count();
  input.listen_addresses = {config.listen_address + " (--web.listen-address" +
                            (config.web_config_file.empty()
                                 ? std::string(", plain HTTP, no authentication)")
                                 : ", web config " + config.web_config_file + ")")};
  if (!config.receiver_listen_address.empty()) {
    input.listen_addresses.push_back(
        config.receiver_listen_address + " (--receiver.listen-address, remote_write only" +
        (config.receiver_web_config_file.empty()
             ? std::string(", plain HTTP, no authentication)")
             : ", web config " + config.receiver_web_config_file + ")"));
  }
  input.telemetry_path = config.telemetry_path;
  input.bpf_built_in = bpf_decisions.built_in;
  if (const auto snapshot = sampler.Latest()) AddSnapshot(*snapshot, bpf_decisions, now, input);
  for (const auto& status : metadata.Statuses()) {
    input.providers.push_back({status.provider, status.errors, status.failing, status.last_error,
                               unix_seconds(status.last_error_at),
                               unix_seconds(status.last_success_at)});
  }
  return BuildStatusPage(input);
}

int Run(const Config& config) {
  const auto started_at = std::chrono::system_clock::now();  // the status page's uptime
  Logger logger(config.log_level);
  sources::RouteBpfLogs(logger);
  if (config.check) {
    // The loaders' info lines repeat what the check prints; their warnings say why a step failed.
    Logger check_logger(std::max(config.log_level, LogLevel::kWarn));
    sources::RouteBpfLogs(check_logger);
    return RunCheck(config, check_logger);
  }

  // Flags that can be wrong are refused before anything is loaded or started.
  std::string error;
  if (!http::CheckListenAddress(config.listen_address, &error)) {
    logger.Error("main", error);
    return http::ParseListenAddress(config.listen_address) ? kExitFailure : kExitUsage;
  }
  if (!config.receiver_listen_address.empty() &&
      !http::CheckListenAddress(config.receiver_listen_address, &error,
                                "--receiver.listen-address")) {
    logger.Error("main", error);
    return http::ParseListenAddress(config.receiver_listen_address) ? kExitFailure : kExitUsage;
  }
  // remote_write receiver: a relay store behind POST /api/v1/write and /write. Built here, so a
  // bad pattern or label is refused before anything is loaded (it starts no thread).
  std::unique_ptr<remote_write::RelayStore> relay;
  std::unique_ptr<remote_write::Receiver> receiver;
  if (config.receiver_enable) {
    remote_write::RelayOptions relay_options;
    if (!config.receiver_allow.empty()) relay_options.allow_metrics = config.receiver_allow;
    for (const auto& [name, value] : config.receiver_extra_labels) {
      relay_options.extra_labels.push_back({name, value});
    }
    relay_options.ttl = config.receiver_ttl;
    relay_options.max_series = config.receiver_max_series;
    relay_options.max_bytes = config.receiver_max_bytes;
    relay_options.max_future = config.receiver_max_future;
    relay_options.series_limits.label_limit = config.receiver_label_limit;
    relay_options.series_limits.label_name_length_limit = config.receiver_label_name_length_limit;
    relay_options.series_limits.label_value_length_limit = config.receiver_label_value_length_limit;
    relay = remote_write::RelayStore::Create(relay_options, &error);
    if (!relay) {
      logger.Error("main", "--receiver: ", error);
      return kExitUsage;
    }
    remote_write::ReceiverLimits limits;
    limits.max_body_bytes = config.receiver_max_body_bytes;
    receiver = std::make_unique<remote_write::Receiver>(*relay, limits);
    std::string allowed;
    for (const auto& pattern : relay_options.allow_metrics) {
      allowed += (allowed.empty() ? "" : ", ") + pattern;
    }
    logger.Info("main", "remote_write receiver on POST /api/v1/write and /write; keeping ", allowed,
                "; ttl ", config.receiver_ttl.count(), " ms, at most ", config.receiver_max_series,
                " series and ", config.receiver_max_bytes, " bytes; relayed series carry ",
                remote_write::kRelayLabel, "=\"", remote_write::kRelayLabelValue, "\"");
  }

  // First, while podstat has one thread: setns() and capability changes apply per thread.
  const cgroup::CgroupNamespaceOutcome cgroupns = cgroup::EnsureHostCgroupNamespace(config.paths);
  if (cgroupns.kind == cgroup::CgroupNamespaceOutcome::Kind::kFailed) {
    logger.Error("main", cgroupns.detail);
    return kExitFailure;
  }
  if (cgroupns.kind == cgroup::CgroupNamespaceOutcome::Kind::kEntered) {
    logger.Info("main", cgroupns.detail);
  }
  logger.Info("main", "capabilities at start: ", privilege::DescribeEffective());
  for (const privilege::CapabilityNeed& need : privilege::MissingNeeds()) {
    if (need.optional) {
      logger.Info("main", "no ", need.name, " (to ", need.used_for, "): ", need.without);
    } else {
      logger.Warn("main", "no ", need.name, " (to ", need.used_for, "): ", need.without);
    }
  }
  const auto cgroup_root = cgroup::FindCgroup2Root(config.paths, &error);
  if (!cgroup_root) {
    logger.Error("main", error);
    return kExitFailure;
  }
  logger.Info("main", "podstat ", build_info::kVersion, " (", build_info::kRevision,
              ") starting; cgroup v2 hierarchy at ", *cgroup_root);
  logger.Info("main", RaiseOpenFileLimit());

  // Block the shutdown and reload signals before any thread starts, so every thread inherits
  // the mask and sigwait below is the only receiver.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  sources::SourceConfig source_config = SourceConfigOf(config, *cgroup_root);
  source_config.cgroups_now = cgroup::CgroupResolver(*cgroup_root).Rescan();
  sources::LoadedSources loaded = sources::LoadSources(source_config, logger);
  const BpfDecisions bpf_decisions = loaded.bpf;  // what the status page says of each program
  // Everything that needs CAP_BPF, CAP_PERFMON or CAP_NET_ADMIN is loaded and attached; from
  // here on the maps are used through their fds. Still one thread: keep only what the running
  // agent needs (privilege::Needs() says which and why) before any thread, the HTTP server's
  // included, starts.
  DropCapabilities(config, logger);
  std::vector<std::unique_ptr<metadata::Provider>> providers;
  if (!config.docker_endpoint.empty()) {
    providers.push_back(metadata::MakeDockerProvider(config.docker_endpoint));
  }
  std::string cri_why;
  const std::string cri = metadata::ResolveCriEndpoint(config.cri_endpoint, config.paths, &cri_why);
  if (!cri.empty()) providers.push_back(metadata::MakeCriProvider(cri));
  providers.push_back(metadata::MakeKubeletLayoutProvider(config.paths));
  metadata::MetadataCache metadata(
      std::move(providers),
      {config.metadata_refresh, std::chrono::seconds(1), std::chrono::seconds(60)}, logger);
  logger.Info(
      "main", "container names from ",
      config.docker_endpoint.empty() ? "" : "Docker at " + config.docker_endpoint + ", ",
      cri.empty() ? "no CRI runtime (" + cri_why + ")" : "the CRI at " + cri + " (" + cri_why + ")",
      " and the kubelet layout under ", config.paths.Root("var/log/pods"));
  // The first scrape should already carry names: give the providers a moment, not a veto.
  metadata.WaitForFirstRound(std::chrono::seconds(3));

  Collector::Options collector_options;
  collector_options.paths = config.paths;
  collector_options.cgroup_root = *cgroup_root;
  collector_options.metadata = &metadata;
  auto collector =
      std::make_unique<Collector>(collector_options, std::move(loaded.sources), logger);
  Sampler sampler([&collector] { return collector->Collect(); }, config.sample_interval);

  const std::string kernel = sources::KernelRelease();
  // remote_write sender: every --remote-write.interval, our own families as one round.
  std::unique_ptr<remote_write::Sender> sender;
  if (!config.remote_write_urls.empty()) {
    remote_write::SenderOptions sender_options;
    sender_options.urls = config.remote_write_urls;
    sender_options.max_samples_per_request = config.remote_write_max_samples;
    sender_options.queue_capacity = config.remote_write_queue_capacity;
    sender_options.basic_auth_username = config.remote_write_username;
    sender_options.basic_auth_password_file = config.remote_write_password_file;
    sender_options.bearer_token_file = config.remote_write_bearer_token_file;
    sender_options.tls.ca_file = config.remote_write_tls_ca_file;
    sender_options.tls.cert_file = config.remote_write_tls_cert_file;
    sender_options.tls.key_file = config.remote_write_tls_key_file;
    for (const auto& [name, value] : config.remote_write_external_labels) {
      sender_options.external_labels.push_back({name, value});
    }
    sender = remote_write::Sender::Start(sender_options, logger, &error);
    if (!sender) {
      logger.Error("main", "remote_write sender: ", error);
      return kExitUsage;
    }
  }

  // Servers are declared before the routes' captures are used and destroyed before them (in
  // reverse order), so no handler runs on a destroyed sampler or relay.
  ExpositionCache exposition;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<http::Server> receiver_server;
  // What /metrics reads for podstat_http_*: set once a server is up, cleared before it goes.
  std::atomic<const http::Server*> web_stats{nullptr};
  std::atomic<const http::Server*> receiver_stats{nullptr};
  std::vector<http::Route> routes;
  routes.push_back(
      {config.telemetry_path,
       "GET",
       [&](const http::Request& request) {
         // Waits for fresh data at most a few seconds; a stuck collection must not
         // hang Prometheus, which then gets the last good snapshot.
         const auto snapshot = sampler.Fresh(config.sample_max_age, std::chrono::seconds(5));
         if (!snapshot) {
           return http::Response{503, "text/plain; charset=utf-8", "no data collected yet\n", {}};
         }
         const metrics::BuildContext context{kernel, std::chrono::system_clock::now(),
                                             config.compat_cadvisor};
         std::vector<remote_write::RelayFamily> relayed;
         SelfMetricsInput self;
         remote_write::RelayStats relay_stats;
         if (relay) {
           relayed = relay->Collect(remote_write::Clock::now());
           relay_stats = relay->Stats();
           self.relay = &relay_stats;
         }
         if (sender) self.senders = sender->Stats();
         for (const http::Server* listener : {web_stats.load(), receiver_stats.load()}) {
           if (listener) self.servers.push_back(listener->Stats());
         }
         const std::string self_metrics = RenderSelfFamilies(self);
         const auto accept = request.headers.find("accept-encoding");
         ExpositionPage page = exposition.Render(
             snapshot, context, relayed, self_metrics,
             accept != request.headers.end() && http::AcceptsGzip(accept->second));
         http::Response response{200,
                                 metrics::kExpositionContentType,
                                 std::move(page.body),
                                 {},
                                 std::move(page.prefix)};
         if (page.gzipped) {
           response.headers = {{"Content-Encoding", "gzip"}, {"Vary", "Accept-Encoding"}};
         }
         return response;
       },
       {}});
  std::vector<http::Route> write_routes;
  if (receiver) {
    http::BodyPolicy write_body;
    write_body.max_bytes = receiver->limits().max_body_bytes;
    // Content-Type, Content-Encoding and the declared length are checked from the header, so
    // a refused write is answered (and counted) without reading its body.
    write_body.precheck = [&](const http::Request& head) -> std::optional<http::Response> {
      auto header = [&](const char* name) -> std::string_view {
        const auto it = head.headers.find(name);
        return it == head.headers.end() ? std::string_view() : std::string_view(it->second);
      };
      const auto refused =
          remote_write::CheckWriteHeaders(header("content-type"), header("content-encoding"),
                                          head.content_length, receiver->limits());
      if (!refused) return std::nullopt;
      receiver->store().CountRequest(refused->status, refused->reason);
      return http::Response{refused->status, "text/plain; charset=utf-8", refused->body + "\n", {}};
    };
    write_body.too_large = [&] {
      const auto refused = remote_write::CheckWriteHeaders("application/x-protobuf", "snappy",
                                                           receiver->limits().max_body_bytes + 1,
                                                           receiver->limits());
      receiver->store().CountRequest(refused->status, refused->reason);
      return http::Response{refused->status, "text/plain; charset=utf-8", refused->body + "\n", {}};
    };
    for (const char* path : {"/api/v1/write", "/write"}) {
      write_routes.push_back(
          {path, "POST",
           [&](const http::Request& request) {
             auto header = [&](const char* name) -> std::string_view {
               const auto it = request.headers.find(name);
               return it == request.headers.end() ? std::string_view()
                                                  : std::string_view(it->second);
             };
             const remote_write::ReceiverResponse answer =
                 receiver->Handle(header("content-type"), header("content-encoding"), request.body,
                                  remote_write::Clock::now());
             if (answer.status >= 400) {
               logger.Debug("receiver", "remote_write answered ", answer.status, ": ", answer.body);
             }
             return http::Response{answer.status,
                                   "text/plain; charset=utf-8",
                                   answer.body.empty() ? "" : answer.body + "\n",
                                   {}};
           },
           write_body});
    }
  }
  auto healthz = [&](const http::Request&) {
    if (!sampler.Latest()) {
      return http::Response{503, "text/plain; charset=utf-8", "starting\n", {}};
    }
    return http::Response{200, "text/plain; charset=utf-8", "ok\n", {}};
  };
  routes.push_back({"/healthz", "GET", healthz, {}});
  if (config.telemetry_path != "/") {
    routes.push_back(
        {"/",
         "GET",
         [&](const http::Request&) {
           return http::Response{
               200,
               "text/html; charset=utf-8",
               StatusPage(config, kernel, started_at, bpf_decisions, sampler, metadata),
               {{"Content-Security-Policy", kStatusPageContentSecurityPolicy}}};
         },
         {}});
  }
  auto server_options = [&](const std::string& name, const std::string& address,
                            const std::string& flag, const std::string& web_config_file) {
    http::ServerOptions options;
    options.name = name;
    options.listen_address = address;
    options.flag = flag;
    options.web_config_file = web_config_file;
    options.header_timeout = config.web_header_timeout;
    options.body_timeout = config.web_body_timeout;
    options.write_timeout = config.web_write_timeout;
    options.idle_timeout = config.web_idle_timeout;
    options.max_connections = config.web_max_connections;
    options.max_connections_per_client = config.web_max_connections_per_client;
    return options;
  };
  const bool separate_receiver = receiver && !config.receiver_listen_address.empty();
  if (!separate_receiver) {
    for (auto& route : write_routes) routes.push_back(std::move(route));
  }
  server = http::Server::Start(
      server_options("web", config.listen_address, "--web.listen-address", config.web_config_file),
      std::move(routes), logger, &error);
  if (!server) {
    logger.Error("main", error);
    return kExitFailure;
  }
  web_stats = server.get();
  logger.Info("main", "listening on ", config.listen_address, " (port ", server->port(), "; ",
              server->Describe(), "): ", config.telemetry_path, " /healthz /",
              receiver && !separate_receiver ? " /api/v1/write /write" : "");
  if (separate_receiver) {
    write_routes.push_back({"/healthz", "GET", healthz, {}});
    receiver_server = http::Server::Start(
        server_options("receiver", config.receiver_listen_address, "--receiver.listen-address",
                       config.receiver_web_config_file),
        std::move(write_routes), logger, &error);
    if (!receiver_server) {
      logger.Error("main", error);
      web_stats = nullptr;
      return kExitFailure;
    }
    receiver_stats = receiver_server.get();
    logger.Info("main", "remote_write receiver listening on ", config.receiver_listen_address,
                " (port ", receiver_server->port(), "; ", receiver_server->Describe(),
                "): /api/v1/write /write /healthz");
  }

  // The push loop: waits on the interval or shutdown, never on a slow endpoint (the sender
  // queues; its own threads deliver).
  std::mutex push_mutex;
  std::condition_variable push_wake;
  bool stopping = false;
  std::thread pusher;
  if (sender) {
    pusher = std::thread([&] {
      std::unique_lock lock(push_mutex);
      while (!push_wake.wait_for(lock, config.remote_write_interval, [&] { return stopping; })) {
        lock.unlock();
        if (const auto snapshot = sampler.Fresh(config.sample_max_age, std::chrono::seconds(5))) {
          const metrics::BuildContext context{kernel, std::chrono::system_clock::now(),
                                              config.compat_cadvisor};
          const int64_t timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                           snapshot->taken_at.time_since_epoch())
                                           .count();
          sender->EnqueueRound(SnapshotToSeries(*snapshot, context, timestamp_ms), timestamp_ms);
        }
        lock.lock();
      }
    });
  }

  int received = 0;
  for (;;) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    // Flags are fixed for the process's life; what can be re-read is re-read.
    logger.Info("main",
                "received SIGHUP: re-reading container names from every provider now (flags "
                "take a restart to change)");
    metadata.RefreshAll();
  }
  logger.Info("main", "received ", received == SIGTERM ? "SIGTERM" : "SIGINT", ", shutting down");
  if (pusher.joinable()) {
    {
      std::lock_guard lock(push_mutex);
      stopping = true;
    }
    push_wake.notify_all();
    pusher.join();
  }
  if (sender) sender->Stop();  // drops what is still queued, counted
  // The web server first: its /metrics handler reads the receiver server's counters.
  web_stats = nullptr;
  server.reset();  // no more scrapes (running handlers finish first)
  receiver_stats = nullptr;
  receiver_server.reset();
  return kExitOk;  // sampler, then collector (and with it the BPF programs), unwind here
}

}  // namespace
}  // namespace podstat::app

int main(int argc, char** argv) {
  // glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), so
  // after the first page or remote-write batch every later one comes from the heap and its
  // pages stay resident once freed: a node agent's RSS would be its largest page ever (+17 MB
  // at 1000 containers). Setting the thresholds turns that off: blocks over 256 KiB are mapped
  // and unmapped, and free memory at the heap's top above 256 KiB goes back to the kernel.
  // Measured at 1000 containers: VmRSS 44 MB after a gzip scrape with glibc's defaults, 34 MB so.
  ::mallopt(M_MMAP_THRESHOLD, 256 << 10);
  ::mallopt(M_TRIM_THRESHOLD, 256 << 10);
  // And no transparent huge pages for the agent's memory: memory handed back is faulted in again
  // later, and where THP is "always" (Debian 5.10's guest here; RHEL's default) a fault in a
  // 2 MiB-aligned heap takes a whole huge page. RSS then moved in 2 MiB steps (+2,052 KiB over
  // the churn test on 5.10, +48 KiB on 7.2 with THP on madvise). Linux 3.15+.
  ::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  std::string error;
  const auto config =
      podstat::app::ParseFlags(std::vector<std::string>(argv + 1, argv + argc), &error);
  if (!config) {
    std::cerr << "podstat: " << error << "\n";
    return podstat::app::kExitUsage;
  }
  if (config->help) {
    std::cout << podstat::app::UsageText();
    return podstat::app::kExitOk;
  }
  if (config->metrics) {
    std::cout << podstat::sources::RenderMetricTable();
    return podstat::app::kExitOk;
  }
  if (config->version) {
    std::cout << "podstat " << podstat::build_info::kVersion << " ("
              << podstat::build_info::kRevision << ")\n";
    return podstat::app::kExitOk;
  }
  return podstat::app::Run(*config);
}
