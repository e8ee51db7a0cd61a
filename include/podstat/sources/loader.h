// Builds every source of the registry from the flags: loads the eBPF programs (the only place
// outside the BPF sources that knows whether they are built in), decides each fallback, and says
// in the log what was chosen and why. The agent and --check load the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "podstat/sources/source.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

namespace podstat::sources {

struct SourceConfig {
  HostPaths paths;
  std::string cgroup_root;        // the cgroup v2 mount
  bool collect_cpu = true;        // --collector.cpu
  bool collect_memory = true;     // --collector.memory
  bool collect_pressure = true;   // --collector.pressure
  size_t process_top = 0;         // --collector.process: top N processes, 0 = off
  bool collect_network = true;    // --collector.network
  bool include_loopback = false;  // --collector.network.loopback
  bool bpf = true;                // --[no-]bpf
  bool bpf_cpu = true;            // --[no-]bpf.cpu
  std::string bpf_tracepoint_type = "auto";
  uint32_t bpf_max_cgroups = 8192;
  uint32_t bpf_max_tasks = 65536;
  std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
  std::string pin_dir;     // --bpf.pin: where the maps are pinned; empty: not pinned
  size_t cgroups_now = 0;  // cgroups that exist at start: the maps get headroom over them
};

// What was decided about each program, for the status page.
struct BpfDecisions {
  bool built_in = false;  // built with -DPODSTAT_BPF=ON
  // Why no program was even tried ("--no-bpf", the kernel BTF is missing); empty when tried.
  std::string disabled;
  // SockStateProgram::Load failed: its reason. Empty when it attached (or was not tried).
  std::string sock_state_error;
  // It attached, but after these attempts failed (cgroup socket programs, socket-local storage,
  // tp_btf): SockStateProgram::fallback_reasons().
  std::string sock_state_fallbacks;
  bool marks_in_storage = false;  // cgroup socket programs keep marks in socket-local storage
  // Why the sched_switch program was not tried ("--no-bpf.cpu", "--no-collector.cpu"), or why its
  // load failed.
  std::string cpu_disabled;
  std::string cpu_error;
};

struct LoadedSources {
  std::vector<std::unique_ptr<Source>> sources;  // in the registry's order
  BpfDecisions bpf;
  // What would be lost, one line each (--check lists them; the agent has logged them).
  std::vector<std::string> problems;
};

LoadedSources LoadSources(const SourceConfig& config, Logger& logger);

// --check's kernel lines before the sources: (what, verdict), and the problems they show.
struct CheckLine {
  std::string what;
  std::string verdict;
};
std::vector<CheckLine> CheckKernel(const SourceConfig& config, std::vector<std::string>& problems);

// libbpf's messages into the logger (no-op without eBPF).
void RouteBpfLogs(Logger& logger);
// uname's release as the eBPF loader saw it; "" without eBPF.
std::string KernelRelease();

}  // namespace podstat::sources
