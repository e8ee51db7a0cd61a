#include "podstat/app/collector.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "podstat/cgroup/container_ref.h"
#include "podstat/cgroupfs/stats.h"
#include "podstat/procfs/net.h"
#include "podstat/procfs/process_top.h"
#include "podstat/procfs/sockstat.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::app {
namespace {

// The host's (initial) network namespace: that of pid 1, or of kthreadd (pid 2), a kernel thread
// that never leaves the initial namespaces, when pid 1's links are unreadable (some sandboxes
// deny them even to root). Without either, our own namespace is the best guess.
std::optional<uint64_t> HostNetworkNamespace(const HostPaths& paths, Logger& logger) {
  for (pid_t pid : {1, 2}) {
    if (const auto inode = procfs::NetworkNamespaceOf(paths, pid)) return inode;
  }
  const auto own = procfs::NetworkNamespaceOf(paths, ::getpid());
  logger.Warn("collector", "cannot read ", paths.Proc(1, "ns/net"), " or ", paths.Proc(2, "ns/net"),
              "; taking podstat's own network namespace as the host's (TIME_WAIT attribution)");
  return own;
}

}  // namespace

Collector::Collector(Options options, Logger& logger)
    : options_(std::move(options)), logger_(logger), resolver_(options_.cgroup_root) {
  Init();
}

void Collector::Init() {
  resolver_.Rescan();
  host_netns_ = HostNetworkNamespace(options_.paths, logger_);
  hierarchies_ = cgroupfs::FindHierarchies(options_.paths, options_.cgroup_root);
  logger_.Log(hierarchies_.v2_memory || hierarchies_.v1_memory ? LogLevel::kInfo : LogLevel::kWarn,
              "collector", "memory from ", cgroupfs::DescribeMemorySource(hierarchies_),
              "; CPU from cgroup v2 cpu.stat",
              hierarchies_.v1_cpuacct ? ", else v1 cpuacct (" + *hierarchies_.v1_cpuacct + ")"
                                      : std::string());
}

#ifdef PODSTAT_HAVE_BPF
Collector::Collector(Options options, std::unique_ptr<bpf::SockStateProgram> program,
                     std::unique_ptr<bpf::TaskCpuProgram> cpu_program, Logger& logger)
    : options_(std::move(options)),
      logger_(logger),
      resolver_(options_.cgroup_root),
      program_(std::move(program)),
      cpu_program_(std::move(cpu_program)) {
  if (program_) {
    sources::TcpStateSource::Options tcp_options;
    tcp_options.reconcile_interval = options_.reconcile_interval;
    tcp_options.cgroup_root = options_.cgroup_root;
    tcp_ = std::make_unique<sources::TcpStateSource>(*program_, options_.paths, logger_,
                                                     std::move(tcp_options));
  }
  Init();
}
#endif

Collector::~Collector() = default;

std::optional<uint64_t> Collector::CgroupIdOfPath(const std::string& path) const {
  struct stat st {};
  const std::string full = path == "/" ? options_.cgroup_root : options_.cgroup_root + path;
  if (::stat(full.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

bool Collector::BpfCountsTcp() const {
#ifdef PODSTAT_HAVE_BPF
  return tcp_ != nullptr;
#else
  return false;
#endif
}

bool Collector::BpfCountsSockets() const {
#ifdef PODSTAT_HAVE_BPF
  return program_ && program_->sockets_attached();
#else
  return false;
#endif
}

namespace {

// sockstat's per-namespace fields into the model; the kernel-wide ones into node (first read).
void FillSockstat(const procfs::Sockstat& stat, model::NetworkStats& network,
                  model::NodeSockstat& node) {
  // sockstat names, lower-cased for the protocol label; sockstat6 uses the "6" names.
  static constexpr std::pair<const char*, const char*> kInuse[] = {
      {"TCP", "tcp"},         {"TCP6", "tcp6"},         {"UDP", "udp"}, {"UDP6", "udp6"},
      {"UDPLITE", "udplite"}, {"UDPLITE6", "udplite6"}, {"RAW", "raw"}, {"RAW6", "raw6"},
      {"FRAG", "frag"},       {"FRAG6", "frag6"}};
  for (const auto& [section, label] : kInuse) {
    if (const auto value = procfs::SockstatField(stat, section, "inuse")) {
      network.inuse.emplace_back(label, *value);
    }
  }
  for (const auto& [section, label] : {std::pair{"FRAG", "frag"}, std::pair{"FRAG6", "frag6"}}) {
    if (const auto value = procfs::SockstatField(stat, section, "memory")) {
      network.frag_memory_bytes.emplace_back(label, *value);
    }
  }
  network.sockets_used = procfs::SockstatField(stat, "sockets", "used");
  network.tcp_time_wait = procfs::SockstatField(stat, "TCP", "tw");
  if (!node.tcp_orphan) node.tcp_orphan = procfs::SockstatField(stat, "TCP", "orphan");
  if (!node.tcp_alloc) node.tcp_alloc = procfs::SockstatField(stat, "TCP", "alloc");
  if (node.memory_pages.empty()) {
    for (const auto& [section, label] :
         {std::pair{"TCP", "tcp"}, std::pair{"UDP", "udp"}, std::pair{"UDPLITE", "udplite"}}) {
      if (const auto value = procfs::SockstatField(stat, section, "mem")) {
        node.memory_pages.emplace_back(label, *value);
      }
    }
  }
}

void AddInto(model::CgroupCpu& into, const model::CgroupCpu& more) {
  into.usage_ns += more.usage_ns;
  into.user_ns += more.user_ns;
  into.system_ns += more.system_ns;
  if (more.runqueue_wait_ns)
    into.runqueue_wait_ns = into.runqueue_wait_ns.value_or(0) + *more.runqueue_wait_ns;
}

void AddInto(model::CgroupMemory& into, const model::CgroupMemory& more) {
  into.usage_bytes += more.usage_bytes;
  into.working_set_bytes += more.working_set_bytes;
  into.rss_bytes += more.rss_bytes;
  into.cache_bytes += more.cache_bytes;
  into.inactive_file_bytes += more.inactive_file_bytes;
  // Unlimited if either is: the sum of what both may use has no bound then.
  into.limit_bytes = into.limit_bytes && more.limit_bytes
                         ? std::optional<uint64_t>(*into.limit_bytes + *more.limit_bytes)
                         : std::nullopt;
  into.oom_kills += more.oom_kills;
}

}  // namespace

std::unordered_map<uint64_t, Collector::NamespaceData> Collector::ReadNamespaces(
    const std::vector<procfs::NetworkNamespace>& namespaces, model::Snapshot& snapshot) {
  std::unordered_map<uint64_t, NamespaceData> by_cgroup;
  const bool tables_for_tcp = !BpfCountsTcp();
  const bool tables_for_sockets = !BpfCountsSockets();
  model::NodeSockstat node;
  for (const procfs::NetworkNamespace& ns : namespaces) {
    auto read = [&](std::string_view file) {
      return ReadFile(options_.paths.Proc(ns.lowest_pid, file));
    };
    // sockstat6 is appended: its sections (TCP6, UDP6, ...) do not clash with sockstat's.
    auto sockstat = read("net/sockstat");
    if (!sockstat) continue;  // the process exited since the namespaces were listed
    if (const auto v6 = read("net/sockstat6")) *sockstat += *v6;
    // The host's namespace is everybody's; its numbers go to the root cgroup.
    std::optional<std::string> owner = std::string("/");
    if (ns.inode != host_netns_) owner = procfs::CgroupV2PathOf(options_.paths, ns.lowest_pid);
    if (!owner) continue;
    const auto id = CgroupIdOfPath(*owner);
    if (!id) continue;

    const auto [it, first] = by_cgroup.try_emplace(*id);
    NamespaceData& data = it->second;
    model::NetworkStats network;
    network.netns_inode = ns.inode;
    FillSockstat(procfs::ParseSockstat(*sockstat), network, node);
    data.tcp[model::kTcpTimeWait - 1] += static_cast<int64_t>(network.tcp_time_wait.value_or(0));
    if (options_.collect_network) {
      if (const auto dev = read("net/dev")) {
        for (model::InterfaceStats& interface : procfs::ParseNetDev(*dev)) {
          if (interface.name == "lo" && !options_.include_loopback) continue;
          network.interfaces.push_back(std::move(interface));
        }
      }
    }
    // Without BPF: the socket tables, one walk of the kernel's hash per file (~1 ms each).
    model::SocketCounts sockets{};
    for (size_t family = 0; family < 2 && (tables_for_tcp || tables_for_sockets); ++family) {
      const std::string suffix = family == 0 ? "" : "6";
      if (const auto text = read("net/tcp" + suffix)) {
        const auto table = procfs::ParseSocketTable(*text, /*is_tcp=*/true);
        sockets[family][model::kSocketTcp] = static_cast<int64_t>(table.held);
        if (tables_for_tcp) {
          for (size_t i = 0; i < table.states.size(); ++i) {
            if (i == model::kTcpTimeWait - 1) continue;  // from sockstat, as with BPF
            data.tcp[i] += table.states[i];
            if (family == 1) data.tcp_inet6[i] += table.states[i];
          }
        }
      }
      if (!tables_for_sockets) continue;
      for (const auto& [file, kind] : {std::pair{"net/udp", model::kSocketUdp},
                                       std::pair{"net/udplite", model::kSocketUdpLite},
                                       std::pair{"net/raw", model::kSocketRaw}}) {
        const auto text = read(std::string(file) + suffix);
        if (!text) continue;
        const auto table = procfs::ParseSocketTable(*text, /*is_tcp=*/false);
        sockets[family][kind] = static_cast<int64_t>(table.held);
        if (kind == model::kSocketUdp) {
          network.udp[family] =
              model::UdpQueues{table.lines, table.rx_queue, table.tx_queue, table.drops};
        }
      }
    }
    if (tables_for_sockets) {
      if (!data.sockets) data.sockets.emplace();
      for (size_t family = 0; family < 2; ++family) {
        for (size_t kind = 0; kind < sockets[family].size(); ++kind) {
          (*data.sockets)[family][kind] += sockets[family][kind];
        }
      }
    }
    // Two namespaces owned by one cgroup (a container that made its own): the first one's
    // sockstat and interfaces are reported; socket counts are summed above.
    if (first) data.network = std::move(network);
  }
  if (node.tcp_orphan || node.tcp_alloc || !node.memory_pages.empty()) {
    snapshot.node_sockstat = std::move(node);
  }
  return by_cgroup;
}

std::optional<cgroup::ContainerRef> Collector::ContainerOf(const std::string& path) const {
  if (!options_.metadata) return cgroup::ParseContainerPath(path);
  return cgroup::ParseContainerPath(path, [this](const cgroup::ContainerRef& nested) {
    return options_.metadata->ReportsAt(nested);
  });
}

std::pair<std::string, model::ContainerLabels> Collector::Identify(const std::string& path) {
  const auto ref = ContainerOf(path);
  if (!ref) return {path, {}};
  model::ContainerLabels labels;
  labels.container_id = ref->container_id;
  if (options_.metadata) {
    const metadata::ContainerInfo info = options_.metadata->Lookup(*ref);
    labels.namespace_ = info.namespace_;
    labels.pod = info.pod;
    // Kubernetes' container name where there is one, else the runtime's (docker run --name).
    labels.container = info.container.empty() ? info.name : info.container;
    labels.image = info.image;
  }
  return {ref->cgroup_path, std::move(labels)};
}

#ifdef PODSTAT_HAVE_BPF
namespace {

// "/a/b" -> "/a", "/a" -> "/", "/" -> "/".
std::string_view ParentPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? std::string_view("/")
                                                       : path.substr(0, slash);
}

}  // namespace

void Collector::FoldDeparted(const std::string& path, const CpuTime& totals) {
  std::string holder(ParentPath(path));
  while (holder != "/" && !CgroupIdOfPath(holder)) holder = ParentPath(holder);
  CpuTime& folded = cpu_departed_[holder];
  folded.on_cpu_ns += totals.on_cpu_ns;
  folded.wait_ns += totals.wait_ns;
}

void Collector::AddBpfCpu(std::map<std::string, model::CgroupStats>& by_path,
                          model::Snapshot& /*snapshot*/) {
  std::vector<bpf::TaskCpuProgram::CgroupCpuTotals> totals;
  std::string error;
  const auto read_at = cgroup::CgroupResolver::Clock::now();
  if (!cpu_program_->ReadCgroupTotals(totals, &error)) {
    logger_.Warn("bpf", "reading CPU totals: ", error, "; keeping cgroup accounting");
    return;
  }
  ++cpu_reads_;
  std::map<std::string, CpuTime, std::less<>> sums;  // only for paths that are reported
  for (const auto& [path, entry] : by_path) {
    if (entry.cpu) sums[path];
  }
  // Charge a cgroup and every reported ancestor: "/a/b/c" -> "/a/b/c", "/a/b", "/a", "/".
  // sums is keyed by escaped paths (labels); '/' is ASCII and never part of an escape, so the
  // escaped path's prefixes are the escaped prefixes.
  auto charge = [&sums](std::string_view path, const CpuTime& time) {
    const std::string label = EscapeInvalidUtf8(path);
    std::string_view prefix = label;
    for (;;) {
      if (const auto it = sums.find(prefix); it != sums.end()) {
        it->second.on_cpu_ns += time.on_cpu_ns;
        it->second.wait_ns += time.wait_ns;
      }
      if (prefix == "/") break;
      prefix = ParentPath(prefix);
    }
  };

  // Folded time whose holder has gone too moves up to the nearest ancestor still there.
  std::map<std::string, CpuTime, std::less<>> departed;
  departed.swap(cpu_departed_);
  for (const auto& [path, time] : departed) {
    if (path == "/" || CgroupIdOfPath(path)) {
      CpuTime& kept = cpu_departed_[path];
      kept.on_cpu_ns += time.on_cpu_ns;
      kept.wait_ns += time.wait_ns;
    } else {
      FoldDeparted(path, time);
    }
  }

  for (const auto& total : totals) {
    CpuEntry& entry =
        cpu_entries_.try_emplace(total.cgroup_id, CpuEntry{read_at, {}, {}, 0}).first->second;
    entry.read_in = cpu_reads_;
    const CpuTime now{total.on_cpu_ns, total.runqueue_wait_ns};
    if (const auto path = resolver_.Resolve(total.cgroup_id)) {
      entry.path = *path;
      entry.totals = now;
      charge(*path, now);
      continue;
    }
    if (resolver_.CertainlyGone(total.cgroup_id, entry.first_read)) {
      // No task runs in a removed cgroup: the map holds its final totals. They stay with its
      // ancestors; the entry goes (by handle, or because a full walk since no longer finds it).
      if (!entry.path.empty()) FoldDeparted(entry.path, now);
      cpu_program_->DeleteCgroup(total.cgroup_id);
      cpu_entries_.erase(total.cgroup_id);
      continue;
    }
    // Not found but not proven gone (made since the last walk, or gone but not yet proven): one
    // seen before still counts where it was, so its ancestors do not dip meanwhile.
    if (!entry.path.empty()) charge(entry.path, now);
  }
  // Entries no longer in the map (deleted elsewhere): their last totals stay with the ancestors.
  std::erase_if(cpu_entries_, [&](const auto& id_entry) {
    const CpuEntry& entry = id_entry.second;
    if (entry.read_in == cpu_reads_) return false;
    if (!entry.path.empty()) FoldDeparted(entry.path, entry.totals);
    return true;
  });
  for (const auto& [path, time] : cpu_departed_) charge(path, time);

  const bool wait_supported = cpu_program_->runqueue_wait_supported();
  std::erase_if(cpu_offsets_, [&](const auto& entry) { return !sums.contains(entry.first); });
  for (auto& [path, sum] : sums) {
    model::CgroupCpu& cpu = *by_path[path].cpu;
    const auto offset = cpu_offsets_.try_emplace(
        path, static_cast<int64_t>(cpu.usage_ns) - static_cast<int64_t>(sum.on_cpu_ns));
    const int64_t usage = static_cast<int64_t>(sum.on_cpu_ns) + offset.first->second;
    cpu.usage_ns = usage > 0 ? static_cast<uint64_t>(usage) : 0;  // user/system: cgroup's own
    if (wait_supported) cpu.runqueue_wait_ns = sum.wait_ns;
  }
}
#endif

model::Snapshot Collector::Collect() {
  const auto started = std::chrono::steady_clock::now();
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::now();

  const std::vector<procfs::NetworkNamespace> namespaces =
      procfs::ListNetworkNamespaces(options_.paths);
  snapshot.self.network_namespaces = namespaces.size();

  // Per cgroup id: what BPF counted, and what each network namespace says, on its owner.
  struct ById {
    std::optional<model::TcpStateCounts> tcp, tcp_inet6;
    std::optional<model::SocketCounts> sockets;
    std::optional<model::TcpEvents> events;
    std::optional<model::NetworkStats> network;
  };
  std::unordered_map<uint64_t, ById> by_id;
  auto add_states = [](std::optional<model::TcpStateCounts>& into,
                       const model::TcpStateCounts& counts) {
    if (!into) into.emplace();
    for (size_t i = 0; i < counts.size(); ++i) (*into)[i] += counts[i];
  };
#ifdef PODSTAT_HAVE_BPF
  if (tcp_) {
    for (const auto& counts : tcp_->Collect(namespaces)) {
      ById& entry = by_id[counts.cgroup_id];
      entry.tcp = counts.tcp;
      entry.tcp_inet6 = counts.tcp_inet6;
      entry.sockets = counts.sockets;
      entry.events = counts.events;
    }
  }
#endif
  for (auto& [id, data] : ReadNamespaces(namespaces, snapshot)) {
    ById& entry = by_id[id];
    // TIME_WAIT only, or every state without BPF; a cgroup whose namespace holds none of them
    // gets no TCP series from it.
    if (BpfCountsTcp() ? data.tcp[model::kTcpTimeWait - 1] > 0 : true) {
      add_states(entry.tcp, data.tcp);
      add_states(entry.tcp_inet6, data.tcp_inet6);
    }
    if (data.sockets) entry.sockets = data.sockets;
    entry.network = std::move(data.network);
  }

  // One walk of the hierarchy when CPU or memory is collected: it lists the cgroups to read and
  // refreshes the resolver's table, so the TCP ids below resolve from it without lookups.
  const bool walk_hierarchy =
      options_.collect_cpu || options_.collect_memory || options_.process_top > 0;
  if (walk_hierarchy) resolver_.Rescan();

  // Resolve, drop the departed, and sum cgroups that resolve to the same path. Keyed by the `id`
  // label: the folded path with invalid UTF-8 escaped, which is where a path enters the model
  // (anyone who may create a cgroup picks its name's bytes; one invalid byte would cost the
  // scrape).
  std::map<std::string, model::CgroupStats> by_path;
  // Escaped labels -> the path that gave them, to notice two paths giving one label: a name that
  // spells \xHH in ASCII beside a sibling with that byte. Only labels with a backslash can.
  std::map<std::string, std::string, std::less<>> escaped_from;
  std::set<std::string> collisions;
  auto entry_for = [&](uint64_t id, const std::string& path) -> model::CgroupStats& {
    auto [folded, labels] = Identify(path);
    std::string label = EscapeInvalidUtf8(folded);
    if (label.find('\\') != std::string::npos) {
      const auto [it, first] = escaped_from.try_emplace(label, folded);
      if (!first && it->second != folded) collisions.insert(label);
    }
    model::CgroupStats& entry = by_path[label];
    if (entry.path.empty() || folded == path) entry.cgroup_id = id;  // the container's own
    entry.path = std::move(label);
    entry.labels = std::move(labels);
    return entry;
  };
  for (auto& [id, counts] : by_id) {
    const auto path = resolver_.Resolve(id);
    if (!path) {
#ifdef PODSTAT_HAVE_BPF
      if (tcp_ && tcp_->ForgetIfEmpty(id)) continue;
#endif
      ++snapshot.self.unresolved_cgroups;
      continue;
    }
    model::CgroupStats& entry = entry_for(id, *path);
    if (counts.tcp) add_states(entry.tcp, *counts.tcp);
    if (counts.tcp_inet6) add_states(entry.tcp_inet6, *counts.tcp_inet6);
    if (counts.sockets) {
      if (!entry.sockets) entry.sockets.emplace();
      for (size_t family = 0; family < counts.sockets->size(); ++family) {
        for (size_t kind = 0; kind < (*counts.sockets)[family].size(); ++kind) {
          (*entry.sockets)[family][kind] += (*counts.sockets)[family][kind];
        }
      }
    }
    if (counts.events) {
      if (!entry.tcp_events) entry.tcp_events.emplace();
      entry.tcp_events->retransmits += counts.events->retransmits;
      entry.tcp_events->connect_failures += counts.events->connect_failures;
      entry.tcp_events->resets_sent += counts.events->resets_sent;
      entry.tcp_events->resets_received += counts.events->resets_received;
    }
    // A container's own namespace is reported once even when sub-cgroups fold into it.
    if (counts.network && !entry.network) entry.network = std::move(counts.network);
  }

  // CPU and memory for every container, pod and the root: the walk above, then a few small
  // reads per cgroup. Sub-cgroups of a container are skipped: its own cgroup's numbers are
  // hierarchical and include them.
  if (walk_hierarchy) {
    resolver_.ForEach([&](uint64_t id, const std::string& path) {
      const auto ref = ContainerOf(path);
      if (path != "/" && (!ref || ref->cgroup_path != path)) return;
      std::optional<model::CgroupCpu> cpu;
      std::optional<model::CgroupMemory> memory;
      if (options_.collect_cpu) cpu = cgroupfs::ReadCpu(hierarchies_, path);
      if (options_.collect_memory) memory = cgroupfs::ReadMemory(hierarchies_, path);
      std::vector<model::ProcessStats> processes;
      if (options_.process_top > 0 && ref && !ref->container_id.empty()) {
        const std::string dir = path == "/" ? options_.cgroup_root : options_.cgroup_root + path;
        processes =
            procfs::TopProcesses(options_.paths, procfs::PidsOfCgroup(dir), options_.process_top);
      }
      if (!cpu && !memory && processes.empty()) return;  // removed since the walk
      model::CgroupStats& entry = entry_for(id, path);
      // Only one walked cgroup per label, unless two paths escape to one `id` (see entry_for):
      // then theirs are summed like everything else.
      if (entry.cpu && cpu) {
        AddInto(*entry.cpu, *cpu);
      } else if (cpu) {
        entry.cpu = cpu;
      }
      if (entry.memory && memory) {
        AddInto(*entry.memory, *memory);
      } else if (memory) {
        entry.memory = memory;
      }
      entry.processes.insert(entry.processes.end(), std::make_move_iterator(processes.begin()),
                             std::make_move_iterator(processes.end()));
    });
    if (options_.collect_memory) {
      snapshot.node_memory = cgroupfs::ReadNodeMemory(options_.paths, hierarchies_);
    }
  }
#ifdef PODSTAT_HAVE_BPF
  if (cpu_program_ && options_.collect_cpu) AddBpfCpu(by_path, snapshot);
#endif
  // Summed as the design says of one label set, but not silently: once per label while it lasts.
  for (const std::string& label : collisions) {
    if (!colliding_ids_.contains(label)) {
      logger_.Warn("collector", "two cgroups both export id=\"", label,
                   "\" (one name spells \\xHH in ASCII where the other has an invalid byte); "
                   "their series are summed");
    }
  }
  colliding_ids_ = std::move(collisions);
  snapshot.cgroups.reserve(by_path.size());
  for (auto& [path, entry] : by_path) snapshot.cgroups.push_back(std::move(entry));
  snapshot.self.sources = {
      {"cgroup_cpu", options_.collect_cpu},        {"cgroup_memory", options_.collect_memory},
      {"proc_process", options_.process_top > 0},  {"proc_sockstat", true},
      {"proc_net_dev", options_.collect_network},  {"proc_tcp_tables", !BpfCountsTcp()},
      {"proc_socket_tables", !BpfCountsSockets()}, {"bpf_sockets", BpfCountsSockets()}};
#ifdef PODSTAT_HAVE_BPF
  snapshot.self.sources.push_back({"bpf_tcp", tcp_ != nullptr});
  snapshot.self.sources.push_back({"bpf_cpu", cpu_program_ != nullptr && options_.collect_cpu});
  for (std::string_view name : bpf::TaskCpuProgram::kPrograms) {
    snapshot.self.programs.push_back(
        {std::string(name), cpu_program_ && cpu_program_->attached_program() == name});
  }
  if (cpu_program_) {
    const auto drops = cpu_program_->ReadDrops();
    static constexpr const char* kCpuReasons[PS_CPU_DROP_REASON_COUNT] = {
        "task_map_full", "cpu_cgroup_map_full", "cpu_cgroup_map_busy"};
    for (size_t i = 0; i < drops.size(); ++i) {
      snapshot.self.bpf_drops.push_back({kCpuReasons[i], drops[i]});
      if (drops[i] > last_cpu_drops_[i]) {
        logger_.Warn("bpf", drops[i] - last_cpu_drops_[i], " CPU slices dropped (", kCpuReasons[i],
                     "): CPU usage from BPF undercounts until the maps have room");
      }
    }
    last_cpu_drops_ = drops;
  }
#endif

#ifdef PODSTAT_HAVE_BPF
  for (std::string_view name : bpf::kSockStatePrograms) {
    snapshot.self.programs.push_back({std::string(name), program_ && program_->IsAttached(name)});
  }
  if (program_) {
    const auto drops = program_->ReadDrops();
    static constexpr const char* kReasons[PS_DROP_REASON_COUNT] = {
        "map_full", "no_cgroup", "bad_state", "no_mark", "map_busy"};
    for (int i = 0; i < PS_DROP_REASON_COUNT; ++i) {
      const size_t reason = static_cast<size_t>(i);
      snapshot.self.bpf_drops.push_back({kReasons[i], drops[reason]});
      if (drops[reason] > last_drops_[reason]) {
        logger_.Warn("bpf", drops[reason] - last_drops_[reason], " socket events dropped (",
                     kReasons[i], ")",
                     i == PS_DROP_MAP_FULL
                         ? "; ps_tcp_states is full: raise --bpf.max-cgroups. Counts are "
                           "corrected at the next sock_diag reconciliation."
                         : "");
      }
    }
    last_drops_ = drops;
  }
  // Skipped runs of every loaded tracing program (a rise in the state program's also makes the
  // TCP source reconcile early).
  auto add_misses = [&snapshot](const std::vector<bpf::ProgramRunStats>& programs) {
    for (const auto& stats : programs) {
      if (stats.tracing && stats.recursion_misses_reported) {
        snapshot.self.recursion_misses.push_back({stats.name, stats.recursion_misses});
      }
    }
  };
  if (program_) add_misses(program_->ReadRunStats());
  if (cpu_program_) add_misses(cpu_program_->ReadRunStats());
  if (tcp_) {
    snapshot.self.socket_drift = tcp_->drift();
    snapshot.self.reconciliations = tcp_->reconciliations();
    snapshot.self.early_reconciliations = tcp_->early_reconciliations();
    const auto& failures = tcp_->failures();
    for (size_t i = 0; i < failures.size(); ++i) {
      snapshot.self.sock_diag_failures.push_back(
          {sources::TcpStateSource::kFailureReasonNames[i], failures[i]});
    }
    snapshot.self.tcp_map_entries = tcp_->map_entries();
    snapshot.self.tcp_map_capacity = program_->max_cgroups();
  }
#endif
  if (options_.metadata) {
    for (auto& [provider, count] : options_.metadata->Errors()) {
      snapshot.self.metadata_errors.push_back({provider, count});
    }
  }
  snapshot.self.collection_duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return snapshot;
}

}  // namespace podstat::app
