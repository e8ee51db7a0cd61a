// Loads and attaches bpf/task_cpu.bpf.c (on-CPU time and run-queue wait per cgroup, charged at
// sched_switch from the scheduler's own per-thread counters) and reads its maps. One object owns
// the skeleton, and with it every program, link and map fd: destroying it detaches everything and
// removes the pins.
//
// Accuracy, in short (bpf/task_cpu.bpf.c says more): the times are the kernel's (on-CPU time as
// cpuacct.usage counts it, wait as /proc/<tid>/schedstat's run_delay), charged per slice to the
// cgroup the thread is in at switch-out. A slice is charged when it ends, so a thread that runs
// without being switched out shows its time late; a thread that existed at attach is counted from
// its first switch-out; a thread moved to another cgroup while running has that slice charged to
// the new one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/abi/task_cpu.h"
#include "podstat/bpf/libbpf_util.h"
#include "podstat/bpf/program_info.h"
#include "podstat/bpf/sock_state_program.h"  // TracepointType
#include "podstat/util/log.h"

struct task_cpu_bpf;

namespace podstat::bpf {

struct TaskCpuOptions {
  // One flavour for both programs (sched_switch, sched_wakeup_new); kAuto prefers tp_btf and
  // falls back to raw_tp.
  TracepointType tracepoint = TracepointType::kAuto;
  // Where the host's /proc is; <procfs>/sys/kernel/pid_max sizes ps_cpu_tasks.
  std::string procfs = "/proc";
  // Cap on ps_cpu_tasks max_entries (the map is min(pid_max, max_tasks)): one entry per live
  // thread that has run since attach, preallocated at ~96 bytes each (bpftool's memlock), charged
  // to the agent's memory cgroup on 5.11+. pid_max is 4194304 on many distributions (~400 MB);
  // 65536 entries take ~6.3 MB, three times the threads of 1000 containers with 20 each. Threads
  // beyond it are not accounted, and counted as drops.
  uint32_t max_tasks = 65536;
  uint32_t max_cgroups = 8192;  // ps_cpu_cgroups max_entries
  std::string pin_dir;          // e.g. /sys/fs/bpf/podstat; empty: do not pin
};

// Whether this kernel's BTF describes the scheduler tracepoints used (tp_btf is usable).
bool SchedTracepointsHaveBtf();
// Whether this kernel keeps per-thread run-queue wait (task_struct.sched_info, CONFIG_SCHED_INFO).
// Without it runqueue_wait_ns stays 0 and should not be exported.
bool KernelKeepsRunDelay();

class TaskCpuProgram {
 public:
  // Names of the attachable flavours, for podstat_bpf_program_attached{program}.
  static constexpr std::array<std::string_view, 2> kPrograms = {"sched_switch_tp_btf",
                                                                "sched_switch_raw_tp"};

  struct CgroupCpuTotals {
    uint64_t cgroup_id = 0;
    uint64_t on_cpu_ns = 0;         // summed over CPUs, since attach
    uint64_t runqueue_wait_ns = 0;  // summed over CPUs, since attach
  };

  // Per-program statistics from the kernel (bpf_prog_info); the run time and count stay 0 unless
  // the sysctl kernel.bpf_stats_enabled is 1.
  using ProgramRunStats = bpf::ProgramRunStats;

  // Opens, sizes, loads and attaches. On failure returns nullptr and a one-line reason in *error;
  // the verifier's log goes to the logger at debug level (see RouteLibbpfLogs).
  static std::unique_ptr<TaskCpuProgram> Load(const TaskCpuOptions& options, Logger& logger,
                                              std::string* error);
  ~TaskCpuProgram();
  TaskCpuProgram(const TaskCpuProgram&) = delete;
  TaskCpuProgram& operator=(const TaskCpuProgram&) = delete;

  // The flavour attached: "sched_switch_tp_btf" or "sched_switch_raw_tp".
  const std::string& attached_program() const { return attached_program_; }
  TracepointType tracepoint_type() const { return type_; }
  uint32_t max_tasks() const { return max_tasks_; }
  uint32_t max_cgroups() const { return max_cgroups_; }
  bool runqueue_wait_supported() const { return runqueue_wait_supported_; }

  // Every entry of ps_cpu_cgroups, per-CPU values summed. Reuses internal buffers: call from one
  // thread (the sampler).
  bool ReadCgroupTotals(std::vector<CgroupCpuTotals>& out, std::string* error) const;
  // Removes a cgroup's entry (call once its directory is gone); false if it was not there.
  bool DeleteCgroup(uint64_t cgroup_id) const;
  // ps_cpu_stats summed over CPUs, indexed by enum ps_cpu_drop_reason.
  std::array<uint64_t, PS_CPU_DROP_REASON_COUNT> ReadDrops() const;
  // Thread ids in ps_cpu_tasks, and their number (iterate the keys: for tests and diagnostics;
  // approximate while threads come and go).
  std::vector<uint32_t> ListTasks() const;
  size_t CountTasks() const { return ListTasks().size(); }
  // Statistics of the attached programs.
  std::vector<ProgramRunStats> ReadRunStats() const;

 private:
  struct SkeletonDeleter {
    void operator()(task_cpu_bpf* skeleton) const;
  };
  TaskCpuProgram() = default;

  std::unique_ptr<task_cpu_bpf, SkeletonDeleter> skeleton_;
  TracepointType type_ = TracepointType::kAuto;
  std::string attached_program_;
  uint32_t max_tasks_ = 0;
  uint32_t max_cgroups_ = 0;
  uint32_t possible_cpus_ = 0;
  bool runqueue_wait_supported_ = false;
  MapPins pins_;  // declared after the skeleton: unpinned before it is destroyed
  mutable bool batch_supported_ = true;
  mutable std::vector<ps_cpu_cgroup_key> batch_keys_;
  mutable std::vector<ps_cgroup_cpu> batch_values_;  // max_cgroups x possible CPUs
};

}  // namespace podstat::bpf
