/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ABI shared by bpf/sock_state.bpf.c and userspace/bpf: plain C, fixed-width types, explicit
 * padding. The C++ side static_asserts every size (userspace/bpf/sock_state_loader.cc).
 *
 * Included from BPF (after vmlinux.h, which defines __u64 and friends) and from C++ (where
 * <linux/types.h> defines them).
 */
#ifndef PODSTAT_ABI_SOCK_STATE_H
#define PODSTAT_ABI_SOCK_STATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* TCP states as the kernel numbers them (include/net/tcp_states.h): 1 ESTABLISHED ... 12
 * NEW_SYN_RECV, 13 BOUND_INACTIVE (6.6+, a sock_diag request bit only; the tracepoint never
 * reports it).
 * Slot 0 is unused. 16 slots, a power of two, so the BPF side can bound an index with a mask the
 * verifier understands (a compare alone is lost when clang reorders it). */
#define PS_TCP_STATE_SLOTS 16

/* Address families, as array indices: the value keeps IPv4 and IPv6 apart so that the
 * cAdvisor-compatible tcp/tcp6 series can be built without another map. */
enum ps_family_index {
  PS_FAMILY_INET = 0,
  PS_FAMILY_INET6 = 1,
  PS_FAMILY_COUNT = 2,
};

/* ps_tcp_states key: the cgroup v2 id (the inode number of the cgroup's directory) of the cgroup
 * that owns the socket (sk->sk_cgrp_data, not the current task). */
struct ps_tcp_key {
  __u64 cgroup_id;
};

/* ps_tcp_states value. count[f][s] is the number of sockets of family f in state s, kept as
 * +1/-1 on transitions, so it is a delta since the programs were attached: userspace adds the
 * baseline it seeded from sock_diag. transitions counts every transition applied to this entry;
 * userspace compares it before and after a sock_diag dump to know the dump raced with nothing. */
struct ps_tcp_counts {
  __s64 count[PS_FAMILY_COUNT][PS_TCP_STATE_SLOTS];
  __u64 transitions;
};

/* ps_stats: a per-CPU array indexed by this enum, each a __u64 counter of events BPF could not
 * account for. Exported as podstat_bpf_drops_total{reason}. */
enum ps_drop_reason {
  PS_DROP_MAP_FULL = 0,  /* ps_tcp_states had no room for a new cgroup */
  PS_DROP_NO_CGROUP = 1, /* socket carried no cgroup (or cgroup data in v1-only mode) */
  PS_DROP_BAD_STATE = 2, /* a state number outside 1..13 (ESTABLISHED..BOUND_INACTIVE) */
  PS_DROP_REASON_COUNT = 3,
};

#endif /* PODSTAT_ABI_SOCK_STATE_H */
