#include "podstat/cgroup/namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <set>
#include <vector>

#include "podstat/procfs/mountinfo.h"
#include "podstat/procfs/process.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::cgroup {
namespace {

bool OutsideNamespaceRoot(std::string_view path) {
  return path == "/.." || path.starts_with("/../");
}

// Our own view, as the decision needs it.
bool LooksPrivate(const HostPaths& paths) {
  const std::string init = ReadFile(paths.Proc(1, "cgroup")).value_or("");
  const std::string mountinfo = ReadFile(paths.Proc("self/mountinfo")).value_or("");
  return SeesPrivateCgroupNamespace(init, mountinfo);
}

std::optional<pid_t> ParentOf(const HostPaths& paths, pid_t pid) {
  const auto stat = ReadFile(paths.Proc(pid, "stat"));
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  const auto fields = SplitFields(std::string_view(*stat).substr(close + 1));
  if (fields.size() < 2) return std::nullopt;
  const auto ppid = ParseUint64(fields[1]);
  if (!ppid || *ppid == 0) return std::nullopt;
  return static_cast<pid_t>(*ppid);
}

// pid 1, then our ancestors (a launcher in the host's namespace), then every process.
std::vector<pid_t> Candidates(const HostPaths& paths) {
  std::vector<pid_t> candidates = {1};
  std::optional<pid_t> ancestor = ParentOf(paths, ::getpid());
  for (int depth = 0; ancestor && *ancestor > 1 && depth < 64; ++depth) {
    candidates.push_back(*ancestor);
    ancestor = ParentOf(paths, *ancestor);
  }
  for (const pid_t pid : procfs::ListPids(paths)) candidates.push_back(pid);
  return candidates;
}

}  // namespace

bool SeesPrivateCgroupNamespace(std::string_view init_cgroup, std::string_view self_mountinfo) {
  if (const auto init_path = procfs::ParseCgroupV2Path(init_cgroup);
      init_path && OutsideNamespaceRoot(*init_path)) {
    return true;
  }
  for (const procfs::MountEntry& mount : procfs::ParseMountInfo(self_mountinfo)) {
    if (mount.fs_type == "cgroup2" && OutsideNamespaceRoot(mount.root)) return true;
  }
  return false;
}

CgroupNamespaceOutcome EnsureHostCgroupNamespace(const HostPaths& paths) {
  CgroupNamespaceOutcome outcome;
  if (!LooksPrivate(paths)) return outcome;

  const std::string own_link = ReadLink(paths.Proc("self/ns/cgroup")).value_or("cgroup:[?]");
  std::set<uint64_t> tried;
  if (struct stat own{}; ::stat(paths.Proc("self/ns/cgroup").c_str(), &own) == 0) {
    tried.insert(own.st_ino);
  }
  std::string last_failure;
  for (const pid_t pid : Candidates(paths)) {
    const std::string link = paths.Proc(pid, "ns/cgroup");
    UniqueFd fd(::open(link.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (pid == 1) last_failure = "open " + link + ": " + ErrnoMessage(errno);
      continue;
    }
    struct stat target {};
    if (::fstat(fd.get(), &target) != 0 || !tried.insert(target.st_ino).second) continue;
    if (::setns(fd.get(), CLONE_NEWCGROUP) != 0) {
      last_failure = "setns(" + link + ", CLONE_NEWCGROUP): " + ErrnoMessage(errno);
      if (errno == EPERM) break;  // no CAP_SYS_ADMIN: no other namespace will do better
      continue;
    }
    if (!LooksPrivate(paths)) {
      outcome.kind = CgroupNamespaceOutcome::Kind::kEntered;
      outcome.detail = "podstat was started in a private cgroup namespace (" + own_link +
                       ": other processes' cgroups read \"/..\"); entered the host's (" +
                       ReadLink(paths.Proc("self/ns/cgroup")).value_or("?") + ", that of pid " +
                       std::to_string(pid) + ")";
      return outcome;
    }
  }
  outcome.kind = CgroupNamespaceOutcome::Kind::kFailed;
  outcome.detail =
      "podstat runs in a private cgroup namespace (" + own_link +
      ": other processes' cgroup paths read \"/..\"), so it cannot tell which container a "
      "process or network namespace belongs to, and could not enter the host's" +
      (last_failure.empty() ? std::string() : " (" + last_failure + ")") +
      ". Run it in the host's cgroup namespace: in Kubernetes with hostPID: true and "
      "CAP_SYS_ADMIN (it then enters pid 1's), with Docker --cgroupns=host";
  return outcome;
}

}  // namespace podstat::cgroup
