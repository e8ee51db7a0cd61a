// podstat must see cgroup paths as the host does. Started in a private cgroup namespace
// (containerd's default for non-privileged pods on cgroup v2, `docker run --cgroupns=private`,
// `unshare -C`), every other process's /proc/<pid>/cgroup reads "0::/../.." and the host's
// cgroup2 mount's root reads "/..": paths no longer match the hierarchy, and every series keyed
// by a process's cgroup (network, sockstat, processes) silently vanishes. So at start the agent
// detects it and enters the host's cgroup namespace, or refuses to run.
#pragma once

#include <string>
#include <string_view>

#include "podstat/util/host_paths.h"

namespace podstat::cgroup {

// Pure: whether these views show a cgroup namespace other than the host's. `init_cgroup` is
// /proc/1/cgroup (the host's init when podstat shares the host's pid namespace, as a DaemonSet
// with hostPID does; may be empty when unreadable), `self_mountinfo` is /proc/self/mountinfo.
// A cgroup v2 path or a cgroup2 mount root outside our namespace's root starts with "/..".
bool SeesPrivateCgroupNamespace(std::string_view init_cgroup, std::string_view self_mountinfo);

struct CgroupNamespaceOutcome {
  enum class Kind {
    kHost,     // already in the host's cgroup namespace: nothing done
    kEntered,  // was in a private one, entered the host's (detail says through which process)
    kFailed,   // was in a private one and could not leave it: the agent must not run
  };
  Kind kind = Kind::kHost;
  std::string detail;  // for the log: what was seen and done, or why it failed and what to do
};

// Detects a private cgroup namespace and, if so, setns()es the calling thread into the host's:
// through /proc/1/ns/cgroup first, then the cgroup namespaces of podstat's ancestors, then any
// process's, keeping the first after which the views above look like the host's. Needs
// CAP_SYS_ADMIN (setns) and access to the process's /proc/<pid>/ns (CAP_SYS_PTRACE for processes
// of other users). Affects only the calling thread and the threads it creates later: call it
// first thing in main, before any thread starts.
CgroupNamespaceOutcome EnsureHostCgroupNamespace(const HostPaths& paths);

}  // namespace podstat::cgroup
