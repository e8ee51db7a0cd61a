// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TCP sockets per (cgroup, family, state), kept as +1/-1 on every state transition reported by
 * the sock:inet_sock_set_state tracepoint. Two programs share one body: tp_btf (5.5+, preferred)
 * and raw_tp (4.17+); userspace probes the kernel and loads exactly one of them.
 *
 * What the tracepoint shows (measured on 6.18, DESIGN.md section 9) and how each case is counted:
 * - CLOSE is where sockets are born and die, and a CLOSE socket is in no hash table (ss and
 *   /proc/net/tcp never show it), so CLOSE is never counted: X->CLOSE is only a -1 on X and
 *   CLOSE->X only a +1 on X.
 * - An accepted child is cloned from its listener and reports LISTEN->SYN_RECV: the child was never
 *   counted as LISTEN, so that transition is only a +1 on SYN_RECV.
 * - TIME_WAIT never appears: the full socket goes FIN_WAIT2->CLOSE and a timewait socket without a
 *   cgroup takes its place. Userspace counts TIME_WAIT per network namespace instead.
 * - Request sockets (NEW_SYN_RECV) never appear.
 * The counts are deltas since attach; userspace adds a baseline seeded from sock_diag.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "core_fixes.bpf.h"
#include "podstat/abi/sock_state.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * ps_tcp_states
 *   key:   struct ps_tcp_key   (cgroup v2 id of the socket's owner)
 *   value: struct ps_tcp_counts (socket counts per family and state, delta since attach; and the
 *          number of transitions applied)
 *   inserted by: this program, on the first transition seen for a cgroup.
 *   deleted by:  userspace (sources/tcp_state_source), once the cgroup directory is gone and every
 *                count, baseline included, is back to zero.
 *   size: set before load from --bpf.max-cgroups and the number of cgroups present at start.
 *   A plain (not per-CPU) hash updated with atomic adds: state changes are far rarer than context
 *   switches, and a per-CPU value (264 bytes x CPUs x entries) would cost hundreds of MB on large
 *   machines.
 */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct ps_tcp_key);
  __type(value, struct ps_tcp_counts);
} ps_tcp_states SEC(".maps");

/*
 * ps_stats
 *   key:   __u32, an enum ps_drop_reason
 *   value: __u64 per CPU, events that could not be counted for that reason
 *   inserted by: the kernel at map creation (array); never deleted. Read and summed by userspace.
 */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PS_DROP_REASON_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} ps_stats SEC(".maps");

static __always_inline void count_drop(__u32 reason) {
  __u64* value = bpf_map_lookup_elem(&ps_stats, &reason);

  if (value) *value += 1; /* per-CPU slot: no other CPU writes it */
}

/* The states the kernel defines; anything else means the tracepoint changed under us. */
static __always_inline int valid_state(int state) {
  return state >= TCP_ESTABLISHED && state <= TCP_NEW_SYN_RECV + 1;
}

static __always_inline int on_set_state(const struct sock* sk, int oldstate, int newstate) {
  if (ps_sock_protocol(sk) != IPPROTO_TCP) return 0;

  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != PS_AF_INET && family != PS_AF_INET6) return 0;

  if (!valid_state(oldstate) || !valid_state(newstate)) {
    count_drop(PS_DROP_BAD_STATE);
    return 0;
  }

  struct ps_tcp_key key = {.cgroup_id = ps_sock_cgroup_id(sk)};
  if (!key.cgroup_id) {
    count_drop(PS_DROP_NO_CGROUP);
    return 0;
  }

  struct ps_tcp_counts* counts = bpf_map_lookup_elem(&ps_tcp_states, &key);
  if (!counts) {
    struct ps_tcp_counts zero;

    __builtin_memset(&zero, 0, sizeof(zero));
    /* BPF_NOEXIST: another CPU may have inserted it meanwhile; then the lookup below finds it. */
    bpf_map_update_elem(&ps_tcp_states, &key, &zero, BPF_NOEXIST);
    counts = bpf_map_lookup_elem(&ps_tcp_states, &key);
    if (!counts) {
      count_drop(PS_DROP_MAP_FULL);
      return 0;
    }
  }

  /* The masks are no-ops after valid_state(), which is why clang would drop them; barrier_var
   * hides the known range so they stay, and the verifier sees indices it can prove in bounds. */
  __u32 fam = family == PS_AF_INET6 ? PS_FAMILY_INET6 : PS_FAMILY_INET;
  __u32 old_slot = (__u32)oldstate;
  __u32 new_slot = (__u32)newstate;
  barrier_var(fam);
  barrier_var(old_slot);
  barrier_var(new_slot);
  fam &= 1;
  old_slot &= PS_TCP_STATE_SLOTS - 1;
  new_slot &= PS_TCP_STATE_SLOTS - 1;
  int child_clone = oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV;

  if (oldstate != TCP_CLOSE && !child_clone)
    __sync_fetch_and_add(&counts->count[fam][old_slot], -1);
  if (newstate != TCP_CLOSE) __sync_fetch_and_add(&counts->count[fam][new_slot], 1);
  __sync_fetch_and_add(&counts->transitions, 1);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_state_tp_btf, const struct sock* sk, const int oldstate, const int newstate) {
  return on_set_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(ps_state_raw_tp, const struct sock* sk, const int oldstate, const int newstate) {
  return on_set_state(sk, oldstate, newstate);
}
