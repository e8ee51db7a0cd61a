// Which Linux capabilities podstat needs, for what, and for how long; and dropping the rest.
//
// The agent does not need to be uid 0, nor to keep full root for its whole life: the HTTP parser
// and the remote_write decoders should not run with CAP_BPF or CAP_NET_ADMIN. So main() checks
// the needs below at start (a missing one is a logged degradation, not a refusal, except where
// nothing would work), loads and attaches every eBPF program, and then, still single-threaded,
// keeps only the capabilities the agent's running life needs (the `lifetime` ones), removing
// the others from the effective, permitted, inheritable, ambient and bounding sets.
#pragma once

#include <string>
#include <vector>

namespace podstat::privilege {

struct CapabilityNeed {
  int capability;         // CAP_* from <linux/capability.h>
  const char* name;       // "cap_bpf", as capsh and /proc/<pid>/status decoders spell it
  const char* used_for;   // what the agent does with it
  const char* without;    // what happens when it is missing
  bool lifetime;          // needed after start (kept), or only to load and attach (dropped)
  bool optional = false;  // the agent works fully without it on current kernels
  // Another capability the kernel accepts in its place, or -1. CAP_SYS_ADMIN passes the kernel's
  // bpf_capable() and perfmon_capable() checks (CAP_BPF and CAP_PERFMON were split out of it in
  // 5.8; before, it was the only way), and the agent holds it for its whole life anyway, so a
  // DaemonSet that grants it need not list CAP_BPF and CAP_PERFMON (nor can it under Docker
  // 20.10, which does not know their names).
  int also_satisfied_by = -1;
};

// The table, in the order --help and the README give it.
const std::vector<CapabilityNeed>& Needs();

// The needs the calling thread lacks in its effective set (neither the capability nor the one
// that also satisfies it).
std::vector<CapabilityNeed> MissingNeeds();

// Effective capabilities of the calling thread, as capsh prints them ("cap_bpf,cap_sys_admin"),
// or "none".
std::string DescribeEffective();

// Keeps only the `lifetime` needs (those the thread has) and drops every other capability from
// every set, bounding and ambient included, and sets no_new_privs. Threads created before keep
// their own sets, so this fails (and changes nothing) unless the process has one thread; procfs
// is where /proc/self/task is counted. False with the reason in *error.
bool DropToLifetimeNeeds(const std::string& procfs, std::string* error);

}  // namespace podstat::privilege
