#include "podstat/bpf/libbpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "podstat/util/fd.h"

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

namespace {

bool IsBpffs(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

// `path` without trailing slashes ("/" stays "/").
std::string Trimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The deepest existing directory on the way to `path` (itself if it exists): the filesystem
// that would hold what is created below it.
std::string NearestExisting(std::string path) {
  struct stat st {};
  while (::stat(path.c_str(), &st) != 0) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    path.resize(slash);
  }
  return path;
}

}  // namespace

bool EnsureBpffsForPins(const std::string& pin_dir, Logger& logger) {
  const std::string dir = Trimmed(pin_dir);
  const std::string holder = NearestExisting(dir);
  if (IsBpffs(holder)) return true;
  const std::string mount_point = kBpffsMountPoint;
  if (dir != mount_point && !dir.starts_with(mount_point + "/")) {
    logger.Warn("bpf", "cannot pin maps under ", dir, ": ", holder,
                " is not on a bpf filesystem (mount one there, or pin under ", mount_point,
                "); maps stay unpinned");
    return false;
  }
  // Check and mount under an exclusive lock on the directory underneath, so that two processes
  // starting together (agents, or tests running side by side) do not stack two mounts, the
  // second hiding the first one's pins. The one that waited sees the mount by path afterwards.
  UniqueFd lock(::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (lock) static_cast<void>(::flock(lock.get(), LOCK_EX));
  if (IsBpffs(mount_point)) return true;
  // The options systemd uses for this mount at boot.
  if (::mount("bpf", mount_point.c_str(), "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") !=
      0) {
    const int err = errno;
    logger.Warn("bpf", "no bpf filesystem at ", mount_point, " to pin maps under ", dir,
                ", and mounting one failed: ", std::strerror(err),
                err == EPERM ? " (mounting needs CAP_SYS_ADMIN)" : "", "; maps stay unpinned");
    return false;
  }
  logger.Info("bpf", "mounted a bpf filesystem at ", mount_point,
              " (mode 0700, as systemd does) because pinning maps under ", dir,
              " needs one and none was mounted; it stays mounted after podstat exits");
  return true;
}

void MapPins::Pin(const std::string& dir, std::initializer_list<bpf_map*> maps, Logger& logger) {
  if (!EnsureBpffsForPins(dir, logger)) return;
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
