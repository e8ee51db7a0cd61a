#include "podstat/cgroup/resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::cgroup {

std::optional<std::string> FindCgroup2Root(const HostPaths& paths, std::string* error) {
  for (const char* candidate : {"fs/cgroup", "fs/cgroup/unified"}) {
    const std::string path = paths.Sys(candidate);
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return path;
  }
  if (error) {
    *error = "no cgroup v2 hierarchy at " + paths.Sys("fs/cgroup") + " or " +
             paths.Sys("fs/cgroup/unified") + " (is cgroup2 mounted?)";
  }
  return std::nullopt;
}

CgroupResolver::CgroupResolver(std::string root, Options options)
    : root_(std::move(root)), options_(options) {}

bool CgroupResolver::StillThere(uint64_t id, const std::string& path) const {
  struct stat st {};
  const std::string full = path == "/" ? root_ : root_ + path;
  return ::stat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == id;
}

CgroupResolver::HandleResult CgroupResolver::LookupByHandle(uint64_t id, std::string* path) {
  if (!handles_supported_) return HandleResult::kUnsupported;
  if (!root_fd_) {
    root_fd_.Reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // Kernfs handles mean something only on cgroupfs; elsewhere (a test's temp tree) every
    // handle is "stale", which must not be taken for "no such cgroup".
    struct statfs fs {};
    if (!root_fd_ || ::fstatfs(root_fd_.get(), &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
      handles_supported_ = false;
      return HandleResult::kUnsupported;
    }
  }
  // struct file_handle ends in a flexible array: a kernfs handle is the 8-byte node id.
  constexpr int kFileIdKernfs = 0xfe;  // FILEID_KERNFS in include/linux/exportfs.h
  alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof(uint64_t)] = {};
  auto* handle = reinterpret_cast<file_handle*>(storage);
  handle->handle_bytes = sizeof(uint64_t);
  handle->handle_type = kFileIdKernfs;
  std::memcpy(handle->f_handle, &id, sizeof(id));
  UniqueFd fd(::open_by_handle_at(root_fd_.get(), handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ESTALE || errno == ENOENT) return HandleResult::kAbsent;
    handles_supported_ = false;  // EPERM (no CAP_DAC_READ_SEARCH), EOPNOTSUPP, EINVAL
    return HandleResult::kUnsupported;
  }
  const auto target = ReadLink("/proc/self/fd/" + std::to_string(fd.get()));
  if (!target || target->ends_with(" (deleted)")) return HandleResult::kAbsent;
  if (*target == root_) {
    path->assign(1, '/');  // not `= "/"`: GCC 12 -O2 reports a false -Wrestrict (GCC PR 105329)
  } else if (target->starts_with(root_ + "/")) {
    *path = target->substr(root_.size());
  } else {
    return HandleResult::kAbsent;  // another cgroup2 mount's view; the walk decides
  }
  return StillThere(id, *path) ? HandleResult::kFound : HandleResult::kAbsent;
}

void CgroupResolver::ExpireNegatives(Clock::time_point now) {
  std::erase_if(negative_, [now](const auto& entry) { return entry.second <= now; });
}

std::optional<std::string> CgroupResolver::Resolve(uint64_t id) {
  if (const auto it = paths_.find(id); it != paths_.end()) {
    if (StillThere(id, it->second)) return it->second;
    paths_.erase(it);  // removed (or renamed: the rescan below finds the new name)
  }
  const Clock::time_point now = Clock::now();
  if (const auto it = negative_.find(id); it != negative_.end()) {
    if (it->second > now) return std::nullopt;
    negative_.erase(it);
  }
  std::string found;
  switch (LookupByHandle(id, &found)) {
    case HandleResult::kFound:
      paths_[id] = found;
      return found;
    case HandleResult::kAbsent:
      negative_[id] = now + options_.negative_ttl;
      return std::nullopt;
    case HandleResult::kUnsupported:
      break;  // walk instead
  }
  // Rate-limited: say "unknown for now" without a negative entry, so a cgroup created since the
  // last walk is found by the next allowed walk instead of hiding for a whole negative TTL.
  if (now - last_rescan_ < options_.min_rescan_interval) return std::nullopt;
  Rescan();
  if (const auto it = paths_.find(id); it != paths_.end()) return it->second;
  negative_[id] = now + options_.negative_ttl;
  return std::nullopt;
}

bool CgroupResolver::CertainlyGone(uint64_t id, Clock::time_point existed_at) {
  if (handles_supported_) {
    std::string path;
    switch (LookupByHandle(id, &path)) {
      case HandleResult::kFound:
        return false;
      case HandleResult::kAbsent:
        return true;
      case HandleResult::kUnsupported:
        break;  // refused just now: the walk decides
    }
  }
  return last_walk_complete_ && last_rescan_ > existed_at && !paths_.contains(id);
}

size_t CgroupResolver::Rescan() {
  last_rescan_ = Clock::now();
  ++rescans_;
  ExpireNegatives(last_rescan_);
  // A directory that cannot be read (EMFILE, EACCES...) hides its subtree: then this walk proves
  // nothing about ids it did not find.
  bool complete = true;

  std::unordered_map<uint64_t, std::string> found;
  // Iterative walk with one open directory fd per level at most; fstatat on each child.
  struct Pending {
    std::string path;  // relative to root_, "/" for the root
  };
  std::vector<Pending> stack{{"/"}};
  while (!stack.empty()) {
    Pending current = std::move(stack.back());
    stack.pop_back();
    const std::string full = current.path == "/" ? root_ : root_ + current.path;
    UniqueFd dir_fd(::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) {
      if (errno != ENOENT) complete = false;  // else removed while we walked
      continue;
    }
    struct stat st {};
    if (::fstat(dir_fd.get(), &st) != 0) {
      complete = false;
      continue;
    }
    found.emplace(st.st_ino, current.path);

    DIR* dir = ::fdopendir(dir_fd.get());
    if (!dir) {
      complete = false;
      continue;
    }
    dir_fd.Release();  // now owned by dir
    for (;;) {
      errno = 0;  // readdir returns null at the end and on error; only an error sets errno
      const dirent* entry = ::readdir(dir);
      if (!entry) break;
      if (entry->d_type != DT_DIR) continue;  // cgroupfs always fills d_type
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      // Appended in place: for `"/" + std::string(name)` GCC 12 -O2 reports a false -Wrestrict
      // (GCC PR 105329, via operator+(const char*, string&&)).
      std::string child = current.path == "/" ? std::string() : current.path;
      child += '/';
      child += name;
      stack.push_back({std::move(child)});
    }
    if (errno != 0 && errno != ENOENT) complete = false;  // ENOENT: removed while being read
    ::closedir(dir);
  }
  last_walk_complete_ = complete;
  paths_ = std::move(found);
  for (const auto& [id, path] : paths_) negative_.erase(id);
  return paths_.size();
}

}  // namespace podstat::cgroup
