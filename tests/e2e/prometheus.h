// Support for the end-to-end tests against a real Prometheus server (DESIGN.md §7): the Debian
// binary run per test on a free port with a generated configuration (and optionally its own
// --web.config.file: TLS, client certificates, basic auth), a libcurl client for its API, and the
// rule that decides whether a missing binary skips or fails a test.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "curl_client.h"
#include "support/workload.h"

namespace podstat::testing {

// The scrape_configs entry for the agent (job "podstat"). The relayed series the agent re-exposes
// carry relay="remote_write"; they are dropped at scrape time, or Prometheus would ingest them
// again (as exported_job=...), write them back, and grow a new generation of series every scrape.
std::string PodstatScrapeJob(const Agent& agent);

enum class PrometheusStatus { kUsable, kSkip, kFail };

// Whether a prometheus binary can be run (PATH, then /usr/bin/prometheus). On success `path` holds
// the binary; otherwise `reason` says why, and the result says whether that skips the test (run
// by hand) or fails it (under ctest, which sets PODSTAT_E2E_REQUIRE_DOCKER: `make test` installs
// prometheus along with docker, so both are required there).
PrometheusStatus CheckPrometheus(std::string* path, std::string* reason);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view text);

// A Prometheus server in its own process group, listening on 127.0.0.1:<free port>, with
// prometheus.yml and its TSDB in a fresh temp directory. The constructor returns once
// GET /-/ready answers 200 (throws, with the log, if that takes over 30 s or the process exits).
// The destructor sends SIGTERM to the group (SIGKILL after 5 s), reaps, prints the log if the
// test failed, and removes the directory.
// Prometheus's own web server: `config_yaml` is its --web.config.file (exporter-toolkit format, as
// podstat's), `client` what the helper presents to its API. With a CA in `client` the API is
// reached over https.
struct PrometheusWeb {
  std::string config_yaml;  // empty: no --web.config.file, plain HTTP
  ClientCredentials client;
};

class PrometheusServer {
 public:
  // `config` is the whole prometheus.yml; `extra_flags` are appended to the command line, e.g.
  // "--web.enable-remote-write-receiver". `port` is the listen port (0: pick a free one); a
  // configuration that must name the port before the server starts can take it from
  // FreeTcpPort().
  PrometheusServer(const std::string& binary, const std::string& config,
                   std::vector<std::string> extra_flags = {}, uint16_t port = 0,
                   PrometheusWeb web = {});
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;   // "127.0.0.1:<port>"
  std::string base_url() const;  // "http(s)://127.0.0.1:<port>"

  // GET /api/v1/query?query=<expr> (evaluated now). Throws unless the answer is 200 with
  // status "success" and an instant vector; each element becomes a Sample (name from __name__,
  // empty for expressions that drop it).
  std::vector<Sample> Query(const std::string& expr) const;

  // Everything Prometheus logged so far.
  std::string Log() const;

 private:
  bool Reap(bool block);

  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
  std::string dir_;
  std::string log_path_;
  ClientCredentials client_;
};

}  // namespace podstat::testing

// Every Prometheus test starts with PODSTAT_REQUIRE_PRIVILEGES() and then this, which declares
// `podstat_prometheus_binary` (a std::string) for the test body. Without a runnable prometheus
// the test is skipped loudly when run by hand, and fails under ctest.
#define PODSTAT_REQUIRE_PROMETHEUS()                                                         \
  std::string podstat_prometheus_binary;                                                     \
  do {                                                                                       \
    std::string podstat_prometheus_reason;                                                   \
    switch (::podstat::testing::CheckPrometheus(&podstat_prometheus_binary,                  \
                                                &podstat_prometheus_reason)) {               \
      case ::podstat::testing::PrometheusStatus::kUsable:                                    \
        break;                                                                               \
      case ::podstat::testing::PrometheusStatus::kSkip:                                      \
        GTEST_SKIP() << "SKIPPED PROMETHEUS TEST: " << podstat_prometheus_reason             \
                     << " -- install Debian's prometheus package (`make test` does)";        \
      case ::podstat::testing::PrometheusStatus::kFail:                                      \
        FAIL() << "prometheus is required here but unusable: " << podstat_prometheus_reason; \
    }                                                                                        \
  } while (0)
