// What the kernel says about the loaded programs of a BPF object (bpf_prog_info): how often each
// was skipped for recursion, and its run statistics when kernel.bpf_stats_enabled is on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_program;

namespace podstat::bpf {

struct ProgramRunStats {
  std::string name;          // the BPF program's name, as `bpftool prog show` lists it
  bool tracing = false;      // tp_btf or raw_tp: the kinds the kernel skips on recursion
  uint64_t run_time_ns = 0;  // with kernel.bpf_stats_enabled=1, else 0
  uint64_t run_count = 0;    // ditto
  // Runs the kernel skipped because the same program was already running on that CPU
  // (bpf_prog_info.recursion_misses). A tracing program runs at most once per CPU at a time; on
  // kernels where it can be preempted (7.x with lazy preemption, PREEMPT_RT) another task that
  // fires the same tracepoint on that CPU meanwhile is skipped, and its event is lost.
  uint64_t recursion_misses = 0;
  bool recursion_misses_reported = false;  // the kernel has the field (5.12+)
};

// One loaded program; nullopt when it is not loaded or the kernel will not describe it.
std::optional<ProgramRunStats> ReadRunStats(const bpf_program* program);
// Every program of the object that was loaded (autoload on), in the object's order.
std::vector<ProgramRunStats> ReadRunStats(const bpf_object* object);

}  // namespace podstat::bpf
