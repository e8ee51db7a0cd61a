// The whole /api/v1/write path (snappy, protobuf, validation, a regex allow-list, ingest,
// exposition) on an arbitrary body, run on a thread with a 100 KiB stack (what the civetweb
// workers that ran the handlers had; the Asio pool's threads now have glibc's 8 MiB, so this is a
// margin of 80x). A matcher or decoder that recurses per input byte
// (std::regex did: a 300-byte metric name against `container_.*` overflowed that stack and killed
// the agent) crashes here instead of passing on the fuzzer's own 8 MiB main stack.
#include <pthread.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "receiver_harness.h"

namespace {

// civetweb's worker stack (its USE_STACK_SIZE, 102400 bytes), kept as the bound.
constexpr size_t kWorkerStackBytes = 100 * 1024;

struct Job {
  std::string_view body;
};

void* Run(void* arg) {
  const Job& job = *static_cast<const Job*>(arg);
  // Plain names go through a hash set; these go through the regex matcher.
  podstat::fuzz::FuzzOneWrite(job.body, {"container_.*", "node_(cpu|memory)_.+_total",
                                         "(up|scrape_.*)", "[a-z]+:[a-z_]+:(rate|sum)[0-9]+m"});
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
