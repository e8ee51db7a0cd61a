// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * CPU time and run-queue wait per cgroup, charged at every context switch.
 *
 * The scheduler already keeps both per thread, in the thread's task_struct: se.sum_exec_runtime
 * (on-CPU time, the source of cpuacct.usage, cpu.stat usage_usec and /proc/<tid>/schedstat) and
 * sched_info.run_delay (time runnable but waiting for a CPU: queued after a wakeup, after being
 * preempted, and across migrations between run queues). At sched_switch the outgoing thread's
 * counters are final for the slice that just ended, so the program charges their growth since
 * the thread's previous switch-out to the thread's cgroup. No clock is read and no wakeup is
 * traced: the kernel did that work already (bpf_ktime_get_ns() alone measured ~110 ns on the
 * development VM, and a sched_wakeup program runs about as often as sched_switch).
 *
 * Programs (each in a tp_btf (5.5+, preferred) and a raw_tp (4.17+) flavour sharing one body;
 * userspace probes the kernel and loads exactly one flavour):
 * - sched_switch: two map operations, one per-thread hash lookup (ps_cpu_tasks) and one per-CPU
 *   hash lookup (ps_cpu_cgroups; inserts only for a new thread or cgroup), and no atomics. The
 *   thread id and cgroup are the outgoing thread's: the tracepoint fires before the switch, so
 *   `current` is still that thread (tp_btf reads both from `prev` with plain loads, raw_tp asks
 *   the helpers about `current`: see ps_current_cgroup_id). A thread's entry is deleted at its
 *   last switch-out (state TASK_DEAD), after its last slice has been charged; deleting it at
 *   sched_process_exit instead would lose that slice and see the entry re-inserted by it.
 * - sched_wakeup_new (once per new thread): records the new thread's (zero) counters, so that its
 *   first slice and the wait before it are charged too.
 *
 * Accuracy:
 * - Exactly the kernel's per-thread accounting, attributed per slice: on-CPU time as cpuacct counts
 *   it (the run queue's clock_task, which leaves out IRQ time under CONFIG_IRQ_TIME_ACCOUNTING and
 *   steal time under paravirt steal accounting), wait as schedstat's run_delay.
 * - A thread that already existed at attach is counted from its first switch-out after attach
 *   (that one slice, and the wait before it, is not charged).
 * - A slice is charged when it ends: a thread that runs without being switched out (alone on its
 *   CPU, nohz_full) shows its time late.
 * - The cgroup is read at switch-out: a thread moved to another cgroup while running has its whole
 *   slice, and the wait before it, charged to the new cgroup.
 * - Without CONFIG_SCHED_INFO the kernel keeps no run_delay; the wait is then 0 (userspace can
 *   tell from the kernel's BTF).
 * - A non-leader thread that calls execve() takes over the leader's tid: the slice in which it
 *   does, and the leader's last one, are not charged, and its entry under the old tid may stay
 *   until that tid is reused.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "core_fixes.bpf.h"
#include "podstat/abi/task_cpu.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * ps_cpu_tasks
 *   key:   struct ps_task_key   (thread id)
 *   value: struct ps_task_times (which thread, and its cumulative on-CPU and run-queue wait, ns,
 *          as of its last switch-out)
 *   inserted by: sched_wakeup_new for a new thread; sched_switch for a thread that existed before
 *                attach, at its first switch-out.
 *   deleted by:  sched_switch, at the thread's last switch-out (TASK_DEAD).
 *   size: set before load to min(kernel.pid_max, --bpf.max-tasks): thread ids are below pid_max,
 *   so the map cannot fill up unless capped. Preallocated (a hash in a tracing program must be on
 *   older kernels), so the cap bounds its memory, about 96 bytes an entry.
 *   Not task-local storage, though its lookup costs ~33 ns against the hash's ~61 ns on the
 *   development VM: it would be created here, under the run-queue lock, by an allocation that
 *   older kernels make with GFP_ATOMIC kmalloc (which may wake kswapd, taking a run-queue lock),
 *   and userspace cannot list it (ListTasks; docs/performance.md has the figures).
 */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, struct ps_task_key);
  __type(value, struct ps_task_times);
} ps_cpu_tasks SEC(".maps");

/*
 * ps_cpu_cgroups
 *   key:   struct ps_cpu_cgroup_key (cgroup v2 id of the thread switched out)
 *   value: struct ps_cgroup_cpu, per CPU (on-CPU and run-queue wait time, ns, since attach)
 *   inserted by: sched_switch, when a cgroup's first slice ends on any CPU.
 *   deleted by:  userspace (TaskCpuProgram::DeleteCgroup), once the cgroup directory is proven
 *                gone (kernfs handle, or a complete walk after the entry was read); its final
 *                totals are then kept on its nearest remaining ancestor (app/collector.cc).
 *   size: set before load from --bpf.max-cgroups (default 8192). A per-CPU hash: 16 bytes x CPUs
 *   per entry, and no atomic adds on the hottest path in the kernel.
 */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 8192);
  __type(key, struct ps_cpu_cgroup_key);
  __type(value, struct ps_cgroup_cpu);
} ps_cpu_cgroups SEC(".maps");

/*
 * ps_cpu_stats
 *   key:   __u32, an enum ps_cpu_drop_reason
 *   value: __u64 per CPU, events that could not be accounted for that reason
 *   inserted by: the kernel at map creation (array); never deleted. Read and summed by userspace.
 */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PS_CPU_DROP_REASON_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} ps_cpu_stats SEC(".maps");

static __always_inline void count_drop(__u32 reason) {
  __u64* value = bpf_map_lookup_elem(&ps_cpu_stats, &reason);

  if (value) *value += 1; /* per-CPU slot: no other CPU writes it */
}

/* Adds a finished slice and the wait before it to the current thread's cgroup, on this CPU. */
static __always_inline void charge_current_cgroup(__u64 cgroup_id, __u64 on_cpu_ns, __u64 wait_ns) {
  struct ps_cpu_cgroup_key key = {.cgroup_id = cgroup_id};
  struct ps_cgroup_cpu* totals = bpf_map_lookup_elem(&ps_cpu_cgroups, &key);

  if (!totals) {
    /* First slice of this cgroup: a BPF update of a per-CPU hash sets this CPU's value and zeroes
     * the others. BPF_NOEXIST: another CPU may have inserted it meanwhile, then add to it. */
    struct ps_cgroup_cpu first = {.on_cpu_ns = on_cpu_ns, .runqueue_wait_ns = wait_ns};
    long err = bpf_map_update_elem(&ps_cpu_cgroups, &key, &first, BPF_NOEXIST);

    if (!err) return;
    totals = err == -PS_EEXIST ? bpf_map_lookup_elem(&ps_cpu_cgroups, &key) : NULL;
    if (!totals) {
      /* -EBUSY (the bucket locked by an update interrupted on this CPU), or an entry deleted
       * between -EEXIST and the lookup, is not a matter of room; anything else is. */
      count_drop(err == -PS_EBUSY || err == -PS_EEXIST ? PS_CPU_DROP_CGROUP_MAP_BUSY
                                                       : PS_CPU_DROP_CGROUP_MAP_FULL);
      return;
    }
  }
  totals->on_cpu_ns += on_cpu_ns;
  totals->runqueue_wait_ns += wait_ns;
}

static __always_inline int on_switch(bool preempt, struct task_struct* prev, bool direct) {
  /* The outgoing thread is `current`; tid 0 is this CPU's idle task, which is not accounted. */
  struct ps_task_key key = {.tid = ps_current_tid(prev, direct)};
  if (!key.tid) return 0;

  const __u64 task = (__u64)prev;
  const __u64 on_cpu = PS_READ(direct, prev, se.sum_exec_runtime);
  const __u64 run_delay = ps_task_run_delay(prev, direct);
  /* The last switch-out: do_task_dead() sets TASK_DEAD and schedules for good. A preemption
   * between the two is not the last one. */
  const bool dead = !preempt && (ps_task_state(prev, direct) & PS_TASK_DEAD);
  __u64 on_cpu_delta = 0, wait_delta = 0;

  struct ps_task_times* times = bpf_map_lookup_elem(&ps_cpu_tasks, &key);
  if (times && times->task == task) {
    /* The counters only grow; the checks keep a missed reset from charging 2^64 ns. */
    if (on_cpu > times->on_cpu_ns) on_cpu_delta = on_cpu - times->on_cpu_ns;
    if (run_delay > times->run_delay_ns) wait_delta = run_delay - times->run_delay_ns;
  }
  /* else: the first switch-out of a thread that existed before attach, or an entry of another
   * thread that held this tid. The thread's counters hold time from before attach (or another
   * thread's was stored), so nothing is charged: they become the baseline. */

  if (dead) {
    if (times) bpf_map_delete_elem(&ps_cpu_tasks, &key);
  } else if (times) {
    times->task = task;
    times->on_cpu_ns = on_cpu;
    times->run_delay_ns = run_delay;
  } else {
    struct ps_task_times first = {.task = task, .on_cpu_ns = on_cpu, .run_delay_ns = run_delay};
    if (bpf_map_update_elem(&ps_cpu_tasks, &key, &first, BPF_NOEXIST))
      count_drop(PS_CPU_DROP_TASK_MAP_FULL);
  }

  if (on_cpu_delta | wait_delta)
    charge_current_cgroup(ps_current_cgroup_id(prev, direct), on_cpu_delta, wait_delta);
  return 0;
}

/* A new thread, not yet run: its counters (zero) are the baseline, so everything it does from now
 * on is charged, its first slice included. Overwrites any entry left under its tid (by a thread
 * that gave the tid up in execve()). */
static __always_inline int on_wakeup_new(struct task_struct* task, bool direct) {
  struct ps_task_key key = {.tid = PS_READ(direct, task, pid)};
  struct ps_task_times first = {
      .task = (__u64)task,
      .on_cpu_ns = PS_READ(direct, task, se.sum_exec_runtime),
      .run_delay_ns = ps_task_run_delay(task, direct),
  };

  if (key.tid && bpf_map_update_elem(&ps_cpu_tasks, &key, &first, BPF_ANY))
    count_drop(PS_CPU_DROP_TASK_MAP_FULL);
  return 0;
}

/* sched_switch's arguments: (bool preempt, prev, next) since 4.4, plus `unsigned int prev_state`
 * since 5.18; only the first two are used, so one signature serves every kernel. */
SEC("tp_btf/sched_switch")
int BPF_PROG(ps_switch_tp_btf, bool preempt, struct task_struct* prev) {
  return on_switch(preempt, prev, true);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(ps_switch_raw_tp, bool preempt, struct task_struct* prev) {
  return on_switch(preempt, prev, false);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new_tp_btf, struct task_struct* task) { return on_wakeup_new(task, true); }

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(ps_wakeup_new_raw_tp, struct task_struct* task) { return on_wakeup_new(task, false); }
