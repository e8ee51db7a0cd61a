// The three real-Prometheus flows of prometheus_test.cc through TLS with a required client
// certificate and basic auth (issue 13), with Prometheus 2.42's tls_config and basic_auth on its
// side and exporter-toolkit web configs (the same format for both programs) on the servers:
//   (a) Prometheus scrapes podstat's --web.config.file listener; wrong credentials are refused
//       and counted.
//   (b) Prometheus remote_writes to podstat's receiver on its own --receiver.listen-address with
//       its own --receiver.web-config.file, while /metrics stays plain.
//   (c) podstat's sender pushes to Prometheus's receiver behind Prometheus's own
//       --web.config.file, with --remote-write.tls.* and basic auth.
// Every test makes a throw-away PKI (common/test_pki.h) and bcrypt hashes with htpasswd.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/test_pki.h"
#include "curl_client.h"
#include "prometheus.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kArrival = 30s;  // as in prometheus_test.cc: 1 s scrapes and batch deadlines
constexpr auto kPoll = 250ms;

constexpr char kGlobal[] =
    "global:\n"
    "  scrape_interval: 1s\n"
    "  scrape_timeout: 1s\n"
    "  evaluation_interval: 1s\n";

constexpr char kPassword[] = "s3cret pass";  // a space: the YAML and the files must keep it
constexpr char kWrongPassword[] = "not-the-password";

// A temp directory with the PKI, the password file and the web configs; removed at the end.
class TlsFiles {
 public:
  TlsFiles() {
    char dir_template[] = "/tmp/podstat-tls-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir_template;
    pki_ = MakeTestPki(dir_);
    password_file_ = Write("password", std::string(kPassword) + "\n");
    password_hash_ = HtpasswdBcrypt(kPassword);
  }
  ~TlsFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TlsFiles(const TlsFiles&) = delete;
  TlsFiles& operator=(const TlsFiles&) = delete;

  const TestPki& pki() const { return pki_; }
  const std::string& password_file() const { return password_file_; }

  std::string Write(const std::string& name, const std::string& content) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
    return path;
  }

  // An exporter-toolkit web config: TLS with a required client certificate from the test CA,
  // and basic auth for `user` with kPassword.
  std::string WebConfig(const std::string& user) const {
    return "tls_server_config:\n"
           "  cert_file: " +
           pki_.server_cert + "\n  key_file: " + pki_.server_key +
           "\n  client_ca_file: " + pki_.ca_cert +
           "\n  client_auth_type: RequireAndVerifyClientCert\n"
           "  min_version: TLS12\n"
           "basic_auth_users:\n"
           "  " +
           user + ": '" + password_hash_ + "'\n";
  }

  // Prometheus's side of a client: tls_config and basic_auth, indented for a scrape_config or a
  // remote_write entry.
  std::string PrometheusClientYaml(const std::string& indent, const std::string& user,
                                   const std::string& password, bool client_cert = true) const {
    std::string yaml = indent + "tls_config:\n" + indent + "  ca_file: " + pki_.ca_cert + "\n";
    if (client_cert) {
      yaml += indent + "  cert_file: " + pki_.client_cert + "\n" + indent +
              "  key_file: " + pki_.client_key + "\n";
    }
    yaml += indent + "basic_auth:\n" + indent + "  username: " + user + "\n" + indent +
            "  password: '" + password + "'\n";
    return yaml;
  }

  ClientCredentials Client(const std::string& user) const {
    return {pki_.ca_cert, pki_.client_cert, pki_.client_key, user, kPassword};
  }

 private:
  std::filesystem::path dir_;
  TestPki pki_;
  std::string password_file_;
  std::string password_hash_;
};

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string FormatAll(const std::vector<Sample>& samples) {
  std::string out;
  for (const Sample& sample : samples) out += "  " + FormatSample(sample) + "\n";
  return out;
}

double SumOf(const std::vector<Sample>& samples, const std::string& name) {
  double sum = 0;
  for (const Sample& sample : SamplesNamed(samples, name)) sum += sample.value;
  return sum;
}

// Agent::WaitHealthy speaks plain HTTP; an agent behind TLS and basic auth is asked with
// credentials. False when the agent exits first or the timeout passes.
bool WaitHealthyOverTls(Agent& agent, const ClientCredentials& credentials) {
  std::string last_error;
  const bool healthy = PollUntil(
      [&] {
        if (agent.WaitExit(0ms)) return true;  // exited: stop polling, reported below
        try {
          const HttpResponse response =
              CurlRequest("https://" + agent.address() + "/healthz", credentials);
          last_error = "status " + std::to_string(response.status);
          return response.status == 200;
        } catch (const std::exception& e) {
          last_error = e.what();
          return false;
        }
      },
      kConditionTimeout, 50ms);
  if (!healthy || agent.WaitExit(0ms)) {
    std::cerr << "agent not healthy over TLS: " << last_error << "\n";
    return false;
  }
  return true;
}

// Polls `expr` until every series it returns has the value `want` and there are `count` of them.
std::vector<Sample> QueryUntil(const PrometheusServer& prometheus, const std::string& expr,
                               size_t count, double want) {
  std::vector<Sample> result;
  const auto start = Clock::now();
  while (MillisSince(start) < std::chrono::milliseconds(kArrival).count()) {
    result = prometheus.Query(expr);
    bool all = result.size() == count;
    for (const Sample& sample : result) all = all && sample.value == want;
    if (all) break;
    std::this_thread::sleep_for(kPoll);
  }
  return result;
}

// Each job's health and last scrape error, from /api/v1/targets (for the failure message and
// the log: Prometheus's words for a refused certificate or a 401).
std::string TargetErrors(const PrometheusServer& prometheus) {
  try {
    const auto json = nlohmann::json::parse(
        CurlRequest(prometheus.base_url() + "/api/v1/targets?state=active").body);
    std::string out;
    for (const auto& target : json.at("data").at("activeTargets")) {
      out += "  job " + target.at("labels").value("job", "") + ": " + target.value("health", "") +
             " " + target.value("lastError", "") + "\n";
    }
    return out;
  } catch (const std::exception& e) {
    return e.what();
  }
}

// (a) Prometheus scrapes podstat over TLS with its client certificate and basic auth: up is 1 and
// podstat's series arrive. Two more jobs scrape the same listener wrongly (a wrong password; no
// client certificate): both are down, and podstat counted each kind of refusal.
TEST(PrometheusTlsTest, ScrapesAgentOverTlsWithClientCertAndBasicAuth) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();
  TlsFiles files;
  const std::string web_config = files.Write("podstat-web.yml", files.WebConfig("prometheus"));

  Agent agent({"--web.config.file=" + web_config});
  const ClientCredentials ours = files.Client("prometheus");
  ASSERT_TRUE(WaitHealthyOverTls(agent, ours)) << agent.Stderr();

  auto job = [&](const std::string& name, const std::string& password, bool client_cert) {
    return "  - job_name: " + name +
           "\n"
           "    scheme: https\n" +
           files.PrometheusClientYaml("    ", "prometheus", password, client_cert) +
           "    static_configs:\n"
           "      - targets: ['" +
           agent.address() + "']\n";
  };
  const std::string config =
      std::string(kGlobal) + "scrape_configs:\n" + job("podstat", kPassword, true) +
      job("wrong-password", kWrongPassword, true) + job("no-client-cert", kPassword, false);
  PrometheusServer prometheus(podstat_prometheus_binary, config);
  const auto start = Clock::now();

  const std::vector<Sample> up = QueryUntil(prometheus, "up{job=\"podstat\"}", 1, 1);
  ASSERT_EQ(up.size(), 1u) << FormatAll(up) << TargetErrors(prometheus);
  ASSERT_EQ(up[0].value, 1) << FormatSample(up[0]) << "\n" << TargetErrors(prometheus);
  std::cout << "up{job=\"podstat\"} == 1 over TLS + client cert + basic auth after "
            << MillisSince(start) << " ms\n";

  const std::vector<Sample> build =
      QueryUntil(prometheus, "podstat_build_info{job=\"podstat\"}", 1, 1);
  ASSERT_EQ(build.size(), 1u) << FormatAll(build);
  EXPECT_EQ(build[0].labels.at("instance"), agent.address());
  EXPECT_FALSE(prometheus.Query("container_memory_usage_bytes{job=\"podstat\"}").empty())
      << "no per-container series scraped over TLS";

  // The wrong ones: scraped (up exists) and down.
  for (const char* wrong : {"wrong-password", "no-client-cert"}) {
    const std::vector<Sample> down =
        QueryUntil(prometheus, std::string("up{job=\"") + wrong + "\"}", 1, 0);
    ASSERT_EQ(down.size(), 1u) << wrong << ":\n" << FormatAll(down);
    EXPECT_EQ(down[0].value, 0) << FormatSample(down[0]);
  }
  std::cout << "targets:\n" << TargetErrors(prometheus);

  // podstat counted both refusals; its /metrics is read with the right credentials.
  const std::vector<Sample> own =
      ParseExposition(CurlRequest("https://" + agent.address() + "/metrics", ours).body);
  const double auth_failures = SumOf(own, "podstat_http_auth_failures_total");
  const double handshake_failures = SumOf(own, "podstat_http_tls_handshake_failures_total");
  std::cout << "podstat counted " << auth_failures << " auth failures and " << handshake_failures
            << " TLS handshake failures\n";
  EXPECT_GT(auth_failures, 0) << "the wrong-password scrapes were not counted";
  EXPECT_GT(handshake_failures, 0) << "the scrapes without a client certificate were not counted";

  // (After the counts, which this would move.) The listener wants TLS: plain HTTP gets no answer.
  EXPECT_THROW(agent.Get("/metrics"), std::exception);
}

// (b) Prometheus scrapes podstat's plain /metrics and remote_writes the result to podstat's
// receiver on its own listener, over TLS with a client certificate and basic auth. The relayed
// series show up on /metrics; the plain listener does not take writes.
TEST(PrometheusTlsTest, PrometheusWritesToOurReceiverOverTls) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();
  TlsFiles files;
  const std::string receiver_web = files.Write("receiver-web.yml", files.WebConfig("writer"));
  const std::string receiver_address = "127.0.0.1:" + std::to_string(FreeTcpPort());

  // A map capacity nobody would pick: its relayed value must be exactly the agent's own.
  Agent agent({"--receiver.enable", "--receiver.listen-address=" + receiver_address,
               "--receiver.web-config.file=" + receiver_web, "--receiver.extra-label=origin=tls",
               "--receiver.allow-metric=podstat_build_info",
               "--receiver.allow-metric=podstat_bpf_map_capacity", "--bpf.max-cgroups=23456"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const std::string receiver_url = "https://" + receiver_address + "/api/v1/write";

  // Before Prometheus: the plain listener has no write path, and the receiver wants credentials.
  const HttpResponse plain_write = CurlRequest("http://" + agent.address() + "/api/v1/write", {},
                                               "POST", "x", "application/x-protobuf");
  EXPECT_EQ(plain_write.status, 404) << plain_write.body;
  // /healthz answers on the main listener; the receiver's may open a moment later.
  ClientCredentials no_password = files.Client("");
  std::optional<HttpResponse> anonymous;
  std::string connect_error;
  PollUntil([&] {
    try {
      anonymous = CurlRequest(receiver_url, no_password, "POST", "x", "application/x-protobuf");
      return true;
    } catch (const std::exception& e) {
      connect_error = e.what();
      return false;
    }
  });
  ASSERT_TRUE(anonymous.has_value()) << connect_error << "\n" << agent.Stderr();
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;

  const std::string config = std::string(kGlobal) + "scrape_configs:\n" + PodstatScrapeJob(agent) +
                             "remote_write:\n"
                             "  - url: " +
                             receiver_url +
                             "\n"
                             "    queue_config:\n"
                             "      batch_send_deadline: 1s\n"
                             "      min_backoff: 100ms\n"
                             "      max_backoff: 1s\n" +
                             files.PrometheusClientYaml("    ", "writer", kPassword);
  PrometheusServer prometheus(podstat_prometheus_binary, config);
  const auto start = Clock::now();

  std::vector<Sample> samples;
  std::vector<Sample> relayed;
  auto arrived = [&] {
    samples = ParseExposition(agent.Scrape());
    relayed = SamplesWithLabel(samples, "origin", "tls");
    return !SamplesNamed(relayed, "podstat_build_info").empty() &&
           !SamplesNamed(relayed, "podstat_bpf_map_capacity").empty();
  };
  ASSERT_TRUE(PollUntil(arrived, kArrival, kPoll))
      << "no relayed series with origin=\"tls\" within " << kArrival.count()
      << " s; relayed so far:\n"
      << FormatAll(relayed);
  std::cout << "relayed series arrived over TLS " << MillisSince(start) << " ms after Prometheus "
            << "was ready; " << relayed.size() << " relayed series\n";

  for (const Sample& sample : relayed) {
    EXPECT_EQ(sample.labels.at("relay"), "remote_write") << FormatSample(sample);
    EXPECT_EQ(sample.labels.at("job"), "podstat") << FormatSample(sample);
  }
  for (const Sample& sample : SamplesNamed(relayed, "podstat_bpf_map_capacity")) {
    std::vector<Sample> own;
    for (const Sample& s : samples)
      if (s.labels.count("relay") == 0) own.push_back(s);
    const std::optional<double> own_value =
        FindSample(own, "podstat_bpf_map_capacity", {{"map", sample.labels.at("map")}});
    ASSERT_TRUE(own_value.has_value()) << FormatSample(sample);
    EXPECT_EQ(sample.value, *own_value) << FormatSample(sample);
  }
  const std::optional<double> accepted =
      FindSample(samples, "podstat_receiver_requests_total", {{"code", "204"}});
  ASSERT_TRUE(accepted.has_value());
  EXPECT_GT(*accepted, 0);
  std::cout << "receiver answered 204 to " << *accepted << " requests over TLS\n";
}

// (c) podstat's sender pushes to Prometheus's remote_write receiver behind Prometheus's own
// --web.config.file (TLS with a required client certificate, basic auth), trusting the test CA
// with --remote-write.tls.ca-file.
TEST(PrometheusTlsTest, OurSenderPushesToPrometheusOverTls) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();
  TlsFiles files;
  PrometheusServer prometheus(podstat_prometheus_binary, kGlobal,
                              {"--web.enable-remote-write-receiver"}, 0,
                              {files.WebConfig("podstat"), files.Client("podstat")});
  const std::string url = prometheus.base_url() + "/api/v1/write";
  ASSERT_EQ(url.rfind("https://", 0), 0u) << url;

  // Prometheus really wants the password: the same client without it is refused.
  ClientCredentials no_password = files.Client("");
  EXPECT_EQ(CurlRequest(prometheus.base_url() + "/api/v1/query?query=up", no_password).status, 401);

  const std::vector<std::string> tls_flags = {
      "--remote-write.tls.ca-file=" + files.pki().ca_cert,
      "--remote-write.tls.cert-file=" + files.pki().client_cert,
      "--remote-write.tls.key-file=" + files.pki().client_key,
      "--remote-write.basic-auth.username=podstat",
      "--remote-write.basic-auth.password-file=" + files.password_file()};

  // A TLS file that cannot be read stops the agent at start, saying which.
  {
    Agent bad({"--remote-write.url=" + url, "--remote-write.tls.ca-file=/nonexistent/ca.crt"});
    const std::optional<int> status = bad.WaitExit(kConditionTimeout);
    ASSERT_TRUE(status.has_value()) << "the agent ran with an unreadable CA file";
    EXPECT_NE(*status, 0);
    EXPECT_NE(bad.Stderr().find("cannot read the TLS CA file /nonexistent/ca.crt"),
              std::string::npos)
        << bad.Stderr();
  }

  std::vector<std::string> flags = {"--remote-write.url=" + url, "--remote-write.interval=1s",
                                    "--remote-write.external-label=cluster=tls"};
  flags.insert(flags.end(), tls_flags.begin(), tls_flags.end());
  Agent agent(flags);
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto start = Clock::now();

  const std::vector<Sample> pushed =
      QueryUntil(prometheus, "podstat_build_info{cluster=\"tls\"}", 1, 1);
  ASSERT_EQ(pushed.size(), 1u) << "Prometheus has no podstat_build_info{cluster=\"tls\"} within "
                               << kArrival.count() << " s:\n"
                               << FormatAll(pushed) << "agent log:\n"
                               << agent.Stderr().substr(0, 4000);
  std::cout << "podstat_build_info reached Prometheus over TLS " << MillisSince(start)
            << " ms after the agent was healthy\n";
  EXPECT_FALSE(prometheus.Query("container_memory_usage_bytes{cluster=\"tls\"}").empty());

  const std::vector<Sample> own = ParseExposition(agent.Scrape());
  const double sent = SumOf(own, "podstat_remote_write_samples_total");
  const double failed = SumOf(own, "podstat_remote_write_failed_samples_total");
  std::cout << "sender: " << sent << " samples sent, " << failed << " failed, "
            << SumOf(own, "podstat_remote_write_retries_total") << " retries\n";
  EXPECT_GT(sent, 0);
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace podstat::testing
