// Snappy decoder on arbitrary bytes: no crash, no read or write out of bounds, no allocation
// beyond the cap; whatever decodes, and any input at all, must round-trip through our encoder.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "podstat/remote_write/snappy.h"

using podstat::remote_write::SnappyCompress;
using podstat::remote_write::SnappyUncompress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxOutput = 1 << 20;
  std::string error;
  std::string decoded;
  if (SnappyUncompress(input, kMaxOutput, decoded, &error)) {
    std::string again;
    if (!SnappyUncompress(SnappyCompress(decoded), kMaxOutput, again, &error) || again != decoded)
      std::abort();
  } else if (error.empty()) {
    std::abort();  // every failure must say why
  }
  std::string back;
  if (!SnappyUncompress(SnappyCompress(input), size, back, &error) || back != input) std::abort();
  return 0;
}
