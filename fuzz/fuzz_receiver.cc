// The whole /api/v1/write path on an arbitrary body: snappy, protobuf, validation, ingest. Every
// answer must be one of the documented codes with a reason for each error.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "podstat/remote_write/receiver.h"

namespace rw = podstat::remote_write;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  rw::RelayOptions options;
  options.max_series = 100;
  auto store = rw::RelayStore::Create(options, nullptr);
  if (!store) std::abort();
  rw::ReceiverLimits limits;
  limits.max_body_bytes = 1 << 20;
  limits.max_decoded_bytes = 4 << 20;
  limits.decode.max_series = 5000;
  limits.decode.max_samples = 20'000;
  limits.decode.max_labels = 50'000;
  const rw::ReceiverResponse response =
      rw::HandleWrite("application/x-protobuf", "snappy", body, limits, *store, rw::Clock::now());
  switch (response.status) {
    case 204:
      if (!response.body.empty()) std::abort();
      break;
    case 400:
    case 413:
    case 429:
      if (response.body.empty()) std::abort();
      break;
    default:
      std::abort();
  }
  return 0;
}
