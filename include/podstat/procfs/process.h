// Per-process facts from /proc: which cgroup v2 path and which network namespace a process is in,
// and the list of namespaces on the host. A pid that vanished between listing and reading is
// normal: the functions return nullopt or skip it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/util/host_paths.h"

namespace podstat::procfs {

// The cgroup v2 path ("0::/a/b" line) of /proc/<pid>/cgroup text, e.g. "/a/b".
std::optional<std::string> ParseCgroupV2Path(std::string_view proc_pid_cgroup);

// The inode in a namespace link target such as "net:[4026531840]".
std::optional<uint64_t> ParseNamespaceInode(std::string_view link_target);

std::optional<uint64_t> NetworkNamespaceOf(const HostPaths& paths, pid_t pid);
std::optional<std::string> CgroupV2PathOf(const HostPaths& paths, pid_t pid);

// Every pid directory under procfs, ascending.
std::vector<pid_t> ListPids(const HostPaths& paths);

struct NetworkNamespace {
  uint64_t inode = 0;
  pid_t lowest_pid = 0;  // a process in it: the oldest one, usually the sandbox or init
};

// One entry per distinct network namespace of the host's processes, ordered by inode. Costs one
// readlink per process: call it off the scrape path and cache.
std::vector<NetworkNamespace> ListNetworkNamespaces(const HostPaths& paths);

}  // namespace podstat::procfs
