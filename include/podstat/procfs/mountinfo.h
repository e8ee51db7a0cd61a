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
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<MountEntry> ParseMountInfo(std::string_view text);

// The mount point of the first cgroup2 filesystem mounted at its root, if any.
std::optional<std::string> FindCgroup2Mount(const std::vector<MountEntry>& mounts);

}  // namespace podstat::procfs
