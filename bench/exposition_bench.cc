// /metrics rendering CPU per scrape, old against new, on a synthetic snapshot shaped like issue
// 14's run (kubepods cgroupfs layout; each container its own network namespace with eth0, 2
// listeners, 4 established pairs, 1 UDP socket; CPU and memory from cgroup accounting; the TCP
// counters from BPF):
//   old:  prometheus-cpp MetricFamily per series + TextSerializer (tests/common/legacy_families.h)
//   new:  the streaming writer (metrics/exposition.h) into one string
//   hit:  a further scrape of the same snapshot through ExpositionCache (the second HA replica)
// plus gzip (level 1, as the HTTP server sends it) and the remote_write round. Time is the
// thread's CPU time. Usage: podstat_bench_exposition [containers...] (default 300 1000).
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/legacy_families.h"
#include "podstat/app/exposition_cache.h"
#include "podstat/app/remote_write_bridge.h"
#include "podstat/http/gzip.h"
#include "podstat/metrics/exposition.h"

namespace podstat {
namespace {

constexpr double kMinSeconds = 1.0;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string Hex(uint64_t seed, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < digits; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    out += kDigits[(seed >> 33) % 16];
  }
  return out;
}

model::Snapshot MakeSnapshot(int containers) {
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::now();
  for (int i = 0; i < containers; ++i) {
    const std::string pod_uid = Hex(i * 2 + 1, 8) + "-" + Hex(i * 3 + 7, 4) + "-" + Hex(i, 12);
    const std::string id = Hex(i * 5 + 3, 64);
    model::CgroupStats c;
    c.cgroup_id = 1000 + static_cast<uint64_t>(i);
    c.path = "/kubepods/besteffort/pod" + pod_uid + "/" + id;
    c.labels = {"bench", "pseudo-" + std::to_string(i), "app", id,
                "docker.io/library/busybox:1.36"};
    c.tcp.emplace();
    (*c.tcp)[0] = 8;  // 4 established pairs
    (*c.tcp)[9] = 2;  // 2 listeners
    c.sockets.emplace();
    (*c.sockets)[0][model::kSocketTcp] = 10;
    (*c.sockets)[0][model::kSocketUdp] = 1;
    c.tcp_events = model::TcpEvents{static_cast<uint64_t>(i), 0, 3, 1};
    model::NetworkStats network;
    network.netns_inode = 4026532000 + static_cast<uint64_t>(i);
    network.inuse = {{"tcp", 10}, {"udp", 1},  {"udplite", 0},  {"raw", 0},  {"frag", 0},
                     {"tcp6", 0}, {"udp6", 0}, {"udplite6", 0}, {"raw6", 0}, {"frag6", 0}};
    network.sockets_used = 12;
    network.tcp_time_wait = 0;
    network.frag_memory_bytes = {{"frag", 0}, {"frag6", 0}};
    network.interfaces.push_back(
        {"eth0", 123456789ull * static_cast<uint64_t>(i + 1), 98765, 0, 0, 2345678, 4567, 0, 0});
    c.network = network;
    c.cpu = model::CgroupCpu{123'456'789'012ull + static_cast<uint64_t>(i) * 7919,
                             100'000'000'000ull, 23'456'789'012ull, std::nullopt};
    c.memory = model::CgroupMemory{52'428'800, 41'943'040,   31'457'280, 20'971'520,
                                   10'485'760, std::nullopt, 0};
    snapshot.cgroups.push_back(std::move(c));
  }
  snapshot.self.programs = {{"inet_sock_set_state_tp_btf", true}};
  snapshot.self.sources = {{"bpf_tcp", true}, {"cgroup_cpu", true}, {"cgroup_memory", true}};
  snapshot.self.collection_duration_seconds = 0.0123;
  return snapshot;
}

// CPU microseconds per call of `work`, over at least kMinSeconds.
double MicrosPerCall(const std::function<void()>& work) {
  work();  // warm: allocator, caches
  int calls = 0;
  const double start = CpuSeconds();
  double elapsed = 0;
  do {
    work();
    ++calls;
    elapsed = CpuSeconds() - start;
  } while (elapsed < kMinSeconds);
  return elapsed / calls * 1e6;
}

size_t CountSeries(const std::string& text) {
  size_t series = 0;
  size_t at = 0;
  while (at < text.size()) {
    if (text[at] != '#') ++series;
    at = text.find('\n', at);
    if (at == std::string::npos) break;
    ++at;
  }
  return series;
}

void Run(int containers) {
  const auto snapshot = std::make_shared<const model::Snapshot>(MakeSnapshot(containers));
  const metrics::BuildContext context{"6.18.0", std::chrono::system_clock::now(), false};
  const std::string old_text =
      testing::legacy::Serialize(testing::legacy::BuildFamilies(*snapshot, context));
  const std::string new_text = metrics::RenderText(*snapshot, context);
  const size_t series = CountSeries(new_text);
  const std::string gzip = http::GzipCompress(new_text, 1);
  volatile size_t sink = 0;

  const double old_us = MicrosPerCall([&] {
    sink = testing::legacy::Serialize(testing::legacy::BuildFamilies(*snapshot, context)).size();
  });
  const double new_us =
      MicrosPerCall([&] { sink = metrics::RenderText(*snapshot, context).size(); });
  app::ExpositionCache cache;
  const double hit_us =
      MicrosPerCall([&] { sink = cache.Render(snapshot, context, {}, "", false).body.size(); });
  const double old_gzip_us = MicrosPerCall([&] {
    sink = http::GzipCompress(
               testing::legacy::Serialize(testing::legacy::BuildFamilies(*snapshot, context)), 1)
               .size();
  });
  const double new_gzip_us = MicrosPerCall(
      [&] { sink = http::GzipCompress(metrics::RenderText(*snapshot, context), 1).size(); });
  const double hit_gzip_us =
      MicrosPerCall([&] { sink = cache.Render(snapshot, context, {}, "", true).body.size(); });
  // A central podstat relaying a sandbox's container series under our names: they go inside
  // our family, so the text is rendered anew and only that family is compressed again.
  std::vector<remote_write::RelayFamily> relayed(1);
  relayed[0].name = "container_memory_usage_bytes";
  for (int i = 0; i < containers / 10; ++i) {
    relayed[0].series.push_back({{{"__name__", "container_memory_usage_bytes"},
                                  {"id", "/sandbox/" + std::to_string(i)},
                                  {"relay", "true"}},
                                 1e6,
                                 0});
  }
  const double old_relayed_gzip_us = MicrosPerCall([&] {
    auto families = testing::legacy::BuildFamilies(*snapshot, context);
    testing::legacy::MergeRelayed(families, relayed);
    sink = http::GzipCompress(testing::legacy::Serialize(families), 1).size();
  });
  const double relayed_gzip_us =
      MicrosPerCall([&] { sink = cache.Render(snapshot, context, relayed, "", true).body.size(); });
  const size_t cached_gzip_bytes = cache.Render(snapshot, context, {}, "", true).body.size();
  const double old_push_us = MicrosPerCall([&] {
    sink = testing::legacy::FamiliesToSeries(testing::legacy::BuildFamilies(*snapshot, context), 0)
               .size();
  });
  const double new_push_us =
      MicrosPerCall([&] { sink = app::SnapshotToSeries(*snapshot, context, 0).size(); });
  (void)sink;

  std::printf(
      "%d containers: %zu series, %zu bytes (old %zu; reserved %zu), gzip %zu bytes in one member, "
      "%zu as the cache's member per family\n",
      containers, series, new_text.size(), old_text.size(), metrics::EstimateTextBytes(*snapshot),
      gzip.size(), cached_gzip_bytes);
  auto row = [&](const char* what, double us, double baseline_us) {
    std::printf("  %-34s %9.0f us/scrape %7.0f ns/series  %6.1fx\n", what, us,
                us * 1e3 / static_cast<double>(series), baseline_us / us);
  };
  row("old: families + TextSerializer", old_us, old_us);
  row("new: streaming writer", new_us, old_us);
  row("new: cached (same snapshot)", hit_us, old_us);
  row("old + gzip", old_gzip_us, old_gzip_us);
  row("new + gzip", new_gzip_us, old_gzip_us);
  row("new: cached, gzip cached", hit_gzip_us, old_gzip_us);
  row("old + relayed inside ours + gzip", old_relayed_gzip_us, old_relayed_gzip_us);
  row("new: cached, relayed inside, gzip", relayed_gzip_us, old_relayed_gzip_us);
  row("remote_write round, old", old_push_us, old_push_us);
  row("remote_write round, new", new_push_us, old_push_us);
}

}  // namespace
}  // namespace podstat

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {300, 1000};
  for (int containers : sizes) podstat::Run(containers);
  return 0;
}
