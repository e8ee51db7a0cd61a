#include "podstat/sources/loader.h"

#include <algorithm>

#include "podstat/cgroupfs/stats.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

#ifdef PODSTAT_HAVE_BPF
#include "podstat/bpf/sock_state_program.h"
#include "podstat/bpf/task_cpu_program.h"
#include "podstat/sources/bpf_sources.h"
#endif

namespace podstat::sources {
namespace {

#ifdef PODSTAT_HAVE_BPF
// Headroom over what exists now: a full hash map makes every update slow (DESIGN.md 10).
uint32_t MapCapacity(const SourceConfig& config) {
  return std::max<uint32_t>(config.bpf_max_cgroups, static_cast<uint32_t>(std::min<size_t>(
                                                        config.cgroups_now * 2, 1u << 24)));
}
#endif

// The /proc and cgroup-file sources, after the BPF ones; `bpf_tcp` / `bpf_sockets`: whether the
// BPF sources count TCP states / open sockets (their fallbacks run when they do not).
void AddFileSources(const SourceConfig& config, bool bpf_tcp, bool bpf_sockets,
                    std::vector<std::unique_ptr<Source>>& sources) {
  const cgroupfs::Hierarchies hierarchies =
      cgroupfs::FindHierarchies(config.paths, config.cgroup_root);
  sources.push_back(MakeProcTcpTablesSource(!bpf_tcp));
  sources.push_back(MakeProcSocketTablesSource(!bpf_sockets));
  sources.push_back(MakeProcSockstatSource());
  sources.push_back(MakeProcNetDevSource(config.collect_network, config.include_loopback));
  sources.push_back(MakeCgroupCpuSource(config.collect_cpu, hierarchies));
  sources.push_back(MakeCgroupMemorySource(config.collect_memory, hierarchies));
  sources.push_back(MakeCgroupPressureSource(config.collect_pressure));
  sources.push_back(MakeNodeMemorySource(config.collect_memory, hierarchies));
  sources.push_back(MakeProcProcessSource(config.collect_process ? config.process_top : 0));
}

void LogChoices(const LoadedSources& loaded, Logger& logger) {
  for (const auto& source : loaded.sources) {
    const SourceInfo& info = source->info();
    logger.Log(source->degraded()                             ? LogLevel::kWarn
               : source->active() || info.fallback_of.empty() ? LogLevel::kInfo
                                                              : LogLevel::kDebug,
               "sources", info.name, ": ", source->active() ? "" : "off, ", source->Describe());
  }
}

}  // namespace

void RegisterSourceFlags(CLI::App& app, SourceConfig& config) {
  using std::chrono::milliseconds;
  flags::SetGroup(app, "eBPF");
  flags::AddToggle(app, "bpf", config.bpf,
                   "Use eBPF (default on). Off, or where the programs cannot load: TCP states and "
                   "socket counts per network namespace from /proc/<pid>/net (~1 ms per namespace "
                   "and sample), CPU from cgroup accounting, no retransmit/reset counters.");
  flags::AddChoice(app, "bpf.tracepoint-type", config.bpf_tracepoint_type,
                   {"auto", "tp_btf", "raw_tp"}, "TYPE",
                   "auto, tp_btf or raw_tp (default auto: tp_btf when the kernel has BTF-typed "
                   "tracing, else raw_tp, falling back on failure).");
  flags::AddUint(app, "bpf.max-cgroups", config.bpf_max_cgroups, 16, 1u << 24,
                 "Capacity of the per-cgroup socket map (default 8192; raised to twice the number "
                 "of cgroups present at start).");
  flags::AddToggle(app, "bpf.pin", config.bpf_pin,
                   "Pin the maps under /sys/fs/bpf/podstat for bpftool (default off).");
  RegisterBpfTcpFlags(app, config);
  RegisterBpfCpuFlags(app, config);
  flags::SetGroup(app, "Collectors");
  RegisterCgroupCpuFlags(app, config);
  RegisterCgroupMemoryFlags(app, config);
  RegisterCgroupPressureFlags(app, config);
  RegisterProcProcessFlags(app, config);
  RegisterProcNetDevFlags(app, config);
}

LoadedSources LoadSources(const SourceConfig& config, Logger& logger) {
  LoadedSources loaded;
#ifdef PODSTAT_HAVE_BPF
  loaded.bpf.built_in = true;
  std::string error;
  std::unique_ptr<bpf::SockStateProgram> program;
  bool bpf_usable = config.bpf;
  if (const std::string missing = bpf::MissingKernelBtf(); bpf_usable && !missing.empty()) {
    logger.Warn("sources", missing,
                ". eBPF is off: every source falls back to /proc and cgroup files (TCP states and "
                "socket counts per network namespace from /proc/<pid>/net, ~1 ms per namespace "
                "and sample; CPU from cgroup accounting; no retransmit, reset or run-queue "
                "metrics). Kernels built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's "
                "since 2020) have it.");
    bpf_usable = false;
    loaded.bpf.disabled = missing;
    loaded.problems.push_back(missing);
  }
  const auto tracepoint = bpf::ParseTracepointType(config.bpf_tracepoint_type);
  if (bpf_usable) {
    bpf::SockStateOptions options;
    options.tracepoint = tracepoint.value_or(bpf::TracepointType::kAuto);
    options.max_cgroups = MapCapacity(config);
    if (config.bpf_pin) options.pin_dir = kPinDir;  // MapPins mounts a bpffs there if none is
    options.cgroup_root = config.cgroup_root;
    program = bpf::SockStateProgram::Load(options, logger, &error);
    if (!program) {
      logger.Warn("sources", "eBPF socket programs unavailable: ", error,
                  ". Falling back to /proc: TCP states and socket counts per network namespace "
                  "from /proc/<pid>/net/{tcp,udp,raw}{,6} (~1 ms per namespace and sample), no "
                  "retransmit or reset counters. --log.level=debug shows the verifier's log, "
                  "--check a summary.");
      loaded.bpf.sock_state_error = error;
      loaded.problems.push_back(
          "no TCP state program (" + error +
          "): the agent reads /proc/<pid>/net per network namespace (~1 ms each per sample) and "
          "has no retransmit or reset counters");
    } else {
      loaded.bpf.sock_state_fallbacks = program->fallback_reasons();
      loaded.bpf.marks_in_storage = program->marks_in_storage();
    }
  } else if (!config.bpf) {
    logger.Info("sources", "--no-bpf: every source from /proc and cgroup files");
    loaded.bpf.disabled = "--no-bpf: every source from /proc and cgroup files";
  }
  std::unique_ptr<bpf::TaskCpuProgram> cpu_program;
  if (bpf_usable && config.collect_cpu && config.bpf_cpu) {
    bpf::TaskCpuOptions options;
    options.tracepoint = tracepoint.value_or(bpf::TracepointType::kAuto);
    options.procfs = config.paths.procfs;
    options.max_tasks = config.bpf_max_tasks;
    options.max_cgroups = MapCapacity(config);
    if (config.bpf_pin) options.pin_dir = kPinDir;
    cpu_program = bpf::TaskCpuProgram::Load(options, logger, &error);
    if (!cpu_program) {
      logger.Warn("sources", "BPF CPU accounting unavailable (", error,
                  "); container_cpu_usage_seconds_total comes from cgroup accounting and "
                  "container_cpu_runqueue_wait_seconds_total is not exported");
      loaded.bpf.cpu_error = error;
      loaded.problems.push_back("no sched_switch program (" + error +
                                "): CPU usage from cgroup accounting, no run-queue wait");
    }
  } else if (bpf_usable) {
    loaded.bpf.cpu_disabled = !config.collect_cpu ? "--no-collector.cpu" : "--no-bpf.cpu";
  }
  const bool bpf_tcp = program != nullptr;
  const bool bpf_sockets = program && program->sockets_attached();
  TcpStateSource::Options tcp_options;
  tcp_options.reconcile_interval = config.reconcile_interval;
  tcp_options.cgroup_root = config.cgroup_root;
  const std::string tcp_off = !loaded.bpf.disabled.empty() ? loaded.bpf.disabled
                              : loaded.bpf.sock_state_error.empty()
                                  ? std::string()
                                  : "did not load: " + loaded.bpf.sock_state_error;
  auto tcp = std::make_unique<BpfTcpSource>(std::move(program), config.paths, logger,
                                            std::move(tcp_options), tcp_off);
  const BpfTcpSource& tcp_source = *tcp;
  loaded.sources.push_back(std::move(tcp));
  loaded.sources.push_back(MakeBpfSocketsSource(tcp_source));
  const std::string cpu_off = !loaded.bpf.disabled.empty()       ? loaded.bpf.disabled
                              : !loaded.bpf.cpu_disabled.empty() ? loaded.bpf.cpu_disabled
                              : loaded.bpf.cpu_error.empty()
                                  ? std::string()
                                  : "did not load: " + loaded.bpf.cpu_error;
  loaded.sources.push_back(MakeBpfCpuSource(std::move(cpu_program), logger, cpu_off));
  AddFileSources(config, bpf_tcp, bpf_sockets, loaded.sources);
#else
  logger.Warn("sources", "built without eBPF: TCP states and socket counts come from /proc");
  if (config.bpf) loaded.problems.push_back("built without eBPF (-DPODSTAT_BPF=OFF)");
  AddFileSources(config, false, false, loaded.sources);
#endif
  LogChoices(loaded, logger);
  return loaded;
}

std::vector<CheckLine> CheckKernel([[maybe_unused]] const SourceConfig& config,
                                   [[maybe_unused]] std::vector<std::string>& problems) {
  std::vector<CheckLine> lines;
#ifdef PODSTAT_HAVE_BPF
  const bpf::KernelSupport support = bpf::ProbeKernel();
  lines.push_back({"kernel", support.release});
  lines.push_back({"kernel BTF", support.btf ? "yes" : "FAILED: " + bpf::MissingKernelBtf()});
  lines.push_back({"bpf filesystem",
                   support.bpffs    ? "/sys/fs/bpf"
                   : config.bpf_pin ? "none at /sys/fs/bpf (the agent mounts one for --bpf.pin)"
                                    : "none at /sys/fs/bpf (needed only for --bpf.pin)"});
  if (!config.bpf)
    lines.push_back({"eBPF", "off (--no-bpf): every source from /proc and cgroup files"});
#else
  lines.push_back(
      {"eBPF", "not built in (-DPODSTAT_BPF=OFF): every source from /proc and cgroup files"});
#endif
  return lines;
}

void RouteBpfLogs([[maybe_unused]] Logger& logger) {
#ifdef PODSTAT_HAVE_BPF
  bpf::RouteLibbpfLogs(logger);
#endif
}

std::string KernelRelease() {
#ifdef PODSTAT_HAVE_BPF
  return bpf::ProbeKernel().release;
#else
  return {};
#endif
}

}  // namespace podstat::sources
