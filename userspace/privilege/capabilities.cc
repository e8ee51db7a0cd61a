#include "podstat/privilege/capabilities.h"

#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "podstat/util/file.h"

namespace podstat::privilege {
namespace {

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};
using UniqueCaps = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

bool HasEffective(cap_t caps, int capability) {
  cap_flag_value_t value = CAP_CLEAR;
  return cap_get_flag(caps, static_cast<cap_value_t>(capability), CAP_EFFECTIVE, &value) == 0 &&
         value == CAP_SET;
}

// Kernels before 5.11 charge eBPF maps to RLIMIT_MEMLOCK (later ones to the memory cgroup), and
// libbpf raises that limit, which takes CAP_SYS_RESOURCE: there, it is not optional.
bool MapsChargedToMemlock() {
  utsname name{};
  int major = 0, minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return true;
  return major < 5 || (major == 5 && minor < 11);
}

}  // namespace

const std::vector<CapabilityNeed>& Needs() {
  static const std::vector<CapabilityNeed> kNeeds = {
      {CAP_BPF, "cap_bpf",
       "load the eBPF programs and create their maps (kernel 5.8+; cap_sys_admin also does)",
       "no eBPF: every source falls back to /proc and cgroup files", false, false, CAP_SYS_ADMIN},
      {CAP_PERFMON, "cap_perfmon",
       "attach the tracing programs (sched_switch, inet_sock_set_state, tcp_retransmit_skb, "
       "...; cap_sys_admin also does)",
       "no eBPF tracing programs: TCP states from /proc, CPU from cgroup accounting", false, false,
       CAP_SYS_ADMIN},
      {CAP_NET_ADMIN, "cap_net_admin",
       "load and attach the cgroup/sock_create and sock_release programs",
       "socket kinds from /proc/<pid>/net socket tables", false},
      {CAP_SYS_RESOURCE, "cap_sys_resource",
       "raise RLIMIT_MEMLOCK (kernels before 5.11 charge eBPF maps to it) and RLIMIT_NOFILE "
       "beyond its hard limit",
       "maps may fail to load on kernels before 5.11; open files stay within the hard limit", false,
       /*optional=*/!MapsChargedToMemlock()},
      {CAP_SYS_ADMIN, "cap_sys_admin",
       "setns() into each network namespace for sock_diag (seeding and reconciling socket "
       "counts) and into the host's cgroup namespace; mount bpffs for --bpf.pin; eBPF on "
       "kernels before 5.8",
       "sockets older than the agent are never counted and counts are never reconciled", true},
      {CAP_SYS_PTRACE, "cap_sys_ptrace",
       "open /proc/<pid>/ns/net of processes of other users (which network namespace each "
       "container has)",
       "network and socket series of containers running as other users are missing", true},
      {CAP_DAC_READ_SEARCH, "cap_dac_read_search",
       "open_by_handle_at(): cgroup id to path without walking the hierarchy",
       "each unknown cgroup id costs a walk of the cgroup hierarchy", true},
  };
  return kNeeds;
}

std::vector<CapabilityNeed> MissingNeeds() {
  std::vector<CapabilityNeed> missing;
  UniqueCaps caps(cap_get_proc());
  for (const CapabilityNeed& need : Needs()) {
    const bool held = caps && (HasEffective(caps.get(), need.capability) ||
                               (need.also_satisfied_by >= 0 &&
                                HasEffective(caps.get(), need.also_satisfied_by)));
    if (!held) missing.push_back(need);
  }
  return missing;
}

std::string DescribeEffective() {
  UniqueCaps caps(cap_get_proc());
  if (!caps) return "unknown (" + ErrnoMessage(errno) + ")";
  std::string names;
  for (cap_value_t capability = 0; capability < cap_max_bits(); ++capability) {
    if (!HasEffective(caps.get(), capability)) continue;
    char* name = cap_to_name(capability);
    if (!names.empty()) names += ',';
    names += name ? name : "?";
    cap_free(name);
  }
  return names.empty() ? "none" : names;
}

bool DropToLifetimeNeeds(const std::string& procfs, std::string* error) {
  std::error_code ignored;
  size_t threads = 0;
  for (auto it = std::filesystem::directory_iterator(procfs + "/self/task", ignored);
       it != std::filesystem::directory_iterator(); it.increment(ignored)) {
    ++threads;
  }
  if (threads != 1) {
    *error = "the process has " + std::to_string(threads) +
             " threads; capabilities are per thread, so they must be dropped before any starts";
    return false;
  }
  UniqueCaps current(cap_get_proc());
  if (!current) {
    *error = "cap_get_proc: " + ErrnoMessage(errno);
    return false;
  }
  std::vector<cap_value_t> keep;
  for (const CapabilityNeed& need : Needs()) {
    if (need.lifetime && HasEffective(current.get(), need.capability)) {
      keep.push_back(static_cast<cap_value_t>(need.capability));
    }
  }
  // The bounding set first: dropping from it needs CAP_SETPCAP, which the step after removes.
  if (HasEffective(current.get(), CAP_SETPCAP)) {
    for (cap_value_t capability = 0; capability < cap_max_bits(); ++capability) {
      bool kept = false;
      for (const cap_value_t k : keep) kept = kept || k == capability;
      if (!kept && cap_get_bound(capability) == 1 && cap_drop_bound(capability) != 0) {
        *error = "cap_drop_bound(" + std::to_string(capability) + "): " + ErrnoMessage(errno);
        return false;
      }
    }
  }
  if (cap_reset_ambient() != 0 && errno != EINVAL) {  // EINVAL: kernel without ambient sets
    *error = "cap_reset_ambient: " + ErrnoMessage(errno);
    return false;
  }
  UniqueCaps reduced(cap_init());
  if (!reduced ||
      (!keep.empty() && (cap_set_flag(reduced.get(), CAP_EFFECTIVE, static_cast<int>(keep.size()),
                                      keep.data(), CAP_SET) != 0 ||
                         cap_set_flag(reduced.get(), CAP_PERMITTED, static_cast<int>(keep.size()),
                                      keep.data(), CAP_SET) != 0)) ||
      cap_set_proc(reduced.get()) != 0) {
    *error = "cap_set_proc: " + ErrnoMessage(errno);
    return false;
  }
  // No execve can give back what was dropped (setuid binaries, file capabilities).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *error = "prctl(PR_SET_NO_NEW_PRIVS): " + ErrnoMessage(errno);
    return false;
  }
  return true;
}

}  // namespace podstat::privilege
