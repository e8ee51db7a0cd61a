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
 *
 * Open sockets of every kind (container_sockets, container_udp_sockets) come from
 * cgroup/sock_create and cgroup/sock_release attached to the cgroup v2 root: +1 at socket(), -1 at
 * the last close(). Kernel sockets pass neither hook. An accepted TCP child never passes
 * sock_create, but does pass sock_release when the process that accepted it closes it, so the
 * tracepoint counts it at its creation (LISTEN->SYN_RECV) and marks it; a child that dies before
 * accept() (its listener closed, or reset in the queue) reaches CLOSE without a struct socket, and
 * the mark says to take it off then. Marks live in socket-local storage where the kernel lets
 * tracing programs use it (tp_btf on 5.11+): exact, freed with the socket, nothing to size. Where
 * sock_release can read the socket's own cgroup (6.2+, release_reads_sk_cgroup) only accepted
 * children are marked; before, every socket is, so that its -1 goes where its +1 went.
 * Elsewhere (5.10, and any raw_tp program, whose arguments are plain integers) only accepted
 * children need a mark, and it lives in ps_child_socks, keyed by the socket's address, from the
 * child's creation until accept() gives it a struct socket or it dies without one; every other
 * socket's -1 then goes to the cgroup of the task that closes it.
 *
 * TCP health counters: retransmits (tcp:tcp_retransmit_skb), resets sent and received
 * (tcp:tcp_send_reset, tcp:tcp_receive_reset) and failed connects (SYN_SENT->CLOSE here).
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

/*
 * ps_sock_marks
 *   socket-local storage (BPF_MAP_TYPE_SK_STORAGE): struct ps_sock_mark per socket counted in
 *   ps_tcp_states.sockets, saying which cgroup, family and kind its +1 went to.
 *   inserted by: the tp_btf state program (accepted TCP children), and ps_sock_create (every
 *                socket() of an inet family) unless release_reads_sk_cgroup.
 *   deleted by:  the kernel, with the socket. No size: storage hangs off each socket.
 *   Not cloned into children (no BPF_F_CLONE): a child gets its own mark.
 */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct ps_sock_mark);
} ps_sock_marks SEC(".maps");

/*
 * ps_child_socks (only where socket-local storage is unusable: use_sk_storage false)
 *   key:   __u64, the address of an accepted TCP child's struct sock
 *   value: struct ps_sock_mark, the cgroup, family and kind its +1 went to
 *   inserted by: the state program, when a child is created (LISTEN->SYN_RECV).
 *   deleted by:  the state program: at the child's first transition once accept() has given it a
 *                struct socket (its -1 then comes from cgroup/sock_release, on the closing task's
 *                cgroup), or when it reaches CLOSE without one (never accepted: the -1 is taken
 *                here).
 *   size: 16384, room for that many children queued on listeners or accepted and not yet past
 *   their next transition. An LRU hash: a child evicted under a larger backlog, or left by a lost
 *   event, is harmless except that a queued child evicted and then dying keeps its +1 until the
 *   next sock_diag reconciliation; an entry found at a reused address belongs to a socket that
 *   is gone, and the new socket's first transition with a struct socket removes it.
 */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct ps_sock_mark);
} ps_child_socks SEC(".maps");

/*
 * Set by userspace before load. A frozen read-only value is a constant to the verifier, which
 * then never explores the branch not taken: the helpers and maps of the other mode need not
 * exist on this kernel.
 * count_sockets: the cgroup/sock_create and sock_release programs are attached, so the state
 *   program counts accepted children as open sockets (and tracks them for their -1).
 * use_sk_storage: marks live in socket-local storage (ps_sock_marks; tp_btf on 5.11+, where
 *   bpf_sk_storage_get is allowed in tracing programs: on 5.10 the verifier rejects it with
 *   "unknown func bpf_sk_storage_get#107"); false: accepted children go into ps_child_socks and
 *   the cgroup programs keep no marks.
 */
const volatile bool count_sockets = false;
const volatile bool use_sk_storage = true;

/*
 * Whether tcp:tcp_retransmit_skb has its third argument, `int err` (added in 6.x; before, the
 * tracepoint fired only for successful retransmits). Set by userspace from the kernel's BTF before
 * load; reading a tracepoint argument the kernel does not have fails verification, and a constant
 * false here lets the verifier drop that read as dead code.
 */
const volatile bool retransmit_has_err = false;

/*
 * release_reads_sk_cgroup: cgroup/sock_release reads the cgroup a socket was created in from the
 * socket itself (sk->sk_cgrp_data, set from the creating task in sk_alloc(), the cgroup
 * sock_create counted it for), through bpf_rdonly_cast (a kfunc since 6.2 that the verifier
 * turns into a plain move; userspace sets this only when the kernel's BTF has it). Then a
 * socket's -1 goes where its +1 went without a mark, and ps_sock_create allocates none: creating
 * socket-local storage costs ~860 ns per socket on the development VM (two allocations and a
 * lock), three quarters of sock_create's whole cost. Marks remain for accepted children only,
 * whose death before accept() has no sock_release. Also used without socket-local storage (raw_tp
 * on 6.2+), where no socket has a mark. Without the kfunc, tp_btf on 5.11-6.1 marks every socket
 * at creation as before, and where there are no marks either (5.10, raw_tp before 6.2) the -1 of
 * a socket goes to the closing task's cgroup.
 */
const volatile bool release_reads_sk_cgroup = false;
extern void* bpf_rdonly_cast(const void* obj, __u32 btf_id) __ksym __weak;

static __always_inline void count_drop(__u32 reason) {
  __u64* value = bpf_map_lookup_elem(&ps_stats, &reason);

  if (value) *value += 1; /* per-CPU slot: no other CPU writes it */
}

/* The entry of a cgroup, created on first use. NULL (and a map_full drop) when there is no room. */
static __always_inline struct ps_tcp_counts* counts_of(__u64 cgroup_id) {
  struct ps_tcp_key key = {.cgroup_id = cgroup_id};
  struct ps_tcp_counts* counts = bpf_map_lookup_elem(&ps_tcp_states, &key);

  if (counts) return counts;
  struct ps_tcp_counts zero;

  __builtin_memset(&zero, 0, sizeof(zero));
  /* BPF_NOEXIST: another CPU may have inserted it meanwhile; then the lookup below finds it. */
  long err = bpf_map_update_elem(&ps_tcp_states, &key, &zero, BPF_NOEXIST);
  counts = bpf_map_lookup_elem(&ps_tcp_states, &key);
  /* -EBUSY: the bucket was locked by an update this program interrupted on the same CPU; any
   * other failure is a map with no room (-E2BIG where it is preallocated, from 6.12; earlier
   * kernels answer a full preallocated map otherwise, seen on 5.10 and 6.1). */
  if (!counts) count_drop(err == -PS_EBUSY ? PS_DROP_MAP_BUSY : PS_DROP_MAP_FULL);
  return counts;
}

/* Adds delta to sockets[family][kind] of a cgroup; both indices masked for the verifier. */
static __always_inline void add_sockets(__u64 cgroup_id, __u32 family, __u32 kind, __s64 delta) {
  struct ps_tcp_counts* counts = counts_of(cgroup_id);

  if (!counts) return;
  barrier_var(family);
  barrier_var(kind);
  family &= 1;
  kind &= PS_SOCK_KIND_SLOTS - 1;
  __sync_fetch_and_add(&counts->sockets[family][kind], delta);
  __sync_fetch_and_add(&counts->transitions, 1);
}

/* Adds `n` to a counter of enum ps_tcp_event for the cgroup owning a full socket. */
static __always_inline void count_events(const struct sock* sk, __u32 event, __u64 n, bool direct) {
  __u64 cgroup_id = ps_sock_cgroup_id(sk, direct);

  if (!cgroup_id) {
    count_drop(PS_DROP_NO_CGROUP);
    return;
  }
  struct ps_tcp_counts* counts = counts_of(cgroup_id);

  if (!counts) return;
  barrier_var(event);
  event &= PS_TCP_EVENT_COUNT - 1;
  __sync_fetch_and_add(&counts->events[event], n);
}

static __always_inline void count_event(const struct sock* sk, __u32 event, bool direct) {
  count_events(sk, event, 1, direct);
}

/* Timewait and request sockets are smaller structs without sk_cgrp_data (sk_fullsock()). */
static __always_inline int is_full_socket(const struct sock* sk, bool direct) {
  int state = PS_READ(direct, sk, __sk_common.skc_state);

  return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
}

/* The states the kernel defines; anything else means the tracepoint changed under us. */
static __always_inline int valid_state(int state) {
  return state >= TCP_ESTABLISHED && state <= TCP_NEW_SYN_RECV + 1;
}

/* The marks of accepted children without socket-local storage (ps_child_socks): a new child is
 * recorded; a child that was accepted is forgotten at its first transition with a struct socket;
 * one that dies without ever having had one takes its own -1. */
static __always_inline void track_child_without_storage(struct sock* sk,
                                                        const struct ps_sock_mark* new_child,
                                                        int oldstate, int newstate, bool direct) {
  __u64 key = (__u64)sk;

  if (new_child) {
    if (bpf_map_update_elem(&ps_child_socks, &key, new_child, BPF_ANY)) {
      count_drop(PS_DROP_NO_MARK);
      return;
    }
    add_sockets(new_child->cgroup_id, new_child->family, new_child->kind, 1);
    return;
  }
  if (PS_READ(direct, sk, sk_socket)) {
    /* Accepted (or not a child at all). A child leaves these states only: SYN_RECV with
     * TCP_FASTOPEN, ESTABLISHED, or CLOSE_WAIT when the peer closed before accept(); other
     * sockets skip the delete. */
    if (oldstate == TCP_SYN_RECV || oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT)
      bpf_map_delete_elem(&ps_child_socks, &key);
    return;
  }
  if (newstate != TCP_CLOSE) return;
  struct ps_sock_mark* mark = bpf_map_lookup_elem(&ps_child_socks, &key);

  if (!mark) return; /* orphaned after close(): its -1 came from sock_release */
  struct ps_sock_mark dying = *mark;

  bpf_map_delete_elem(&ps_child_socks, &key);
  add_sockets(dying.cgroup_id, dying.family, dying.kind, -1);
}

/*
 * direct: a compile-time constant, true for tp_btf, whose BTF-typed socket pointer allows plain
 * loads and is accepted by bpf_sk_storage_get; raw_tp arguments are plain integers, read with
 * bpf_probe_read_kernel, and cannot carry marks.
 */
static __always_inline int on_set_state(struct sock* sk, int oldstate, int newstate, bool direct) {
  if (ps_sock_protocol(sk, direct) != IPPROTO_TCP) return 0;

  __u16 family = PS_READ(direct, sk, __sk_common.skc_family);
  if (family != PS_AF_INET && family != PS_AF_INET6) return 0;

  if (!valid_state(oldstate) || !valid_state(newstate)) {
    count_drop(PS_DROP_BAD_STATE);
    return 0;
  }

  __u64 cgroup_id = ps_sock_cgroup_id(sk, direct);
  if (!cgroup_id) {
    count_drop(PS_DROP_NO_CGROUP);
    return 0;
  }

  struct ps_tcp_counts* counts = counts_of(cgroup_id);
  if (!counts) return 0;

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
  if (oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE)
    __sync_fetch_and_add(&counts->events[PS_TCP_CONNECT_FAILURES], 1);

  if (!count_sockets) return 0;
  if (!direct || !use_sk_storage) {
    const struct ps_sock_mark child = {
        .cgroup_id = cgroup_id, .family = fam, .kind = PS_SOCK_TCP, .child = 1};

    track_child_without_storage(sk, child_clone ? &child : 0, oldstate, newstate, direct);
    return 0;
  }
  if (child_clone) {
    /* A new accepted child: open from now on, as far as container_sockets is concerned. */
    struct ps_sock_mark* mark =
        bpf_sk_storage_get(&ps_sock_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!mark) {
      count_drop(PS_DROP_NO_MARK);
      return 0;
    }
    mark->cgroup_id = cgroup_id;
    mark->family = fam;
    mark->kind = PS_SOCK_TCP;
    mark->child = 1;
    __sync_fetch_and_add(&counts->sockets[fam][PS_SOCK_TCP], 1);
    __sync_fetch_and_add(&counts->transitions, 1);
  } else if (newstate == TCP_CLOSE && !sk->sk_socket) {
    /* Dying without a struct socket: a child that was never accepted (a released socket has a
     * mark already marked released, or none if it predates us). */
    struct ps_sock_mark* mark = bpf_sk_storage_get(&ps_sock_marks, sk, 0, 0);
    if (mark && mark->child && !mark->released) {
      mark->released = 1;
      add_sockets(mark->cgroup_id, mark->family, mark->kind, -1);
    }
  }
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_state_tp_btf, struct sock* sk, const int oldstate, const int newstate) {
  return on_set_state(sk, oldstate, newstate, true);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(ps_state_raw_tp, struct sock* sk, const int oldstate, const int newstate) {
  return on_set_state(sk, oldstate, newstate, false);
}

/* ---- TCP health counters ---- */

/*
 * Segments in the retransmitted skb: tcp_skb_pcount(skb), which is what the kernel adds to
 * RetransSegs (nstat's TcpRetransSegs); one skb holds several segments under TSO/GSO, on loopback
 * too. It is TCP_SKB_CB(skb)->tcp_gso_segs, a u16 at byte 8 of skb->cb: struct tcp_skb_cb is a
 * cast over cb, not a field (so not CO-RE-relocatable, and absent from some kernels' BTF), and
 * its head {u32 seq; u32 end_seq; union {u32 tcp_tw_isn; {u16 tcp_gso_segs; ...}}} is the same
 * from 4.x to 7.2. Only cb's own offset in sk_buff is relocated.
 */
static __always_inline __u64 retransmitted_segments(const struct sk_buff* skb) {
  __u16 segs = 0;

  if (skb)
    bpf_probe_read_kernel(&segs, sizeof(segs),
                          (const char*)skb + bpf_core_field_offset(struct sk_buff, cb) + 8);
  return segs ? segs : 1;
}

static __always_inline int on_retransmit(const struct sock* sk, const struct sk_buff* skb, int err,
                                         bool direct) {
  if (err) return 0; /* the retransmit failed (6.x reports those too): nothing was sent */
  count_events(sk, PS_TCP_RETRANSMITS, retransmitted_segments(skb), direct);
  return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(ps_retrans_tp_btf, const struct sock* sk, const struct sk_buff* skb) {
  int err = retransmit_has_err ? (int)ctx[2] : 0;

  return on_retransmit(sk, skb, err, true);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(ps_retrans_raw_tp, const struct sock* sk, const struct sk_buff* skb) {
  int err = retransmit_has_err ? (int)ctx[2] : 0;

  return on_retransmit(sk, skb, err, false);
}

/* sk is NULL for a reset answering a segment no socket wanted (a closed port): no cgroup owns
 * it, so it is not counted per cgroup. */
static __always_inline int on_send_reset(const struct sock* sk, bool direct) {
  if (sk && is_full_socket(sk, direct)) count_event(sk, PS_TCP_RESETS_SENT, direct);
  return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(ps_rst_out_tp_btf, const struct sock* sk) { return on_send_reset(sk, true); }

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(ps_rst_out_raw_tp, const struct sock* sk) { return on_send_reset(sk, false); }

static __always_inline int on_receive_reset(const struct sock* sk, bool direct) {
  if (sk && is_full_socket(sk, direct)) count_event(sk, PS_TCP_RESETS_RECEIVED, direct);
  return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(ps_rst_in_tp_btf, const struct sock* sk) { return on_receive_reset(sk, true); }

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(ps_rst_in_raw_tp, const struct sock* sk) { return on_receive_reset(sk, false); }

/* ---- Open sockets of every kind ---- */

static __always_inline __u32 sock_kind(__u32 type, __u32 protocol) {
  switch (type) {
    case 1: /* SOCK_STREAM */
      return protocol == IPPROTO_TCP ? PS_SOCK_TCP : PS_SOCK_OTHER_STREAM;
    case 2: /* SOCK_DGRAM */
      if (protocol == IPPROTO_UDP) return PS_SOCK_UDP;
      return protocol == IPPROTO_UDPLITE ? PS_SOCK_UDPLITE : PS_SOCK_OTHER_DGRAM;
    case 3: /* SOCK_RAW */
      return PS_SOCK_RAW;
    default:
      return PS_SOCK_OTHER;
  }
}

/* Runs in the creating task's context, so its cgroup is the socket's (sk_cgrp_data is set from
 * it). Always allows the socket: returning 1. */
SEC("cgroup/sock_create")
int ps_sock_create(struct bpf_sock* ctx) {
  __u32 family = ctx->family;

  if (family != PS_AF_INET && family != PS_AF_INET6) return 1;
  __u64 cgroup_id = bpf_get_current_cgroup_id();
  __u32 fam = family == PS_AF_INET6 ? PS_FAMILY_INET6 : PS_FAMILY_INET;

  if (!use_sk_storage || release_reads_sk_cgroup) {
    add_sockets(cgroup_id, fam, sock_kind(ctx->type, ctx->protocol), 1);
    return 1;
  }
  struct ps_sock_mark* mark =
      bpf_sk_storage_get(&ps_sock_marks, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);

  if (!mark) {
    count_drop(PS_DROP_NO_MARK);
    return 1;
  }
  mark->cgroup_id = cgroup_id;
  mark->family = fam;
  mark->kind = sock_kind(ctx->type, ctx->protocol);
  add_sockets(cgroup_id, mark->family, mark->kind, 1);
  return 1;
}

/* The last close() of a socket with a struct socket (inet_release). A socket without a mark was
 * opened before the programs were attached and is in the seeded baseline, or was not marked
 * (release_reads_sk_cgroup: only accepted children are; or there are no marks on this kernel): it
 * comes off the cgroup it was created in where the socket says (release_reads_sk_cgroup), else
 * off the closing task's cgroup, which created it unless it was passed over a unix socket. */
SEC("cgroup/sock_release")
int ps_sock_release(struct bpf_sock* ctx) {
  __u32 family = ctx->family;

  if (family != PS_AF_INET && family != PS_AF_INET6) return 1;
  const __u32 type = ctx->type, protocol = ctx->protocol;
  /* With release_reads_sk_cgroup only accepted TCP children carry marks. */
  const bool may_have_mark =
      use_sk_storage &&
      (!release_reads_sk_cgroup || (type == 1 /* SOCK_STREAM */ && protocol == IPPROTO_TCP));
  struct ps_sock_mark* mark = may_have_mark ? bpf_sk_storage_get(&ps_sock_marks, ctx, 0, 0) : 0;

  if (mark) {
    if (!mark->released) {
      mark->released = 1;
      add_sockets(mark->cgroup_id, mark->family, mark->kind, -1);
    }
    return 1;
  }
  __u64 cgroup_id;
  if (release_reads_sk_cgroup) {
    const struct sock* sk = bpf_rdonly_cast(ctx, bpf_core_type_id_kernel(struct sock));

    cgroup_id = ps_sock_cgroup_id(sk, true);
    if (!cgroup_id) {
      count_drop(PS_DROP_NO_CGROUP);
      return 1;
    }
  } else {
    cgroup_id = bpf_get_current_cgroup_id();
  }
  add_sockets(cgroup_id, family == PS_AF_INET6 ? PS_FAMILY_INET6 : PS_FAMILY_INET,
              sock_kind(type, protocol), -1);
  return 1;
}
