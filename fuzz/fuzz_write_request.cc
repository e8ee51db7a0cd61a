// Protobuf decoder, label validation and the relay store on arbitrary (uncompressed) bytes.
// Whatever decodes must survive encode -> decode unchanged; ingest and exposition must not crash.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/relay_store.h"

namespace rw = podstat::remote_write;

namespace {

bool SameRequest(const rw::WriteRequest& a, const rw::WriteRequest& b) {
  if (a.timeseries.size() != b.timeseries.size()) return false;
  for (size_t i = 0; i < a.timeseries.size(); ++i) {
    const auto& x = a.timeseries[i];
    const auto& y = b.timeseries[i];
    if (x.labels != y.labels || x.samples.size() != y.samples.size()) return false;
    for (size_t j = 0; j < x.samples.size(); ++j) {
      if (std::bit_cast<uint64_t>(x.samples[j].value) !=
              std::bit_cast<uint64_t>(y.samples[j].value) ||
          x.samples[j].timestamp_ms != y.samples[j].timestamp_ms)
        return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  rw::DecodeLimits limits;
  limits.max_series = 1000;
  limits.max_samples = 10'000;
  limits.max_labels = 10'000;
  rw::WriteRequest request;
  std::string error;
  if (!rw::DecodeWriteRequest(input, request, &error, limits)) {
    if (error.empty()) std::abort();
    return 0;
  }
  rw::WriteRequest again;
  if (!rw::DecodeWriteRequest(rw::EncodeWriteRequest(request), again, &error, limits) ||
      !SameRequest(request, again))
    std::abort();

  rw::RelayOptions options;
  options.allow_metrics = {"container_memory_usage_bytes", "up", "a.*"};
  options.extra_labels = {{"cluster", "fuzz"}};
  options.max_series = 50;
  auto store = rw::RelayStore::Create(options, nullptr);
  if (!store) std::abort();
  rw::WriteRequestView view;
  rw::DecodeWriteRequest(input, view, nullptr, limits);
  const auto now = rw::Clock::now();
  const rw::IngestResult result = store->Ingest(view, now);
  if (result.status == rw::IngestStatus::kInvalid && result.error.empty()) std::abort();
  if (store->Stats().series > options.max_series) std::abort();
  (void)store->RenderExposition(now);
  (void)store->Collect(now);
  // The relay's self-metrics are rendered by app/self_metrics.cc from Stats() (read above): a
  // fixed set of labels whatever the input, covered by the unit tests.
  return 0;
}
