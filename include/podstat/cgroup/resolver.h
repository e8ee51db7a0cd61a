// cgroup v2 id -> path. A cgroup's id is the inode number of its directory in the v2 hierarchy,
// which is what BPF reads from sk->sk_cgrp_data and what sock_diag reports; paths are what users
// (and the container-identity layer) understand.
//
// A miss is answered first by open_by_handle_at() with the id as a kernfs file handle (the way
// systemd and bpftool do it): one syscall and a readlink, no walk, so a new container resolves in
// the collection that first sees it. Where handles are refused (no CAP_DAC_READ_SEARCH, old
// kernels), the resolver walks instead.
//
// The resolver walks the hierarchy once and caches the whole id -> path table. A cached answer is
// re-checked with one stat() (the directory must still exist with the same inode), so a removed
// cgroup stops resolving at once and its series vanish from the next snapshot. Unknown ids go to a
// negative cache with an expiry; a miss triggers a rescan at most once per rescan interval. The
// table is rebuilt, not appended to, on every rescan, so churn does not grow it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "podstat/util/fd.h"
#include "podstat/util/host_paths.h"

namespace podstat::cgroup {

// The cgroup v2 mount: <sysfs>/fs/cgroup on unified hosts, <sysfs>/fs/cgroup/unified on hybrid
// ones (checked with statfs for the cgroup2 magic). nullopt with *error when there is none.
std::optional<std::string> FindCgroup2Root(const HostPaths& paths, std::string* error);

class CgroupResolver {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds min_rescan_interval{1000};
    std::chrono::milliseconds negative_ttl{30000};
  };

  CgroupResolver(std::string root, Options options);
  explicit CgroupResolver(std::string root) : CgroupResolver(std::move(root), Options{}) {}

  // "/" for the root, "/a/b" below it; nullopt when no cgroup has this id (now).
  std::optional<std::string> Resolve(uint64_t id);

  // Walks the hierarchy now and replaces the table; returns the number of cgroups found.
  size_t Rescan();

  // Whether `id` certainly names no cgroup any more, so that state kept for it may be dropped:
  // its kernfs handle says so, or (where handles are refused) a walk that began after
  // `existed_at` and read every directory did not find it. Cgroup ids are never reused, so either
  // is final. A cgroup made after the last walk is never "gone" (it may simply be new).
  bool CertainlyGone(uint64_t id, Clock::time_point existed_at);

  const std::string& root() const { return root_; }
  // Every cgroup of the last walk, as (id, path).
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const auto& [id, path] : paths_) visit(id, path);
  }
  bool handles_supported() const { return handles_supported_; }
  size_t cached() const { return paths_.size(); }
  size_t negative_cached() const { return negative_.size(); }
  uint64_t rescans() const { return rescans_; }
  // Whether the last walk read every directory (none failed but for removal meanwhile).
  bool last_walk_complete() const { return last_walk_complete_; }

 private:
  bool StillThere(uint64_t id, const std::string& path) const;
  enum class HandleResult { kFound, kAbsent, kUnsupported };
  HandleResult LookupByHandle(uint64_t id, std::string* path);
  void ExpireNegatives(Clock::time_point now);

  std::string root_;
  Options options_;
  std::unordered_map<uint64_t, std::string> paths_;
  std::unordered_map<uint64_t, Clock::time_point> negative_;  // id -> when it expires
  Clock::time_point last_rescan_{};
  bool last_walk_complete_ = false;
  uint64_t rescans_ = 0;
  bool handles_supported_ = true;
  UniqueFd root_fd_;  // mount fd for open_by_handle_at
};

}  // namespace podstat::cgroup
