#include "podstat/procfs/mountinfo.h"

#include "podstat/util/strings.h"

namespace podstat::procfs {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string DecodeOctalEscapes(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const auto value = ParseUint64(text.substr(i + 1, 3), 8);
      if (value && *value < 256) {
        decoded += static_cast<char>(*value);
        i += 3;
        continue;
      }
    }
    decoded += text[i];
  }
  return decoded;
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  for (std::string_view line : SplitLines(text)) {
    const auto fields = SplitFields(line, " ");
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    size_t separator = 0;
    for (size_t i = 6; i < fields.size(); ++i) {
      if (fields[i] == "-") {
        separator = i;
        break;
      }
    }
    if (separator == 0 || separator + 2 >= fields.size()) continue;
    mounts.push_back(MountEntry{
        DecodeOctalEscapes(fields[3]), DecodeOctalEscapes(fields[4]),
        std::string(fields[separator + 1]), DecodeOctalEscapes(fields[separator + 2]),
        separator + 3 < fields.size() ? std::string(fields[separator + 3]) : std::string()});
  }
  return mounts;
}

std::optional<std::string> FindCgroup2Mount(const std::vector<MountEntry>& mounts) {
  for (const MountEntry& mount : mounts) {
    if (mount.fs_type == "cgroup2" && mount.root == "/") return mount.mount_point;
  }
  return std::nullopt;
}

}  // namespace podstat::procfs

namespace podstat::procfs {

std::optional<std::string> FindCgroup1Mount(const std::vector<MountEntry>& mounts,
                                            std::string_view controller) {
  for (const MountEntry& mount : mounts) {
    if (mount.fs_type != "cgroup" || mount.root != "/") continue;
    for (std::string_view option : SplitFields(mount.super_options, ",")) {
      if (option == controller) return mount.mount_point;
    }
  }
  return std::nullopt;
}

}  // namespace podstat::procfs
