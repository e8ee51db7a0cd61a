// Writes a seed corpus for one fuzz target, made by our encoder: valid requests of several shapes
// (so the fuzzer starts deep inside the decoders), raw for fuzz_write_request, snappy-compressed
// for fuzz_receiver, both (and some text) for fuzz_snappy.
//   fuzz_seed_corpus <target> <directory>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/snappy.h"

namespace rw = podstat::remote_write;

namespace {

std::vector<rw::WriteRequest> Requests() {
  std::vector<rw::WriteRequest> requests;
  rw::WriteRequest up;
  up.timeseries.push_back({{{"__name__", "up"}}, {{1, 1000}}});
  requests.push_back(up);

  rw::WriteRequest containers;
  for (int i = 0; i < 20; ++i) {
    containers.timeseries.push_back(
        {{{"__name__", i % 2 ? "container_memory_usage_bytes" : "container_fs_usage_bytes"},
          {"namespace", "default"},
          {"pod", "nginx-deployment-585449566-" + std::to_string(i)},
          {"job", "cadvisor"}},
         {{229376.0 * i, 1700000000000 + i}}});
  }
  requests.push_back(containers);

  rw::WriteRequest special;
  special.timeseries.push_back({{{"__name__", "container_memory_usage_bytes"}, {"pod", "ü\"\\\n"}},
                                {{std::numeric_limits<double>::quiet_NaN(), 5},
                                 {std::numeric_limits<double>::infinity(), 4},
                                 {rw::StaleMarker(), 6}}});
  special.timeseries.push_back({{{"pod", "unsorted"}, {"__name__", "up"}, {"empty", ""}}, {}});
  requests.push_back(special);

  // Long names against the regex allow-list of fuzz_receiver_small_stack: a matcher that recurses
  // per character overflows a 100 KiB stack on these.
  rw::WriteRequest long_names;
  long_names.timeseries.push_back(
      {{{"__name__", "container_" + std::string(400, 'a')}, {"id", "/x"}}, {{1, 1700000000000}}});
  long_names.timeseries.push_back(
      {{{"__name__", "node_cpu_" + std::string(1500, 'b') + "_total"}}, {{1, 1700000000000}}});
  requests.push_back(long_names);

  rw::WriteRequest invalid;
  invalid.timeseries.push_back({{{"__name__", "up"}, {"a", "1"}, {"a", "2"}}, {{1, 1}}});
  invalid.timeseries.push_back({{{"no_name", "x"}}, {{1, 1}}});
  requests.push_back(invalid);
  return requests;
}

// Unknown fields of every wire type around a valid request.
std::string WithUnknownFields(const std::string& encoded) {
  std::string out = "\x1a\x03met";                // WriteRequest.metadata
  out += std::string("\x38\x96\x01", 3);          // field 7 varint
  out += std::string("\x45\x01\x02\x03\x04", 5);  // field 8 fixed32
  return out + encoded;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <target> <directory>\n", argv[0]);
    return 2;
  }
  const std::string target = argv[1];
  const std::string dir = argv[2];
  std::vector<std::string> seeds;
  for (const rw::WriteRequest& request : Requests()) {
    const std::string encoded = rw::EncodeWriteRequest(request);
    if (target == "fuzz_write_request") {
      seeds.push_back(encoded);
      seeds.push_back(WithUnknownFields(encoded));
    } else {
      seeds.push_back(rw::SnappyCompress(encoded));
      seeds.push_back(rw::SnappyCompress(WithUnknownFields(encoded)));
    }
  }
  if (target == "fuzz_snappy") {
    seeds.push_back(rw::SnappyCompress(std::string(300, 'a')));
    seeds.push_back(rw::SnappyCompress("abcdefghabcdefghabcdefghabcdefgh and some text to copy"));
  }
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream(dir + "/seed-" + std::to_string(i), std::ios::binary) << seeds[i];
  }
  std::printf("%zu seeds in %s\n", seeds.size(), dir.c_str());
  return 0;
}
