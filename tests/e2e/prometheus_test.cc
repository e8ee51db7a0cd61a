// End-to-end against a real Prometheus (Debian's 2.42; DESIGN.md §6, §7, §10): the three ways
// podstat and Prometheus meet.
//   (a) Prometheus scrapes the agent and remote_writes the scraped series back to the agent's
//       receiver, which re-exposes the allowed ones on /metrics with its extra label.
//   (b) The agent's remote_write sender pushes its own /metrics to Prometheus's receiver.
//   (c) Prometheus scrapes the agent's /metrics: up is 1 and it ingested what we served.
// Each test starts its own Prometheus on a free port (prometheus.h) and its own agent.
#include "prometheus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kMemoryUsage[] = "container_memory_usage_bytes";
constexpr char kBuildInfo[] = "podstat_build_info";
constexpr char kMapCapacity[] = "podstat_bpf_map_capacity";
constexpr char kNetworkNamespaces[] = "podstat_network_namespaces";

// How long Prometheus may take to move data: with 1 s scrapes and a 1 s batch deadline, relayed
// series usually arrive in a few seconds (its WAL watcher adds some latency); 30 s is generous and
// keeps each test under ~40 s.
constexpr auto kArrival = 30s;
constexpr auto kPoll = 250ms;

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string Label(const Sample& sample, const std::string& name) {
  const auto it = sample.labels.find(name);
  return it == sample.labels.end() ? std::string() : it->second;
}

// The labels Prometheus stores for a series we exposed: label pairs with an empty value are the
// same as absent in Prometheus, so ingestion drops them.
Labels WithoutEmptyLabels(Labels labels) {
  std::erase_if(labels, [](const auto& pair) { return pair.second.empty(); });
  return labels;
}

// The lines of Prometheus's log where its remote_write component warns or fails (e.g.
// "non-recoverable error ... 400"), or "" when there are none.
std::string RemoteWriteTrouble(const PrometheusServer& prometheus) {
  std::istringstream in(prometheus.Log());
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.find("component=remote") != std::string::npos &&
        (line.find("level=warn") != std::string::npos ||
         line.find("level=error") != std::string::npos)) {
      out += line + "\n";
    }
  }
  return out;
}

// The series the agent exports itself, without those its receiver relays (which all carry
// relay="remote_write").
std::vector<Sample> OwnSamples(const std::vector<Sample>& samples) {
  std::vector<Sample> out;
  for (const Sample& sample : samples) {
    if (sample.labels.count("relay") == 0) out.push_back(sample);
  }
  return out;
}

double SumOf(const std::vector<Sample>& samples, const std::string& name) {
  double sum = 0;
  for (const Sample& sample : SamplesNamed(samples, name)) sum += sample.value;
  return sum;
}

std::string FormatAll(const std::vector<Sample>& samples, size_t limit = 20) {
  std::string out;
  for (size_t i = 0; i < samples.size() && i < limit; ++i)
    out += "  " + FormatSample(samples[i]) + "\n";
  if (samples.size() > limit) out += "  ... " + std::to_string(samples.size() - limit) + " more\n";
  return out;
}

constexpr char kGlobal[] =
    "global:\n"
    "  scrape_interval: 1s\n"
    "  scrape_timeout: 1s\n"
    "  evaluation_interval: 1s\n";

// (a) Prometheus scrapes agent A and remote_writes what it scraped to A's receiver; A re-exposes
// the allowed metrics, with relay="remote_write", its extra label origin="prom1" and the
// job/instance labels Prometheus attached.
TEST(PrometheusTest, RemoteWritesToOurReceiver) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();

  // A map capacity nobody would pick: its relayed value must be exactly A's own.
  Agent agent({"--receiver.enable", "--receiver.extra-label=origin=prom1",
               std::string("--receiver.allow-metric=") + kMemoryUsage,
               std::string("--receiver.allow-metric=") + kBuildInfo,
               std::string("--receiver.allow-metric=") + kMapCapacity, "--bpf.max-cgroups=12345"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();

  const std::string config = std::string(kGlobal) + "scrape_configs:\n" + PodstatScrapeJob(agent) +
                             "remote_write:\n"
                             "  - url: http://" +
                             agent.address() +
                             "/api/v1/write\n"
                             "    queue_config:\n"
                             "      batch_send_deadline: 1s\n"
                             "      min_backoff: 100ms\n"
                             "      max_backoff: 1s\n";
  PrometheusServer prometheus(podstat_prometheus_binary, config);
  const auto start = Clock::now();

  // A's own memory series over time, per id: the value at each of our scrapes.
  std::map<std::string, std::vector<double>> own_memory;
  int scrapes = 0;
  std::string text;
  std::vector<Sample> samples;
  std::vector<Sample> relayed;
  auto relayed_named = [&](const std::string& name) {
    std::vector<Sample> out;
    for (const Sample& sample : relayed) {
      if (sample.name == name) out.push_back(sample);
    }
    return out;
  };
  bool arrived = false;
  while (MillisSince(start) < std::chrono::milliseconds(kArrival).count()) {
    text = agent.Scrape();
    samples = ParseExposition(text);
    ++scrapes;
    for (const Sample& sample : SamplesNamed(samples, kMemoryUsage)) {
      if (sample.labels.count("relay") == 0)
        own_memory[Label(sample, "id")].push_back(sample.value);
    }
    relayed = SamplesWithLabel(samples, "origin", "prom1");
    if (!relayed_named(kBuildInfo).empty() && !relayed_named(kMemoryUsage).empty() &&
        !relayed_named(kMapCapacity).empty()) {
      arrived = true;
      break;
    }
    std::this_thread::sleep_for(kPoll);
  }
  const long long arrival_ms = MillisSince(start);
  ASSERT_TRUE(arrived) << "no relayed " << kBuildInfo << ", " << kMemoryUsage << " and "
                       << kMapCapacity << " with origin=\"prom1\" on A's /metrics within "
                       << kArrival.count() << " s; relayed so far:\n"
                       << FormatAll(relayed) << "Prometheus's remote_write warnings and errors:\n"
                       << RemoteWriteTrouble(prometheus);
  // One more scrape a little later, so the memory values of stable ids have been seen twice, over
  // a window longer than Prometheus's scrape interval (1 s). Nothing is awaited here: the pause
  // only widens the window in which an id's value must not move to be compared exactly below.
  std::this_thread::sleep_for(1s);
  text = agent.Scrape();
  samples = ParseExposition(text);
  ++scrapes;
  for (const Sample& sample : SamplesNamed(samples, kMemoryUsage)) {
    if (sample.labels.count("relay") == 0) own_memory[Label(sample, "id")].push_back(sample.value);
  }
  relayed = SamplesWithLabel(samples, "origin", "prom1");
  std::cout << "relayed series appeared on A's /metrics " << arrival_ms << " ms after Prometheus "
            << "was ready; " << relayed.size() << " relayed series, " << samples.size()
            << " series in all\n";

  // Only the allowed metrics were relayed: not podstat_collection_duration_seconds, not the up
  // and scrape_* series Prometheus makes, not anything else A exports.
  const std::set<std::string> allowed = {kMemoryUsage, kBuildInfo, kMapCapacity};
  for (const Sample& sample : relayed) {
    EXPECT_TRUE(allowed.count(sample.name))
        << "relayed a metric not allowed: " << FormatSample(sample);
    EXPECT_EQ(Label(sample, "job"), "podstat") << FormatSample(sample);
    EXPECT_EQ(Label(sample, "instance"), agent.address()) << FormatSample(sample);
    EXPECT_EQ(Label(sample, "relay"), "remote_write") << FormatSample(sample);
  }
  EXPECT_TRUE(SamplesNamed(relayed, "podstat_collection_duration_seconds").empty());
  EXPECT_TRUE(SamplesNamed(relayed, "up").empty());
  ASSERT_FALSE(SamplesNamed(samples, "podstat_collection_duration_seconds").empty())
      << "A exports no podstat_collection_duration_seconds: the check above proves nothing";

  // build_info: value 1 and the same build labels as A's own series.
  const std::vector<Sample> build = relayed_named(kBuildInfo);
  ASSERT_EQ(build.size(), 1u) << FormatAll(build);
  const std::vector<Sample> own_builds = SamplesNamed(OwnSamples(samples), kBuildInfo);
  ASSERT_EQ(own_builds.size(), 1u) << FormatAll(own_builds);
  EXPECT_EQ(build[0].value, 1);
  for (const char* label : {"revision", "version", "kernel"}) {
    EXPECT_EQ(Label(build[0], label), Label(own_builds[0], label)) << label;
  }
  EXPECT_FALSE(Label(build[0], "revision").empty());

  // The map capacity: an exact, non-trivial number that went A → Prometheus → A.
  const std::vector<Sample> capacity = relayed_named(kMapCapacity);
  ASSERT_FALSE(capacity.empty());
  for (const Sample& sample : capacity) {
    const std::optional<double> own =
        FindSample(OwnSamples(samples), kMapCapacity, {{"map", Label(sample, "map")}});
    ASSERT_TRUE(own.has_value()) << "no own series for relayed " << FormatSample(sample);
    EXPECT_EQ(sample.value, *own) << FormatSample(sample);
    std::cout << "relayed " << FormatSample(sample) << " (own " << *own << ")\n";
  }

  // Memory: every relayed id is one of A's own, and where A's own value never moved while we
  // watched, the relayed value is exactly it.
  const std::vector<Sample> memory = relayed_named(kMemoryUsage);
  int compared = 0;
  for (const Sample& sample : memory) {
    const std::string id = Label(sample, "id");
    const auto own = own_memory.find(id);
    ASSERT_NE(own, own_memory.end())
        << "relayed a series for an id A never exported: " << FormatSample(sample);
    const std::vector<double>& values = own->second;
    if (values.size() >= 2 && std::set<double>(values.begin(), values.end()).size() == 1) {
      EXPECT_EQ(sample.value, values.front()) << FormatSample(sample);
      ++compared;
    }
  }
  std::cout << memory.size() << " relayed " << kMemoryUsage << " series (A has "
            << own_memory.size() << " ids); " << compared
            << " compared exactly (own value stable over " << scrapes << " scrapes)\n";

  // Merged into podstat's own family, not a second family of the same name.
  size_t type_lines = 0;
  for (size_t at = text.find(std::string("# TYPE ") + kMemoryUsage + " "); at != std::string::npos;
       at = text.find(std::string("# TYPE ") + kMemoryUsage + " ", at + 1)) {
    ++type_lines;
  }
  EXPECT_EQ(type_lines, 1u) << "one # TYPE line for " << kMemoryUsage;

  // The receiver accepted Prometheus's requests, and refused none of them.
  double accepted = 0;
  for (const Sample& sample : SamplesNamed(samples, "podstat_receiver_requests_total")) {
    const std::string code = Label(sample, "code");
    if (code == "204") accepted = sample.value;
    if (code.empty() || code[0] != '2') {
      EXPECT_EQ(sample.value, 0) << "the receiver refused Prometheus's requests: "
                                 << FormatSample(sample);
    }
  }
  EXPECT_GT(accepted, 0) << "podstat_receiver_requests_total{code=\"204\"}";
  EXPECT_EQ(RemoteWriteTrouble(prometheus), "") << "Prometheus's remote_write complained";
  std::cout << "receiver answered 204 to " << accepted << " requests\n";
}

// (b) Agent B's sender pushes its own /metrics to Prometheus's remote_write receiver.
TEST(PrometheusTest, OurSenderPushesToPrometheus) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();

  PrometheusServer prometheus(podstat_prometheus_binary, kGlobal,
                              {"--web.enable-remote-write-receiver"});
  const std::string url = "http://" + prometheus.address() + "/api/v1/write";
  Agent agent({"--remote-write.url=" + url, "--remote-write.interval=1s",
               "--remote-write.external-label=cluster=test"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const auto start = Clock::now();

  std::vector<Sample> pushed;
  while (MillisSince(start) < std::chrono::milliseconds(kArrival).count()) {
    pushed = prometheus.Query(std::string(kBuildInfo) + "{cluster=\"test\"}");
    if (!pushed.empty()) break;
    std::this_thread::sleep_for(kPoll);
  }
  const long long arrival_ms = MillisSince(start);
  ASSERT_FALSE(pushed.empty()) << "Prometheus has no " << kBuildInfo << "{cluster=\"test\"} within "
                               << kArrival.count() << " s of the agent starting";
  std::cout << kBuildInfo << " reached Prometheus " << arrival_ms
            << " ms after the agent was healthy\n";

  // build_info: exactly one series, value 1, exactly B's labels plus the external label.
  std::vector<Sample> own = ParseExposition(agent.Scrape());
  const std::vector<Sample> own_build = SamplesNamed(own, kBuildInfo);
  ASSERT_EQ(own_build.size(), 1u) << FormatAll(own_build);
  ASSERT_EQ(pushed.size(), 1u) << FormatAll(pushed);
  EXPECT_EQ(pushed[0].value, 1);
  Labels want = WithoutEmptyLabels(own_build[0].labels);
  want["cluster"] = "test";
  EXPECT_EQ(pushed[0].labels, want)
      << "pushed " << FormatSample(pushed[0]) << "\nown " << FormatSample(own_build[0]);

  // Timestamps are the collection time in milliseconds: the newest sample is recent.
  const std::vector<Sample> stamp =
      prometheus.Query(std::string("time() - timestamp(") + kBuildInfo + "{cluster=\"test\"})");
  ASSERT_EQ(stamp.size(), 1u) << FormatAll(stamp);
  EXPECT_GE(stamp[0].value, -2) << "sample timestamp is in the future by " << -stamp[0].value
                                << " s";
  EXPECT_LT(stamp[0].value, 15) << "newest pushed sample is " << stamp[0].value << " s old";
  std::cout << "newest pushed sample is " << stamp[0].value << " s old\n";

  // And the sender keeps pushing every interval (1 s): the newest timestamp moves on.
  const std::string newest = std::string("timestamp(") + kBuildInfo + "{cluster=\"test\"})";
  const std::vector<Sample> first = prometheus.Query(newest);
  ASSERT_EQ(first.size(), 1u);
  std::vector<Sample> later;
  const auto push_start = Clock::now();
  while (MillisSince(push_start) < 10000) {
    later = prometheus.Query(newest);
    if (later.size() == 1 && later[0].value > first[0].value) break;
    std::this_thread::sleep_for(kPoll);
  }
  ASSERT_EQ(later.size(), 1u);
  EXPECT_GT(later[0].value, first[0].value) << "no newer push within 10 s";
  std::cout << "next push arrived " << MillisSince(push_start) << " ms later, "
            << later[0].value - first[0].value << " s newer\n";

  // A value that is not constant by construction: the network namespace count, equal to B's own
  // (it is stable on an idle machine; retry in case a namespace came or went meanwhile).
  std::optional<double> own_netns;
  std::vector<Sample> pushed_netns;
  bool netns_equal = false;
  const auto netns_start = Clock::now();
  while (MillisSince(netns_start) < 15000) {
    own_netns = FindSample(ParseExposition(agent.Scrape()), kNetworkNamespaces, {});
    pushed_netns = prometheus.Query(std::string(kNetworkNamespaces) + "{cluster=\"test\"}");
    if (own_netns && pushed_netns.size() == 1 && pushed_netns[0].value == *own_netns) {
      netns_equal = true;
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(own_netns.has_value()) << "B exports no " << kNetworkNamespaces;
  EXPECT_TRUE(netns_equal) << "Prometheus has\n"
                           << FormatAll(pushed_netns) << "B has " << *own_netns;
  std::cout << kNetworkNamespaces << ": B " << *own_netns << ", Prometheus "
            << (pushed_netns.empty() ? std::string("none") : FormatSample(pushed_netns[0])) << "\n";

  // Per-container series got there too, each with an id B exports.
  std::set<std::string> own_ids;
  for (const Sample& sample : SamplesNamed(own, kMemoryUsage)) own_ids.insert(Label(sample, "id"));
  const std::vector<Sample> pushed_memory =
      prometheus.Query(std::string(kMemoryUsage) + "{cluster=\"test\"}");
  EXPECT_FALSE(pushed_memory.empty());
  for (const Sample& sample : pushed_memory) {
    EXPECT_TRUE(own_ids.count(Label(sample, "id")))
        << "pushed id B does not export: " << FormatSample(sample);
  }

  // How much of B's /metrics Prometheus holds (informational: series come and go).
  own = ParseExposition(agent.Scrape());
  const std::vector<Sample> held = prometheus.Query("count({cluster=\"test\"})");
  std::cout << "Prometheus holds " << (held.empty() ? 0 : held[0].value)
            << " series with cluster=\"test\"; B's /metrics has " << own.size() << "\n";

  // The sender's own account: samples sent, none failed or dropped.
  const double sent = SumOf(own, "podstat_remote_write_samples_total");
  const double failed = SumOf(own, "podstat_remote_write_failed_samples_total");
  const double dropped = SumOf(own, "podstat_remote_write_dropped_samples_total");
  const double retries = SumOf(own, "podstat_remote_write_retries_total");
  std::cout << "sender: " << sent << " samples sent, " << failed << " failed, " << dropped
            << " dropped, " << retries << " retries\n";
  ASSERT_FALSE(SamplesNamed(own, "podstat_remote_write_samples_total").empty());
  EXPECT_GT(sent, 0);
  EXPECT_FALSE(SamplesNamed(own, "podstat_remote_write_failed_samples_total").empty());
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(dropped, 0);
  const std::optional<double> url_sent =
      FindSample(own, "podstat_remote_write_samples_total", {{"url", url}});
  EXPECT_TRUE(url_sent.has_value())
      << "no podstat_remote_write_samples_total{url=\"" << url << "\"}";
}

// (c) Prometheus scrapes agent C: the target is up and every sample we served was ingested.
TEST(PrometheusTest, ScrapesAgentUpIsOne) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();

  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  PrometheusServer prometheus(podstat_prometheus_binary,
                              std::string(kGlobal) + "scrape_configs:\n" + PodstatScrapeJob(agent));
  const auto start = Clock::now();

  std::vector<Sample> up;
  while (MillisSince(start) < std::chrono::milliseconds(kArrival).count()) {
    up = prometheus.Query("up{job=\"podstat\"}");
    if (!up.empty() && up[0].value == 1) break;
    std::this_thread::sleep_for(kPoll);
  }
  ASSERT_EQ(up.size(), 1u) << "up{job=\"podstat\"}:\n" << FormatAll(up);
  ASSERT_EQ(up[0].value, 1) << FormatSample(up[0]);
  EXPECT_EQ(Label(up[0], "instance"), agent.address());
  std::cout << "up{job=\"podstat\"} == 1 after " << MillisSince(start) << " ms\n";

  // scrape_samples_scraped equals the number of samples in our exposition (series come and go
  // with containers, so compare with a scrape of our own taken around the same time).
  std::vector<Sample> scraped;
  size_t own_before = 0;
  size_t own_after = 0;
  bool equal = false;
  const auto count_start = Clock::now();
  while (MillisSince(count_start) < 15000) {
    own_before = ParseExposition(agent.Scrape()).size();
    scraped = prometheus.Query("scrape_samples_scraped{job=\"podstat\"}");
    own_after = ParseExposition(agent.Scrape()).size();
    if (scraped.size() == 1 && (scraped[0].value == static_cast<double>(own_before) ||
                                scraped[0].value == static_cast<double>(own_after))) {
      equal = true;
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(scraped.size(), 1u) << FormatAll(scraped);
  EXPECT_GT(scraped[0].value, 0);
  EXPECT_TRUE(equal) << "scrape_samples_scraped " << scraped[0].value << ", our /metrics has "
                     << own_before << " then " << own_after << " samples";
  std::cout << "scrape_samples_scraped " << scraped[0].value << ", our /metrics " << own_after
            << "\n";

  // And Prometheus read the series right: build_info with our labels.
  const std::vector<Sample> own = ParseExposition(agent.Scrape());
  const std::vector<Sample> own_build = SamplesNamed(own, kBuildInfo);
  const std::vector<Sample> build = prometheus.Query(std::string(kBuildInfo) + "{job=\"podstat\"}");
  ASSERT_EQ(own_build.size(), 1u);
  ASSERT_EQ(build.size(), 1u) << FormatAll(build);
  Labels want = WithoutEmptyLabels(own_build[0].labels);
  want["job"] = "podstat";
  want["instance"] = agent.address();
  EXPECT_EQ(build[0].labels, want) << FormatSample(build[0]);
  EXPECT_EQ(build[0].value, 1);
}

// (d) The same scrape with a container whose cgroup path, process name and interface names hold
// invalid UTF-8, '"', '\\' and a newline (support/workload.h, HostileContainer): Prometheus
// rejects a whole page with one invalid label value ("invalid label value", up 0), so podstat must
// escape them; the series must then arrive with the escaped values.
TEST(PrometheusTest, HostileNamesKeepTheTargetUp) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_PROMETHEUS();

  HostileContainer hostile;
  Agent agent({"--collector.process"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  // Scrape only once the page holds the container's series, so Prometheus sees them.
  WaitUntil(
      [&] {
        const auto own = SamplesWithLabel(ParseExposition(agent.Scrape()), "container_id",
                                          HostileContainer::kContainerId);
        const auto has = [&](const char* name) {
          return std::any_of(own.begin(), own.end(),
                             [&](const Sample& sample) { return sample.name == name; });
        };
        return has("container_process_resident_memory_bytes") &&
               has("container_network_receive_bytes_total");
      },
      "the hostile container's process and interface series on /metrics");
  PrometheusServer prometheus(podstat_prometheus_binary,
                              std::string(kGlobal) + "scrape_configs:\n" + PodstatScrapeJob(agent));
  const auto start = Clock::now();

  const std::string selector = std::string("{job=\"podstat\",container_id=\"") +
                               std::string(HostileContainer::kContainerId) + "\"}";
  std::vector<Sample> up;
  std::vector<Sample> series;
  while (MillisSince(start) < std::chrono::milliseconds(kArrival).count()) {
    up = prometheus.Query("up{job=\"podstat\"}");
    if (!up.empty() && up[0].value == 1) {
      series = prometheus.Query(selector);
      if (!series.empty()) break;
    }
    std::this_thread::sleep_for(kPoll);
  }
  ASSERT_EQ(up.size(), 1u) << "up{job=\"podstat\"}:\n" << FormatAll(up);
  EXPECT_EQ(up[0].value, 1) << FormatSample(up[0]);
  ASSERT_FALSE(series.empty()) << "no series of the hostile container in Prometheus";
  std::cout << "up{job=\"podstat\"} == 1 after " << MillisSince(start) << " ms, " << series.size()
            << " series of the hostile container\n";

  std::set<std::string> ids, comms, interfaces;
  for (const Sample& sample : series) {
    ids.insert(Label(sample, "id"));
    if (!Label(sample, "comm").empty()) comms.insert(Label(sample, "comm"));
    if (!Label(sample, "interface").empty()) interfaces.insert(Label(sample, "interface"));
  }
  EXPECT_EQ(ids, std::set<std::string>{hostile.expected_id});
  EXPECT_EQ(comms, std::set<std::string>{hostile.expected_comm});
  EXPECT_EQ(interfaces, std::set<std::string>(hostile.expected_interfaces.begin(),
                                              hostile.expected_interfaces.end()));
}

}  // namespace
}  // namespace podstat::testing
