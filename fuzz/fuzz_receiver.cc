// The whole /api/v1/write path on an arbitrary body: snappy, protobuf, validation, ingest. Every
// answer must be one of the documented codes with a reason for each error.
#include <cstdint>
#include <string_view>

#include "receiver_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  podstat::fuzz::FuzzOneWrite(std::string_view(reinterpret_cast<const char*>(data), size), {});
  return 0;
}
