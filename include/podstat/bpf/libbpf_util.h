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

// Where a bpf filesystem is mounted when a pin directory below it has none (as systemd does).
inline constexpr char kBpffsMountPoint[] = "/sys/fs/bpf";

// Makes sure the directory that will hold `pin_dir` is on a bpf filesystem, so maps can be pinned
// there. When it is not and `pin_dir` lies under /sys/fs/bpf, mounts one at /sys/fs/bpf (mode
// 0700, as systemd does at boot) and logs at info level that it did and why; the mount is left in
// place, as systemd leaves it. Returns false, after a warning, when there is no bpf filesystem
// for `pin_dir` and none could be mounted (no privilege, no /sys/fs/bpf, or `pin_dir` elsewhere):
// the caller then goes on unpinned. MapPins::Pin calls it; an agent may call it earlier.
bool EnsureBpffsForPins(const std::string& pin_dir, Logger& logger);

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

  // Failures are logged, not fatal: pinning is an inspection aid. Mounts a bpf filesystem first
  // if `dir` needs one (EnsureBpffsForPins).
  void Pin(const std::string& dir, std::initializer_list<bpf_map*> maps, Logger& logger);

 private:
  std::vector<std::string> paths_;
  std::string dir_;
};

}  // namespace podstat::bpf
