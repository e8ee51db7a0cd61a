/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ABI shared by bpf/task_cpu.bpf.c and userspace/bpf/task_cpu_program.cc: plain C, fixed-width
 * types, explicit padding. The C++ side static_asserts every size.
 *
 * Included from BPF (after vmlinux.h, which defines __u64 and friends) and from C++ (where
 * <linux/types.h> defines them).
 *
 * Units: nanoseconds. The times are the scheduler's own per-thread accounting, not clock reads.
 */
#ifndef PODSTAT_ABI_TASK_CPU_H
#define PODSTAT_ABI_TASK_CPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ps_cpu_tasks key: a thread id as the kernel numbers it in the initial pid namespace
 * (task_struct.pid, what /proc/<tid> shows on the host). */
struct ps_task_key {
  __u32 tid;
};

/* ps_cpu_tasks value: the thread's own cumulative counters, as the scheduler keeps them in its
 * task_struct, at the moment they were last charged to a cgroup. At each switch-out the program
 * charges the growth since then and stores the new values.
 * task says which thread the entry belongs to: a tid can change hands while an entry for it
 * exists (a non-leader thread that calls execve() takes over the leader's tid while the leader
 * may not have made its last switch-out yet), and counters of another thread must never be
 * subtracted. Entries are deleted when their thread dies, so an address is not reused under the
 * same tid while its entry lives. */
struct ps_task_times {
  __u64 task;         /* address of the thread's task_struct (an identity, never dereferenced) */
  __u64 on_cpu_ns;    /* task_struct.se.sum_exec_runtime (as cpuacct and /proc/<tid>/schedstat) */
  __u64 run_delay_ns; /* task_struct.sched_info.run_delay, 0 without CONFIG_SCHED_INFO */
};

/* ps_cpu_cgroups key: the cgroup v2 id (inode of the cgroup's directory) of the thread that was
 * switched out, read at switch-out. */
struct ps_cpu_cgroup_key {
  __u64 cgroup_id;
};

/* ps_cpu_cgroups value, one per CPU (a per-CPU hash: no atomics on the hot path); userspace sums
 * the CPUs. Both are monotonic counters since attach: BPF only adds, userspace only deletes the
 * entry of a cgroup that is gone. A slice is charged on the CPU it ran on, together with the wait
 * that preceded it (wherever that wait was). */
struct ps_cgroup_cpu {
  __u64 on_cpu_ns;        /* time threads of the cgroup ran */
  __u64 runqueue_wait_ns; /* time they were runnable but waited for a CPU */
};

/* ps_cpu_stats: a per-CPU array indexed by this enum, each a __u64 counter of events BPF could
 * not account for. Exported as podstat_bpf_drops_total{reason}. */
enum ps_cpu_drop_reason {
  PS_CPU_DROP_TASK_MAP_FULL = 0,   /* ps_cpu_tasks had no room for a thread: that slice lost */
  PS_CPU_DROP_CGROUP_MAP_FULL = 1, /* ps_cpu_cgroups had no room: a slice and its wait lost */
  /* inserting into ps_cpu_cgroups failed with -EBUSY (the bucket locked on this CPU by an update
   * it interrupted) or raced a deletion: a slice and its wait lost, though the map has room */
  PS_CPU_DROP_CGROUP_MAP_BUSY = 2,
  PS_CPU_DROP_REASON_COUNT = 3,
};

#endif /* PODSTAT_ABI_TASK_CPU_H */
