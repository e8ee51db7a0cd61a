// The whole /api/v1/write path (snappy, protobuf, validation, a regex allow-list, ingest,
// exposition) on an arbitrary body, run on a thread with the stack of a civetweb worker (100 KiB),
// where the agent's HTTP handlers run. A matcher or decoder that recurses per input byte
// (std::regex did: a 300-byte metric name against `container_.*` overflowed that stack and killed
// the agent) crashes here instead of passing on the fuzzer's own 8 MiB main stack.
#include <pthread.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "podstat/remote_write/receiver.h"

namespace rw = podstat::remote_write;

namespace {

// civetweb's worker stack (its USE_STACK_SIZE, 102400 bytes).
constexpr size_t kWorkerStackBytes = 100 * 1024;

struct Job {
  std::string_view body;
};

void* Run(void* arg) {
  const Job& job = *static_cast<const Job*>(arg);
  rw::RelayOptions options;
  // Plain names go through a hash set; these go through the regex matcher.
  options.allow_metrics = {"container_.*", "node_(cpu|memory)_.+_total", "(up|scrape_.*)",
                           "[a-z]+:[a-z_]+:(rate|sum)[0-9]+m"};
  options.max_series = 100;
  options.max_bytes = 1 << 20;
  auto store = rw::RelayStore::Create(options, nullptr);
  if (!store) std::abort();
  rw::ReceiverLimits limits;
  limits.max_body_bytes = 1 << 20;
  limits.max_decoded_bytes = 4 << 20;
  limits.decode.max_series = 5000;
  limits.decode.max_samples = 20'000;
  limits.decode.max_labels = 50'000;
  const rw::ReceiverResponse response = rw::HandleWrite("application/x-protobuf", "snappy",
                                                        job.body, limits, *store, rw::Clock::now());
  switch (response.status) {
    case 204:
      if (!response.body.empty() || !response.reason.empty()) std::abort();
      break;
    case 400:
    case 413:
    case 429:
      if (response.body.empty() || response.reason.empty()) std::abort();
      break;
    default:
      std::abort();
  }
  (void)store->RenderExposition(rw::Clock::now());
  (void)store->RenderSelfMetrics();
  return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Job job{std::string_view(reinterpret_cast<const char*>(data), size)};
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, kWorkerStackBytes) != 0)
    std::abort();
  pthread_t thread;
  if (pthread_create(&thread, &attr, Run, &job) != 0) std::abort();
  pthread_attr_destroy(&attr);
  pthread_join(thread, nullptr);
  return 0;
}
