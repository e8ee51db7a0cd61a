// /proc/<pid>/mountinfo parsing: where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on
// unified hosts, /sys/fs/cgroup/unified on hybrid ones).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podstat::procfs {

struct MountEntry {
  std::string root;         // field 4: the mount's root within its filesystem
  std::string mount_point;  // field 5, octal escapes (\040) decoded
  std::string fs_type;      // after the " - " separator
  std::string source;
  std::string super_options;  // last field: for cgroup v1, the controllers ("rw,memory")
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<MountEntry> ParseMountInfo(std::string_view text);

// The mount point of the first cgroup2 filesystem mounted at its root, if any.
std::optional<std::string> FindCgroup2Mount(const std::vector<MountEntry>& mounts);

// The mount point of the cgroup v1 hierarchy that has `controller` ("memory", "cpuacct"), which
// may be co-mounted ("cpu,cpuacct"), mounted at its root.
std::optional<std::string> FindCgroup1Mount(const std::vector<MountEntry>& mounts,
                                            std::string_view controller);

}  // namespace podstat::procfs
