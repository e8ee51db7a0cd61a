// remote_write throughput on one core, against DESIGN.md section 8:
//   decode + ingest >= 1 M samples/s   (snappy uncompress, protobuf decode, validation, relay
//   store) encode          >= 2 M samples/s   (protobuf encode, snappy compress)
// Workload: cAdvisor-like container series (11 labels, ~400 bytes each), one sample per series per
// round, requests of 2000 samples (Prometheus's default batch). Each decode pass starts from an
// empty store and replays 10 rounds, so it pays for creating the series once and then updates
// them, as a relay does. Time is the thread's CPU time, so other load on the machine matters
// less.
#include <time.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/receiver.h"
#include "podstat/remote_write/relay_store.h"
#include "podstat/remote_write/snappy.h"

namespace podstat::remote_write {
namespace {

constexpr int kSeries = 10'000;
constexpr int kRounds = 10;
constexpr size_t kBatch = 2000;
constexpr double kMinSeconds = 2.0;
constexpr double kDecodeTarget = 1e6;
constexpr double kEncodeTarget = 2e6;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string Hex(std::mt19937_64& rng, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < digits; ++i) out += kDigits[rng() % 16];
  return out;
}

// Series in the shape cAdvisor and seed 004 produce; the five allowed metric names.
std::vector<TimeSeries> MakeRound(int round, std::mt19937_64& rng) {
  const auto names = DefaultAllowMetrics();
  std::vector<TimeSeries> series;
  series.reserve(kSeries);
  std::mt19937_64 ids(1);  // same identities every round
  for (int i = 0; i < kSeries; ++i) {
    const std::string pod = "nginx-deployment-585449566-" + Hex(ids, 5) + std::to_string(i / 5);
    const std::string container_id = Hex(ids, 64);
    TimeSeries& s = series.emplace_back();
    s.labels = {{"__name__", names[static_cast<size_t>(i) % names.size()]},
                {"cluster", "k8s-cluster"},
                {"container", "nginx"},
                {"id", "/kubepods/burstable/pod" + Hex(ids, 32) + "/" + container_id},
                {"image", "docker.io/library/nginx:1.25"},
                {"instance", "10.0.3." + std::to_string(i % 250) + ":8080"},
                {"job", "kubernetes-cadvisor"},
                {"name", "k8s_nginx_" + pod},
                {"namespace", "default"},
                {"node", "worker-" + std::to_string(i % 40)},
                {"pod", pod}};
    s.samples = {{static_cast<double>(rng() % 1'000'000'000), 1'700'000'000'000 + round * 15'000}};
  }
  return series;
}

std::vector<WriteRequest> Batches(const std::vector<TimeSeries>& series) {
  std::vector<WriteRequest> batches;
  for (size_t i = 0; i < series.size(); i += kBatch) {
    WriteRequest& request = batches.emplace_back();
    for (size_t j = i; j < std::min(series.size(), i + kBatch); ++j)
      request.timeseries.push_back(series[j]);
  }
  return batches;
}

void Report(const char* what, double samples, double seconds, double target) {
  const double rate = samples / seconds;
  if (target > 0) {
    std::printf("%-34s %8.2f M samples/s   target %.1f M/s   ratio %.2fx  %s\n", what, rate / 1e6,
                target / 1e6, rate / target, rate >= target ? "OK" : "BELOW TARGET");
  } else {
    std::printf("%-34s %8.2f M samples/s\n", what, rate / 1e6);
  }
}

int Run() {
  std::mt19937_64 rng(42);
  std::vector<std::vector<WriteRequest>> rounds;
  std::vector<std::string> bodies;
  size_t raw_bytes = 0;
  for (int round = 0; round < kRounds; ++round) {
    rounds.push_back(Batches(MakeRound(round, rng)));
    for (const WriteRequest& request : rounds.back()) {
      const std::string raw = EncodeWriteRequest(request);
      raw_bytes += raw.size();
      bodies.push_back(SnappyCompress(raw));
    }
  }
  size_t body_bytes = 0;
  for (const std::string& body : bodies) body_bytes += body.size();
  const double samples_per_pass = static_cast<double>(kSeries) * kRounds;
  std::printf(
      "workload: %d series x %d rounds, %zu requests of %zu samples, %.0f bytes/sample "
      "raw, snappy ratio %.1fx\n",
      kSeries, kRounds, bodies.size(), kBatch, static_cast<double>(raw_bytes) / samples_per_pass,
      static_cast<double>(raw_bytes) / static_cast<double>(body_bytes));

  // decode + ingest: the receiver's whole path (Receiver::Handle, pooled buffers), fresh store per
  // pass.
  ReceiverLimits limits;
  double samples = 0, seconds = 0;
  size_t stored = 0;
  while (seconds < kMinSeconds) {
    RelayOptions options;
    options.extra_labels = {{"cluster", "podstat"}};
    auto store = RelayStore::Create(options, nullptr);
    Receiver receiver(*store, limits);
    const auto now = Clock::now();
    const double start = CpuSeconds();
    for (const std::string& body : bodies) {
      const ReceiverResponse response =
          receiver.Handle("application/x-protobuf", "snappy", body, now);
      if (response.status != 204) {
        std::fprintf(stderr, "unexpected %d: %s\n", response.status, response.body.c_str());
        return 1;
      }
    }
    seconds += CpuSeconds() - start;
    samples += samples_per_pass;
    stored = store->Stats().series;
  }
  if (stored != static_cast<size_t>(kSeries)) {
    std::fprintf(stderr, "store holds %zu series, expected %d\n", stored, kSeries);
    return 1;
  }
  Report("decode+ingest (Receiver::Handle)", samples, seconds, kDecodeTarget);

  // Its parts, for where the time goes.
  samples = seconds = 0;
  std::vector<std::string> raws(bodies.size());
  while (seconds < kMinSeconds / 2) {
    const double start = CpuSeconds();
    for (size_t i = 0; i < bodies.size(); ++i)
      SnappyUncompress(bodies[i], 1 << 26, raws[i], nullptr);
    seconds += CpuSeconds() - start;
    samples += samples_per_pass;
  }
  Report("  snappy uncompress", samples, seconds, 0);
  samples = seconds = 0;
  WriteRequestView view;
  while (seconds < kMinSeconds / 2) {
    const double start = CpuSeconds();
    for (const std::string& raw : raws) DecodeWriteRequest(raw, view, nullptr);
    seconds += CpuSeconds() - start;
    samples += samples_per_pass;
  }
  Report("  protobuf decode (view)", samples, seconds, 0);

  // encode: what the sender does per batch.
  samples = seconds = 0;
  size_t sink = 0;
  std::string raw, compressed;  // reused, as the sender's worker does
  while (seconds < kMinSeconds) {
    const double start = CpuSeconds();
    for (const auto& round : rounds) {
      for (const WriteRequest& request : round) {
        EncodeWriteRequest(request, raw);
        SnappyCompress(raw, compressed);
        sink += compressed.size();
      }
    }
    seconds += CpuSeconds() - start;
    samples += samples_per_pass;
  }
  Report("encode (protobuf + snappy)", samples, seconds, kEncodeTarget);
  samples = seconds = 0;
  while (seconds < kMinSeconds / 2) {
    const double start = CpuSeconds();
    for (const auto& round : rounds) {
      for (const WriteRequest& request : round) {
        EncodeWriteRequest(request, raw);
        sink += raw.size();
      }
    }
    seconds += CpuSeconds() - start;
    samples += samples_per_pass;
  }
  Report("  protobuf encode", samples, seconds, 0);
  return sink > 0 ? 0 : 1;
}

}  // namespace
}  // namespace podstat::remote_write

int main() { return podstat::remote_write::Run(); }
