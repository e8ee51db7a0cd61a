#include "podstat/metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

#include "podstat/metrics/catalogue.h"
#include "podstat/util/build_info.h"
#include "podstat/util/strings.h"

namespace podstat::metrics {
namespace {

FamilyType TypeOf(const MetricSpec& spec) {
  return spec.kind == Kind::kCounter ? FamilyType::kCounter : FamilyType::kGauge;
}

// One family written from a scope: Begin on construction, End on destruction, so a family can
// never be left open and its series always stay contiguous.
class Family {
 public:
  Family(SeriesSink& sink, const MetricSpec& spec, bool keep_when_empty = false) : sink_(sink) {
    sink_.BeginFamily(spec.name, TypeOf(spec), spec.help, keep_when_empty);
  }
  ~Family() { sink_.EndFamily(); }
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  void AddFor(const Identity* identity, std::span<const Label> labels, double value) {
    sink_.Series(identity, labels, value);
  }
  void AddFor(const Identity& identity, double value) { sink_.Series(&identity, {}, value); }
  void AddFor(const Identity& identity, Label label, double value) {
    sink_.Series(&identity, std::span<const Label>(&label, 1), value);
  }
  void Add(std::span<const Label> labels, double value) { sink_.Series(nullptr, labels, value); }
  void Add(Label label, double value) {
    sink_.Series(nullptr, std::span<const Label>(&label, 1), value);
  }
  void Add(double value) { sink_.Series(nullptr, {}, value); }

 private:
  SeriesSink& sink_;
};

// cAdvisor's container-level labels: name (the runtime's container name), image, id, and for
// Kubernetes the container_label_io_kubernetes_* names. podstat's own label set is a superset of
// what dashboards select on (namespace, pod, container, image, id), so the same labels are kept.
std::vector<Identity> Identities(const model::Snapshot& snapshot) {
  std::vector<Identity> identities;
  identities.reserve(snapshot.cgroups.size());
  for (size_t i = 0; i < snapshot.cgroups.size(); ++i) {
    const model::CgroupStats& cgroup = snapshot.cgroups[i];
    const model::ContainerLabels& labels = cgroup.labels;
    identities.push_back({{{{"namespace", labels.namespace_},
                            {"pod", labels.pod},
                            {"container", labels.container},
                            {"container_id", labels.container_id},
                            {"image", labels.image},
                            {"id", cgroup.path}}},
                          i});
  }
  return identities;
}

// cAdvisor's tcp_state values, in kernel state order (index = state - 1); new_syn_recv has none.
// cAdvisor emits close (always 0: /proc/net/tcp lists no CLOSE socket), so compat keeps it.
constexpr std::array<std::string_view, 11> kCadvisorTcpStates = {
    "established", "synsent",   "synrecv", "finwait1", "finwait2", "timewait",
    "close",       "closewait", "lastack", "listen",   "closing"};

// Series hygiene: no series that can only ever be 0, none for a cgroup with nothing to say.
//
// container_tcp_sockets leaves out two of the kernel's 12 states (include/net/tcp_states.h):
// CLOSE (7), because tcp_set_state(TCP_CLOSE) unhashes the socket, so sock_diag and
// /proc/net/tcp never list one and the eBPF program counts X->CLOSE as a -1 on X only; and
// NEW_SYN_RECV (12), because a request socket is no full socket: the state tracepoint never
// fires for it, and sock_diag (inet_req_diag_fill) and /proc/net/tcp (get_openreq4) print it as
// SYN_RECV without an inode or a cgroup. Index = state - 1.
constexpr std::array<size_t, 10> kReportedTcpStates = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10};

// A cgroup reports TCP (container_tcp_sockets, the event counters, cAdvisor's tcp names) when it
// holds a socket in a reported state (TIME_WAIT of its namespace included) or one of its event
// counters has moved; then every reported state, 0 or not, so its series stay put while it has
// sockets. A cgroup with neither has no TCP series at all.
bool HoldsTcpSockets(const model::CgroupStats& cgroup) {
  if (!cgroup.tcp) return false;
  return std::any_of(kReportedTcpStates.begin(), kReportedTcpStates.end(),
                     [&](size_t state) { return (*cgroup.tcp)[state] > 0; });
}

bool TcpEventsMoved(const model::CgroupStats& cgroup) {
  if (!cgroup.tcp_events) return false;
  const model::TcpEvents& e = *cgroup.tcp_events;
  return e.retransmits > 0 || e.connect_failures > 0 || e.resets_sent > 0 || e.resets_received > 0;
}

bool ReportsTcp(const model::CgroupStats& cgroup) {
  return HoldsTcpSockets(cgroup) || TcpEventsMoved(cgroup);
}

// A cgroup reports sockets (container_sockets, container_udp_sockets, cAdvisor's udp names) when
// it holds at least one; then every family and type.
bool HoldsSockets(const model::CgroupStats& cgroup) {
  if (!cgroup.sockets) return false;
  for (const auto& kinds : *cgroup.sockets) {
    for (const int64_t count : kinds) {
      if (count > 0) return true;
    }
  }
  return false;
}

// sockstat's inuse for tcp, tcp6, udp and udp6 is always reported for a namespace; the other
// protocols (udplite, raw, frag and their 6 variants) only while the namespace has one: most
// namespaces never do. frag memory likewise only while reassembly queues hold any.
bool AlwaysReportedProtocol(std::string_view protocol) {
  return protocol == "tcp" || protocol == "tcp6" || protocol == "udp" || protocol == "udp6";
}

void WriteCadvisorCompat(const model::Snapshot& snapshot, const std::vector<Identity>& who,
                         SeriesSink& sink) {
  const auto& cgroups = snapshot.cgroups;
  for (const bool inet6 : {false, true}) {
    Family family(sink, inet6 ? kCadvisorTcp6 : kCadvisorTcp);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      const model::CgroupStats& cgroup = cgroups[c];
      if (!cgroup.tcp || !ReportsTcp(cgroup)) continue;
      const model::TcpStateCounts v6 = cgroup.tcp_inet6.value_or(model::TcpStateCounts{});
      for (size_t i = 0; i < kCadvisorTcpStates.size(); ++i) {
        const int64_t value = inet6 ? v6[i] : (*cgroup.tcp)[i] - v6[i];
        family.AddFor(who[c], {"tcp_state", kCadvisorTcpStates[i]},
                      static_cast<double>(value < 0 ? 0 : value));
      }
    }
  }
  for (size_t index = 0; index < 2; ++index) {
    Family family(sink, index == 0 ? kCadvisorUdp : kCadvisorUdp6);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      const model::CgroupStats& cgroup = cgroups[c];
      if (!HoldsSockets(cgroup)) continue;
      family.AddFor(who[c], {"udp_state", "listen"},
                    static_cast<double>((*cgroup.sockets)[index][model::kSocketUdp]));
      const auto& queues = cgroup.network ? cgroup.network->udp[index] : std::nullopt;
      if (!queues) continue;
      family.AddFor(who[c], {"udp_state", "dropped"}, static_cast<double>(queues->drops));
      family.AddFor(who[c], {"udp_state", "rxqueued"}, static_cast<double>(queues->rx_queued));
      family.AddFor(who[c], {"udp_state", "txqueued"}, static_cast<double>(queues->tx_queued));
    }
  }
}

void WriteCgroupFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                         const std::vector<Identity>& who, SeriesSink& sink) {
  const auto& cgroups = snapshot.cgroups;
  {
    Family tcp(sink, kContainerTcpSockets, /*keep_when_empty=*/true);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (!cgroups[c].tcp || !ReportsTcp(cgroups[c])) continue;
      for (const size_t i : kReportedTcpStates) {
        tcp.AddFor(who[c], {"state", model::kTcpStateNames[i]},
                   static_cast<double>((*cgroups[c].tcp)[i]));
      }
    }
  }
  // Open sockets by family and type (kinds of one type summed), and UDP alone.
  {
    Family sockets(sink, kContainerSockets);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (!HoldsSockets(cgroups[c])) continue;
      const model::SocketCounts& counts = *cgroups[c].sockets;
      for (size_t family = 0; family < model::kSocketFamilies.size(); ++family) {
        std::map<std::string_view, int64_t> by_type;
        for (size_t kind = 0; kind < model::kSocketKindTypes.size(); ++kind) {
          if (model::kSocketKindTypes[kind].empty()) continue;
          by_type[model::kSocketKindTypes[kind]] += counts[family][kind];
        }
        for (const auto& [type, count] : by_type) {
          if (type == "other" && !snapshot.other_socket_kinds_counted) continue;
          const std::array<Label, 2> labels = {
              {{"family", model::kSocketFamilies[family]}, {"type", type}}};
          sockets.AddFor(&who[c], labels, static_cast<double>(count));
        }
      }
    }
  }
  {
    Family udp_sockets(sink, kContainerUdpSockets);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (!HoldsSockets(cgroups[c])) continue;
      const model::SocketCounts& counts = *cgroups[c].sockets;
      udp_sockets.AddFor(
          who[c], static_cast<double>(counts[0][model::kSocketUdp] + counts[1][model::kSocketUdp]));
    }
  }

  // TCP health counters (BPF), for the cgroups that report TCP: a counter appears at 0 with the
  // cgroup's first socket, so rate() sees its first increase.
  auto per_events = [&](const MetricSpec& spec, auto write) {
    Family family(sink, spec);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (cgroups[c].tcp_events && ReportsTcp(cgroups[c])) {
        write(family, who[c], *cgroups[c].tcp_events);
      }
    }
  };
  per_events(kTcpRetransmits, [](Family& f, const Identity& id, const model::TcpEvents& e) {
    f.AddFor(id, static_cast<double>(e.retransmits));
  });
  per_events(kTcpConnectFailures, [](Family& f, const Identity& id, const model::TcpEvents& e) {
    f.AddFor(id, static_cast<double>(e.connect_failures));
  });
  per_events(kTcpResets, [](Family& f, const Identity& id, const model::TcpEvents& e) {
    f.AddFor(id, {"direction", "sent"}, static_cast<double>(e.resets_sent));
    f.AddFor(id, {"direction", "received"}, static_cast<double>(e.resets_received));
  });

  // Per network namespace, on the cgroup owning it: sockstat and interfaces.
  auto per_network = [&](const MetricSpec& spec, auto write) {
    Family family(sink, spec);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (cgroups[c].network) write(family, who[c], *cgroups[c].network);
    }
  };
  using Network = model::NetworkStats;
  per_network(kSockstatInuse, [](Family& f, const Identity& id, const Network& n) {
    for (const auto& [protocol, count] : n.inuse) {
      if (count == 0 && !AlwaysReportedProtocol(protocol)) continue;
      f.AddFor(id, {"protocol", protocol}, static_cast<double>(count));
    }
  });
  per_network(kSockstatTcpTw, [](Family& f, const Identity& id, const Network& n) {
    if (n.tcp_time_wait) f.AddFor(id, static_cast<double>(*n.tcp_time_wait));
  });
  per_network(kSockstatSocketsUsed, [](Family& f, const Identity& id, const Network& n) {
    if (n.sockets_used) f.AddFor(id, static_cast<double>(*n.sockets_used));
  });
  per_network(kSockstatFragMemory, [](Family& f, const Identity& id, const Network& n) {
    for (const auto& [protocol, bytes] : n.frag_memory_bytes) {
      if (bytes > 0) f.AddFor(id, {"protocol", protocol}, static_cast<double>(bytes));
    }
  });
  const std::pair<const MetricSpec*, uint64_t model::InterfaceStats::*> interface_fields[] = {
      {&kNetworkReceiveBytes, &model::InterfaceStats::receive_bytes},
      {&kNetworkReceivePackets, &model::InterfaceStats::receive_packets},
      {&kNetworkReceiveErrors, &model::InterfaceStats::receive_errors},
      {&kNetworkReceiveDropped, &model::InterfaceStats::receive_dropped},
      {&kNetworkTransmitBytes, &model::InterfaceStats::transmit_bytes},
      {&kNetworkTransmitPackets, &model::InterfaceStats::transmit_packets},
      {&kNetworkTransmitErrors, &model::InterfaceStats::transmit_errors},
      {&kNetworkTransmitDropped, &model::InterfaceStats::transmit_dropped}};
  for (const auto& [spec, field] : interface_fields) {
    per_network(*spec, [field](Family& f, const Identity& id, const Network& n) {
      for (const model::InterfaceStats& interface : n.interfaces) {
        f.AddFor(id, {"interface", interface.name}, static_cast<double>(interface.*field));
      }
    });
  }
  if (snapshot.node_sockstat) {
    const model::NodeSockstat& node = *snapshot.node_sockstat;
    for (const auto& [spec, value] : {std::pair{&kNodeSockstatTcpOrphan, node.tcp_orphan},
                                      std::pair{&kNodeSockstatTcpAlloc, node.tcp_alloc}}) {
      if (!value) continue;
      Family(sink, *spec).Add(static_cast<double>(*value));
    }
    if (!node.memory_pages.empty()) {
      Family memory_pages(sink, kNodeSockstatMemory);
      for (const auto& [protocol, pages] : node.memory_pages) {
        memory_pages.Add({"protocol", protocol}, static_cast<double>(pages));
      }
    }
  }

  if (context.compat_cadvisor) WriteCadvisorCompat(snapshot, who, sink);

  // One family per value; each cgroup contributes where it has the data.
  using Value = std::optional<double>;
  auto per_cgroup = [&](const MetricSpec& spec, auto value_of) {
    Family family(sink, spec);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      if (const Value value = value_of(cgroups[c])) family.AddFor(who[c], *value);
    }
  };
  constexpr double kNs = 1e-9;
  per_cgroup(kCpuUsage, [&](const model::CgroupStats& c) -> Value {
    return c.cpu ? Value(c.cpu->usage_ns * kNs) : std::nullopt;
  });
  per_cgroup(kCpuUser, [&](const model::CgroupStats& c) -> Value {
    return c.cpu ? Value(c.cpu->user_ns * kNs) : std::nullopt;
  });
  per_cgroup(kCpuSystem, [&](const model::CgroupStats& c) -> Value {
    return c.cpu ? Value(c.cpu->system_ns * kNs) : std::nullopt;
  });
  per_cgroup(kCpuRunqueueWait, [&](const model::CgroupStats& c) -> Value {
    return c.cpu && c.cpu->runqueue_wait_ns ? Value(*c.cpu->runqueue_wait_ns * kNs) : std::nullopt;
  });
  auto memory = [&](const MetricSpec& spec, auto field) {
    per_cgroup(spec, [&](const model::CgroupStats& c) -> Value {
      return c.memory ? Value(static_cast<double>(field(*c.memory))) : std::nullopt;
    });
  };
  memory(kMemoryUsage, [](const model::CgroupMemory& m) { return m.usage_bytes; });
  memory(kMemoryWorkingSet, [](const model::CgroupMemory& m) { return m.working_set_bytes; });
  memory(kMemoryRss, [](const model::CgroupMemory& m) { return m.rss_bytes; });
  memory(kMemoryCache, [](const model::CgroupMemory& m) { return m.cache_bytes; });
  memory(kMemoryInactiveFile, [](const model::CgroupMemory& m) { return m.inactive_file_bytes; });
  per_cgroup(kMemoryLimit, [&](const model::CgroupStats& c) -> Value {
    return c.memory && c.memory->limit_bytes ? Value(static_cast<double>(*c.memory->limit_bytes))
                                             : std::nullopt;
  });
  memory(kOomKills, [](const model::CgroupMemory& m) { return m.oom_kills; });

  // Per process (opt-in): the container's labels plus pid and comm.
  auto per_process = [&](const MetricSpec& spec, auto write) {
    Family family(sink, spec);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      for (const model::ProcessStats& process : cgroups[c].processes) {
        const std::string pid = std::to_string(process.pid);
        write(family, who[c], Label{"pid", pid}, Label{"comm", process.comm}, process);
      }
    }
  };
  using Process = model::ProcessStats;
  per_process(
      kProcessCpu, [](Family& f, const Identity& id, Label pid, Label comm, const Process& p) {
        for (const auto& [mode, seconds] :
             {std::pair{"user", p.cpu_user_seconds}, std::pair{"system", p.cpu_system_seconds}}) {
          const std::array<Label, 3> labels = {{pid, comm, {"mode", mode}}};
          f.AddFor(&id, labels, seconds);
        }
      });
  for (const auto& [spec, field] : {std::pair{&kProcessRss, &Process::rss_bytes},
                                    std::pair{&kProcessVirtual, &Process::vm_size_bytes},
                                    std::pair{&kProcessRssFile, &Process::rss_file_bytes}}) {
    per_process(*spec,
                [field](Family& f, const Identity& id, Label pid, Label comm, const Process& p) {
                  const std::array<Label, 2> labels = {{pid, comm}};
                  f.AddFor(&id, labels, static_cast<double>(p.*field));
                });
  }

  // Generic samples (model::Sample): one family per catalogue entry that has any, in catalogue
  // order, each cgroup's samples in the order its source wrote them.
  std::vector<const MetricSpec*> generic;
  for (const model::CgroupStats& cgroup : cgroups) {
    for (const model::Sample& sample : cgroup.samples) {
      if (std::find(generic.begin(), generic.end(), sample.spec) == generic.end()) {
        generic.push_back(sample.spec);
      }
    }
  }
  auto catalogue_index = [](const MetricSpec* spec) {
    for (size_t i = 0; i < kCatalogue.size(); ++i) {
      if (kCatalogue[i].name == spec->name) return i;
    }
    return kCatalogue.size();
  };
  std::sort(generic.begin(), generic.end(), [&](const MetricSpec* a, const MetricSpec* b) {
    return catalogue_index(a) < catalogue_index(b);
  });
  std::vector<Label> labels;
  for (const MetricSpec* spec : generic) {
    Family family(sink, *spec);
    for (size_t c = 0; c < cgroups.size(); ++c) {
      for (const model::Sample& sample : cgroups[c].samples) {
        if (sample.spec != spec) continue;
        labels.clear();
        for (const auto& [name, value] : sample.labels) labels.push_back({name, value});
        family.AddFor(&who[c], labels, sample.value);
      }
    }
  }
}

void WriteAgentFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                        SeriesSink& sink) {
  if (snapshot.node_memory) {
    const model::NodeMemory& node = *snapshot.node_memory;
    for (const auto& [spec, value] :
         {std::pair{&kNodeCgroupMemoryUsage, static_cast<double>(node.usage_bytes)},
          std::pair{&kNodeWorkingSet, static_cast<double>(node.working_set_bytes)},
          std::pair{&kNodeAvailable, static_cast<double>(node.available_bytes)}}) {
      Family(sink, *spec).Add({"source", node.source}, value);
    }
  }
  {
    const std::array<Label, 3> labels = {{{"kernel", context.kernel_release},
                                          {"revision", build_info::kRevision},
                                          {"version", build_info::kVersion}}};
    Family(sink, kBuildInfo).Add(labels, 1);
  }

  const model::SelfStats& self = snapshot.self;
  if (!self.programs.empty()) {
    Family programs(sink, kProgramAttached);
    for (const auto& program : self.programs) {
      programs.Add({"program", program.name}, program.attached ? 1 : 0);
    }
  }
  if (!self.recursion_misses.empty()) {
    Family misses(sink, kProgramRecursionMisses);
    for (const auto& program : self.recursion_misses) {
      misses.Add({"program", program.program}, static_cast<double>(program.count));
    }
  }
  if (!self.sources.empty()) {
    Family sources(sink, kSourceActive);
    for (const auto& [name, active] : self.sources) sources.Add({"source", name}, active ? 1 : 0);
  }
  if (self.tcp_map_capacity > 0) {
    Family(sink, kMapEntries)
        .Add({"map", "ps_tcp_states"}, static_cast<double>(self.tcp_map_entries));
    Family(sink, kMapCapacity)
        .Add({"map", "ps_tcp_states"}, static_cast<double>(self.tcp_map_capacity));
  }
  auto by_reason = [&](const MetricSpec& spec, const std::vector<model::Drop>& drops) {
    if (drops.empty()) return;
    Family family(sink, spec);
    for (const auto& drop : drops)
      family.Add({"reason", drop.reason}, static_cast<double>(drop.count));
  };
  by_reason(kBpfDrops, self.bpf_drops);
  Family(sink, kSocketDrift).Add(static_cast<double>(self.socket_drift));
  by_reason(kSockDiagFailures, self.sock_diag_failures);
  Family(sink, kReconciliations).Add(static_cast<double>(self.reconciliations));
  Family(sink, kReconciliationSeconds).Add(self.reconciliation_seconds);
  Family(sink, kEarlyReconciliations).Add(static_cast<double>(self.early_reconciliations));
  Family(sink, kUnresolvedCgroups).Add(static_cast<double>(self.unresolved_cgroups));
  Family(sink, kNetworkNamespaces).Add(static_cast<double>(self.network_namespaces));
  if (!self.metadata_errors.empty()) {
    Family errors(sink, kMetadataErrors);
    for (const auto& provider : self.metadata_errors) {
      errors.Add({"provider", provider.provider}, static_cast<double>(provider.count));
    }
  }
  Family(sink, kCollectionDuration).Add(self.collection_duration_seconds);
}

const char* TypeName(FamilyType type) {
  switch (type) {
    case FamilyType::kCounter:
      return "counter";
    case FamilyType::kGauge:
      return "gauge";
    case FamilyType::kUntyped:
      break;
  }
  return "untyped";
}

void AppendLabel(std::string& out, const Label& label) {
  out += label.name;
  out += "=\"";
  AppendEscapedLabelValue(out, label.value);
  out += '"';
}

}  // namespace

void WriteSnapshotFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                           SeriesSink& sink) {
  const std::vector<Identity> who = Identities(snapshot);
  WriteCgroupFamilies(snapshot, context, who, sink);
  WriteAgentFamilies(snapshot, context, sink);
}

void WriteScrapeFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                         SeriesSink& sink) {
  if (snapshot.taken_at == std::chrono::system_clock::time_point{}) return;  // no data, no age
  Family(sink, kSnapshotAge)
      .Add(std::max(0.0, std::chrono::duration<double>(context.now - snapshot.taken_at).count()));
}

void WriteFamilies(const model::Snapshot& snapshot, const BuildContext& context, SeriesSink& sink) {
  WriteSnapshotFamilies(snapshot, context, sink);
  WriteScrapeFamilies(snapshot, context, sink);
}

void TextSink::BeginFamily(std::string_view name, FamilyType type, std::string_view help,
                           bool keep_when_empty) {
  name_.assign(name);
  family_start_ = out_.size();
  series_ = 0;
  keep_when_empty_ = keep_when_empty;
  if (!help.empty()) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    AppendEscapedHelp(out_, help);
    out_ += '\n';
  }
  out_ += "# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += TypeName(type);
  out_ += '\n';
}

const std::string& TextSink::Prefix(const Identity& identity) {
  if (identity.index >= prefixes_.size()) {
    prefixes_.resize(identity.index + 1);
    prefix_ready_.resize(identity.index + 1);
  }
  std::string& prefix = prefixes_[identity.index];
  if (!prefix_ready_[identity.index]) {
    for (const Label& label : identity.labels) {
      if (!prefix.empty()) prefix += ',';
      AppendLabel(prefix, label);
    }
    prefix_ready_[identity.index] = true;
  }
  return prefix;
}

void TextSink::Series(const Identity* identity, std::span<const Label> labels, double value) {
  ++series_;
  out_ += name_;
  if (identity || !labels.empty()) {
    out_ += '{';
    bool first = true;
    if (identity) {
      out_ += Prefix(*identity);
      first = false;
    }
    for (const Label& label : labels) {
      if (!first) out_ += ',';
      first = false;
      AppendLabel(out_, label);
    }
    out_ += '}';
  }
  out_ += ' ';
  AppendSampleValue(out_, value);
  out_ += '\n';
}

void TextSink::EndFamily() {
  if (series_ == 0 && !keep_when_empty_) out_.resize(family_start_);
}

size_t EstimateTextBytes(const model::Snapshot& snapshot) {
  size_t bytes = 64 << 10;  // HELP and TYPE lines, the agent's own families
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    size_t series = 0;
    if (cgroup.tcp) series += kReportedTcpStates.size();
    if (cgroup.sockets) series += 9;
    if (cgroup.tcp_events) series += 4;
    if (cgroup.cpu) series += 4;
    if (cgroup.memory) series += 7;
    series += cgroup.processes.size() * 5;
    if (cgroup.network) {
      series += cgroup.network->inuse.size() + cgroup.network->frag_memory_bytes.size() + 2 +
                cgroup.network->interfaces.size() * 8;
    }
    // Metric name, extra label and value ~80 bytes, plus the identity's names and values.
    const size_t identity = 64 + cgroup.path.size() + cgroup.labels.namespace_.size() +
                            cgroup.labels.pod.size() + cgroup.labels.container.size() +
                            cgroup.labels.container_id.size() + cgroup.labels.image.size();
    bytes += series * (80 + identity);
  }
  return bytes;
}

std::string RenderText(const model::Snapshot& snapshot, const BuildContext& context) {
  std::string out;
  out.reserve(EstimateTextBytes(snapshot));
  TextSink sink(out);
  WriteFamilies(snapshot, context, sink);
  return out;
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(value.substr(start, i - start));
    out += c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
    start = i + 1;
  }
  out.append(value.substr(start));
}

// The text format's HELP escapes, '\\' and newline (label values also escape '"'), on text made
// valid UTF-8 first: a newline would end the comment early and leave the rest as a malformed
// sample line, a backslash would start an escape promtool refuses. The catalogue's texts need
// neither; relayed families may bring their own.
void AppendEscapedHelp(std::string& out, std::string_view help) {
  if (help.find_first_of("\\\n") == std::string_view::npos && IsValidUtf8(help)) {
    out += help;
    return;
  }
  for (char c : EscapeInvalidUtf8(help)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendSampleValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[32];
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  std::to_chars_result result;
  if (value == std::trunc(value) && std::fabs(value) < kExactIntegers) {
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out.append(buffer, result.ptr);
}

}  // namespace podstat::metrics
