// Pieces every BPF loader shares: libbpf error text, and pinning maps for bpftool.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "podstat/util/log.h"

struct bpf_map;

namespace podstat::bpf {

// libbpf_strerror() as a std::string.
std::string LibbpfError(int err);

// Sums each slot of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 counters (slots 0..count-1) over
// `cpus` possible CPUs. A slot that cannot be read counts 0.
std::vector<uint64_t> SumPerCpuCounters(int map_fd, uint32_t count, size_t cpus);

// Maps pinned under a directory (--bpf.pin) so `bpftool map dump pinned ...` shows live state.
// Pinned after load, never reused at load: a map left by an earlier agent holds that agent's
// state, so stale pins are replaced, not adopted. Unpinned on destruction, and the directory
// removed once empty (several programs share it; the last one out removes it).
class MapPins {
 public:
  MapPins() = default;
  MapPins(const MapPins&) = delete;
  MapPins& operator=(const MapPins&) = delete;
  ~MapPins();

  // Failures are logged, not fatal: pinning is an inspection aid.
  void Pin(const std::string& dir, std::initializer_list<bpf_map*> maps, Logger& logger);

 private:
  std::vector<std::string> paths_;
  std::string dir_;
};

}  // namespace podstat::bpf
