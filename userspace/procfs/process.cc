#include "podstat/procfs/process.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <memory>

#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::procfs {

std::optional<std::string> ParseCgroupV2Path(std::string_view proc_pid_cgroup) {
  for (std::string_view line : SplitLines(proc_pid_cgroup)) {
    if (line.starts_with("0::")) return std::string(line.substr(3));
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseNamespaceInode(std::string_view link_target) {
  const size_t open = link_target.find('[');
  const size_t close = link_target.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 1) {
    return std::nullopt;
  }
  return ParseUint64(link_target.substr(open + 1, close - open - 1));
}

std::optional<uint64_t> NetworkNamespaceOf(const HostPaths& paths, pid_t pid) {
  const auto target = ReadLink(paths.Proc(pid, "ns/net"));
  if (!target) return std::nullopt;
  return ParseNamespaceInode(*target);
}

std::optional<std::string> CgroupV2PathOf(const HostPaths& paths, pid_t pid) {
  const auto text = ReadFile(paths.Proc(pid, "cgroup"));
  if (!text) return std::nullopt;
  return ParseCgroupV2Path(*text);
}

std::vector<pid_t> ListPids(const HostPaths& paths) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(paths.procfs.c_str()), ::closedir);
  if (!dir) return pids;
  while (const dirent* entry = ::readdir(dir.get())) {
    if (const auto pid = ParseUint64(entry->d_name); pid && *pid > 0) {
      pids.push_back(static_cast<pid_t>(*pid));
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<NetworkNamespace> ListNetworkNamespaces(const HostPaths& paths) {
  std::map<uint64_t, pid_t> lowest_pid;
  for (pid_t pid : ListPids(paths)) {
    const auto inode = NetworkNamespaceOf(paths, pid);
    if (!inode) continue;                 // exited, or a kernel thread without a readable link
    lowest_pid.try_emplace(*inode, pid);  // pids ascend, so the first one seen is the lowest
  }
  std::vector<NetworkNamespace> namespaces;
  namespaces.reserve(lowest_pid.size());
  for (const auto& [inode, pid] : lowest_pid) namespaces.push_back({inode, pid});
  return namespaces;
}

}  // namespace podstat::procfs
