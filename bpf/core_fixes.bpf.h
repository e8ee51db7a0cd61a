/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every kernel-compatibility shim lives here, each with the kernels it serves and why, so that the
 * programs themselves read as if there were one kernel.
 */
#ifndef PODSTAT_CORE_FIXES_BPF_H
#define PODSTAT_CORE_FIXES_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* Address families and the root cgroup id are #defines in the kernel, so vmlinux.h lacks them. */
#define PS_AF_INET 2
#define PS_AF_INET6 10
#define PS_ROOT_CGROUP_ID 1 /* kernfs id of the cgroup v2 root directory */
/* errno values the programs tell apart (include/uapi/asm-generic/errno-base.h). */
#define PS_EBUSY 16  /* a hash map's update: the bucket is locked on this CPU already */
#define PS_EEXIST 17 /* an update with BPF_NOEXIST: the key is there already */

/*
 * struct sock_cgroup_data before Linux 5.15 (commit 8520e224f547, "bpf, cgroups: Fix cgroup v2
 * fallback on v1/v2 mixed mode"): a u64 that is either a cgroup pointer or, once the v1 net_cls or
 * net_prio controller tagged the socket, packed classid/prioidx with bit 0 set. In the latter case
 * the kernel itself attributes the socket to the v2 root (sock_cgroup_ptr()), so we do the same.
 * 5.15 and later have separate fields: { struct cgroup *cgroup; u32 classid; u16 prioidx; }.
 * The ___pre515 suffix makes libbpf match this flavour against the kernel's sock_cgroup_data.
 */
struct sock_cgroup_data___pre515 {
  union {
    struct {
      __u8 is_data;
      __u8 padding;
      __u16 prioidx;
      __u32 classid;
    };
    __u64 val;
  };
};

/* Reads a field of a BTF-typed pointer with a plain load (tp_btf, and pointers from
 * bpf_rdonly_cast) or with bpf_probe_read_kernel (raw_tp: the pointer is a plain integer). A
 * helper call costs ~20 ns on the development VM (see ps_current_cgroup_id), a load nothing. */
#define PS_READ(direct, ptr, field) ((direct) ? (ptr)->field : BPF_CORE_READ(ptr, field))

/*
 * The cgroup v2 id (kernfs node id, equal to the inode number of the cgroup's directory) of the
 * cgroup that owns a socket. Sockets keep the cgroup of the task that created them (accepted
 * children inherit the listener's), which is what we want in softirq and timer context where the
 * current task is unrelated. kernfs_node.id is a u64 since 5.5; older kernels are not supported.
 * Returns 0 when the socket carries no cgroup. `direct`: plain loads (a BTF-typed sk), else probe
 * reads. The pre-5.15 layout always uses probe reads: its cgroup pointer is a tagged integer.
 */
static __always_inline __u64 ps_sock_cgroup_id(const struct sock* sk, bool direct) {
  struct cgroup* cgrp;

  if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
    if (direct) {
      cgrp = sk->sk_cgrp_data.cgroup;
      return cgrp ? cgrp->kn->id : 0;
    }
    cgrp = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
  } else {
    const struct sock_cgroup_data___pre515* data =
        (const void*)__builtin_preserve_access_index(&sk->sk_cgrp_data);
    __u64 val = BPF_CORE_READ(data, val);

    if (val & 1) return PS_ROOT_CGROUP_ID;
    cgrp = (struct cgroup*)(unsigned long)val;
  }
  if (!cgrp) return 0;
  return BPF_CORE_READ(cgrp, kn, id);
}

/*
 * sk->sk_protocol was an 8-bit bitfield before 5.6 and is a u16 since; the bitfield reads handle
 * both layouts through CO-RE relocations (BPF_CORE_READ_BITFIELD with a plain load, the PROBED
 * variant with bpf_probe_read_kernel).
 */
static __always_inline __u16 ps_sock_protocol(const struct sock* sk, bool direct) {
  if (direct) return (__u16)BPF_CORE_READ_BITFIELD(sk, sk_protocol);
  return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* ---------------------------------------------------------------------------------------------
 * Scheduler (task_cpu.bpf.c)
 *
 * Every helper takes `direct`, a compile-time constant: tp_btf programs get BTF-typed task
 * pointers and read fields with plain loads (relocated by CO-RE through the preserve_access_index
 * attribute vmlinux.h puts on every struct), raw_tp programs get untyped u64 arguments and must go
 * through bpf_probe_read_kernel (BPF_CORE_READ), a helper call per field.
 */

/*
 * The thread id and the cgroup v2 id of the task switched out, which is `current` when
 * sched_switch fires. tp_btf reads them from the task_struct with plain loads
 * (task->cgroups->dfl_cgrp->kn->id is exactly what bpf_get_current_cgroup_id() returns:
 * task_dfl_cgroup(current)->kn->id; kernfs_node.id is a u64 since 5.5). raw_tp calls the helpers,
 * which read `current`: one call each, where a chain of bpf_probe_read_kernel would be three.
 * Why it matters: on the development VM (AMD EPYC, spec_rstack_overflow "Safe RET", retpolines)
 * every helper call costs ~20 ns, and bpf_get_current_cgroup_id() ~40 ns, against ~58 ns for a
 * whole empty tp_btf program; the loads cost nothing measurable.
 */
static __always_inline __u32 ps_current_tid(const struct task_struct* current_task, bool direct) {
  return direct ? (__u32)current_task->pid : (__u32)bpf_get_current_pid_tgid();
}

static __always_inline __u64 ps_current_cgroup_id(const struct task_struct* current_task,
                                                  bool direct) {
  return direct ? current_task->cgroups->dfl_cgrp->kn->id : bpf_get_current_cgroup_id();
}

/* include/linux/sched.h #define, absent from vmlinux.h; 0x80 on every kernel since 4.14. */
#define PS_TASK_DEAD 0x00000080

/*
 * task_struct.state was a `volatile long` until Linux 5.14 (commit 2f064a59a11f, "sched: Change
 * task_struct::state"), which renamed it to `unsigned int __state` so that plain accesses would no
 * longer compile. The ___pre514 flavour lets libbpf match the old field on old kernels.
 */
struct task_struct___pre514 {
  long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int ps_task_state(const struct task_struct* task, bool direct) {
  if (bpf_core_field_exists(task->__state)) return PS_READ(direct, task, __state);
  const struct task_struct___pre514* old = (const void*)task;
  return (unsigned int)PS_READ(direct, old, state);
}

/*
 * Time the task has spent runnable but waiting for a CPU, in ns (the second field of
 * /proc/<tid>/schedstat): task_struct.sched_info.run_delay, kept by the scheduler when it is built
 * with CONFIG_SCHED_INFO (selected by SCHEDSTATS or TASK_DELAY_ACCT, on in every major
 * distribution). It grows at each switch-in by the time since the task was queued (after a wakeup
 * or after being preempted) and when a queued task is migrated. Since 5.14 it is kept whenever
 * CONFIG_SCHED_INFO is built in; before, with TASK_DELAY_ACCT alone, only while delay accounting
 * is on (the default then). Without the field the kernel keeps no such time: returns 0.
 */
static __always_inline __u64 ps_task_run_delay(const struct task_struct* task, bool direct) {
  if (bpf_core_field_exists(task->sched_info)) return PS_READ(direct, task, sched_info.run_delay);
  return 0;
}

#endif /* PODSTAT_CORE_FIXES_BPF_H */
