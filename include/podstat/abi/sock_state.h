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

/* Socket kinds counted by the cgroup/sock_create and cgroup/sock_release programs, as indices of
 * ps_tcp_counts.sockets. The userspace side maps them to container_sockets{type} (stream, dgram,
 * raw, other) and container_udp_sockets. 8 slots, a power of two, for the same masking reason as
 * the TCP states. */
enum ps_sock_kind {
  PS_SOCK_TCP = 0,          /* SOCK_STREAM, IPPROTO_TCP */
  PS_SOCK_UDP = 1,          /* SOCK_DGRAM, IPPROTO_UDP */
  PS_SOCK_UDPLITE = 2,      /* SOCK_DGRAM, IPPROTO_UDPLITE */
  PS_SOCK_RAW = 3,          /* SOCK_RAW, any protocol */
  PS_SOCK_OTHER_STREAM = 4, /* SOCK_STREAM of another protocol: MPTCP, SCTP */
  PS_SOCK_OTHER_DGRAM = 5,  /* SOCK_DGRAM of another protocol: ICMP "ping" sockets */
  PS_SOCK_OTHER = 6,        /* SOCK_SEQPACKET and anything else */
  PS_SOCK_KIND_SLOTS = 8,
};

/* Per-cgroup TCP event counters (monotonic since the entry was created), as indices of
 * ps_tcp_counts.events. */
enum ps_tcp_event {
  PS_TCP_RETRANSMITS = 0,      /* tcp:tcp_retransmit_skb, segments (tcp_skb_pcount) */
  PS_TCP_CONNECT_FAILURES = 1, /* SYN_SENT -> CLOSE: refused, timed out or abandoned connects */
  PS_TCP_RESETS_SENT = 2,      /* tcp:tcp_send_reset from a full socket of the cgroup */
  PS_TCP_RESETS_RECEIVED = 3,  /* tcp:tcp_receive_reset */
  PS_TCP_EVENT_COUNT = 4,
};

/* ps_tcp_states value: everything podstat counts per cgroup about its sockets.
 * count[f][s]: TCP sockets of family f in state s, +1/-1 on transitions: a delta since attach, to
 *   which userspace adds the baseline it seeded from sock_diag.
 * sockets[f][k]: open sockets of family f and kind k (enum ps_sock_kind), +1 at socket() (and at
 *   an accepted TCP child's creation), -1 at the last close(): also a delta since attach.
 * transitions: every +1/-1 applied to count or sockets; userspace compares it before and after a
 *   sock_diag dump to know the dump raced with nothing.
 * events[e]: counters (enum ps_tcp_event), never decremented. */
struct ps_tcp_counts {
  __s64 count[PS_FAMILY_COUNT][PS_TCP_STATE_SLOTS];
  __s64 sockets[PS_FAMILY_COUNT][PS_SOCK_KIND_SLOTS];
  __u64 transitions;
  __u64 events[PS_TCP_EVENT_COUNT];
};

/* ps_sock_marks value (socket-local storage, freed with the socket): who a socket was counted
 * for, so that its -1 goes where its +1 went, exactly once. */
struct ps_sock_mark {
  __u64 cgroup_id; /* the cgroup its +1 went to */
  __u8 family;     /* enum ps_family_index */
  __u8 kind;       /* enum ps_sock_kind */
  __u8 child;      /* an accepted TCP child, counted at its creation in the tracepoint */
  __u8 released;   /* its -1 was applied (at close(), or when an unaccepted child died) */
  __u32 padding;
};

/* ps_stats: a per-CPU array indexed by this enum, each a __u64 counter of events BPF could not
 * account for. Exported as podstat_bpf_drops_total{reason}. */
enum ps_drop_reason {
  PS_DROP_MAP_FULL = 0,  /* ps_tcp_states had no room for a new cgroup */
  PS_DROP_NO_CGROUP = 1, /* socket carried no cgroup (or cgroup data in v1-only mode) */
  PS_DROP_BAD_STATE = 2, /* a state number outside 1..13 (ESTABLISHED..BOUND_INACTIVE) */
  PS_DROP_NO_MARK = 3,   /* no socket-local storage for a new socket: it is not counted */
  PS_DROP_MAP_BUSY = 4,  /* inserting into ps_tcp_states failed with -EBUSY: the bucket was
                            locked on this CPU by an update this program interrupted */
  PS_DROP_REASON_COUNT = 5,
};

#endif /* PODSTAT_ABI_SOCK_STATE_H */
