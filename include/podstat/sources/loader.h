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
#include "podstat/util/flags.h"
#include "podstat/util/host_paths.h"
#include "podstat/util/log.h"

namespace podstat::sources {

// Every source's settings. The flags that set them are registered by the sources themselves
// (RegisterSourceFlags); the defaults are the flags' defaults.
struct SourceConfig {
  HostPaths paths;                           // set by main from --path.*
  std::string cgroup_root;                   // the cgroup v2 mount, found at start
  bool collect_cpu = true;                   // --[no-]collector.cpu
  bool collect_memory = true;                // --[no-]collector.memory
  bool collect_pressure = true;              // --[no-]collector.pressure
  bool collect_process = false;              // --[no-]collector.process
  uint32_t process_top = 5;                  // --collector.process.top
  bool collect_network = true;               // --[no-]collector.network
  bool include_loopback = false;             // --[no-]collector.network.loopback
  bool bpf = true;                           // --[no-]bpf
  bool bpf_cpu = true;                       // --[no-]bpf.cpu
  bool bpf_pin = false;                      // --[no-]bpf.pin: maps pinned under kPinDir
  std::string bpf_tracepoint_type = "auto";  // --bpf.tracepoint-type
  uint32_t bpf_max_cgroups = 8192;           // --bpf.max-cgroups
  uint32_t bpf_max_tasks = 65536;            // --bpf.max-tasks
  // --bpf.reconcile-interval
  std::chrono::milliseconds reconcile_interval{std::chrono::minutes(5)};
  size_t cgroups_now = 0;  // cgroups that exist at start: the maps get headroom over them
};

// Where --bpf.pin pins the maps (a bpffs is mounted there if none is).
inline constexpr const char* kPinDir = "/sys/fs/bpf/podstat";

// Registers every source's flags on `app`, bound to `config`: the eBPF flags the BPF sources
// share here, then each source's own, from its file (sources.h).
void RegisterSourceFlags(CLI::App& app, SourceConfig& config);

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
