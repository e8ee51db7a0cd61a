#include "podstat/bpf/libbpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

namespace podstat::bpf {

std::string LibbpfError(int err) {
  char buffer[128];
  libbpf_strerror(err, buffer, sizeof(buffer));
  return buffer;
}

std::vector<uint64_t> SumPerCpuCounters(int map_fd, uint32_t count, size_t cpus) {
  std::vector<uint64_t> totals(count, 0);
  std::vector<uint64_t> per_cpu(cpus);
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (cpus == 0 || bpf_map_lookup_elem(map_fd, &slot, per_cpu.data()) != 0) continue;
    for (uint64_t value : per_cpu) totals[slot] += value;
  }
  return totals;
}

void MapPins::Pin(const std::string& dir, std::initializer_list<bpf_map*> maps, Logger& logger) {
  ::mkdir(dir.c_str(), 0700);
  dir_ = dir;
  for (bpf_map* map : maps) {
    const std::string path = dir + "/" + bpf_map__name(map);
    ::unlink(path.c_str());
    if (int err = bpf_map__pin(map, path.c_str()); err) {
      logger.Warn("bpf", "pinning ", path, " failed: ", LibbpfError(err),
                  " (is a bpf filesystem mounted at /sys/fs/bpf?)");
    } else {
      paths_.push_back(path);
      logger.Info("bpf", "pinned ", path);
    }
  }
}

MapPins::~MapPins() {
  for (const std::string& path : paths_) ::unlink(path.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());  // fails harmlessly while other pins remain
}

}  // namespace podstat::bpf
