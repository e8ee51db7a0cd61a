// Where the host's /proc and /sys are. In a container the agent sees the host's through bind
// mounts (--path.procfs=/host/proc ...); every /proc and /sys path is built through this.
#pragma once

#include <string>
#include <string_view>

namespace podstat {

struct HostPaths {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";
  std::string rootfs = "/";

  // Proc("net/tcp") -> "/proc/net/tcp"; Proc(pid, "ns/net") -> "/proc/<pid>/ns/net".
  std::string Proc(std::string_view relative) const { return Join(procfs, relative); }
  std::string Proc(int pid, std::string_view relative) const {
    return Join(procfs, std::to_string(pid) + "/" + std::string(relative));
  }
  std::string Sys(std::string_view relative) const { return Join(sysfs, relative); }
  std::string Root(std::string_view relative) const { return Join(rootfs, relative); }

  static std::string Join(std::string_view base, std::string_view relative) {
    std::string path(base);
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
    if (path != "/") path += '/';
    path += relative;
    return path;
  }
};

}  // namespace podstat
