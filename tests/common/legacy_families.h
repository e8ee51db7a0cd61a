// The exposition as podstat built it before the streaming writer (metrics/exposition.h), kept
// verbatim as the oracle the writer is checked against (exposition_oracle_test.cc) and as the
// "old" side of bench/exposition_bench.cc: a prometheus-cpp MetricFamily per series, serialised
// by prometheus::TextSerializer, relayed series merged by MergeRelayed. Its code is frozen but
// for which series it builds: those follow the writer's rules (series hygiene, issue 14 item 5:
// no close or new_syn_recv state, no socket or TCP series for a cgroup with no socket and no TCP
// event, no sockstat protocol other than tcp/udp at 0), so that the oracle still checks the
// text (escaping, value spelling, relay merging) series for series, and the benchmark's old side
// builds as many series as the new one. The golden file (tests/fixtures/exposition/golden.txt)
// is what guards which series the page has.
#pragma once

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podstat/metrics/catalogue.h"
#include "podstat/metrics/exposition.h"
#include "podstat/model/snapshot.h"
#include "podstat/remote_write/relay_store.h"
#include "podstat/util/build_info.h"
#include "podstat/util/strings.h"

namespace podstat::testing::legacy {

using metrics::BuildContext;
using namespace podstat::metrics;  // the catalogue's specs

namespace detail {

inline prometheus::MetricFamily Family(const MetricSpec& spec) {
  prometheus::MetricFamily family;
  family.name = std::string(spec.name);
  family.help = std::string(spec.help);
  family.type =
      spec.kind == Kind::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  return family;
}

inline void Add(prometheus::MetricFamily& family,
                std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

using Labels = std::vector<prometheus::ClientMetric::Label>;

// The writer's series rules (userspace/metrics/exposition.cc), restated.
inline constexpr std::array<size_t, 10> kReportedTcpStates = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10};

inline bool ReportsTcp(const model::CgroupStats& cgroup) {
  if (cgroup.tcp) {
    for (size_t state : kReportedTcpStates) {
      if ((*cgroup.tcp)[state] > 0) return true;
    }
  }
  if (!cgroup.tcp_events) return false;
  const model::TcpEvents& e = *cgroup.tcp_events;
  return e.retransmits + e.connect_failures + e.resets_sent + e.resets_received > 0;
}

inline bool HoldsSockets(const model::CgroupStats& cgroup) {
  if (!cgroup.sockets) return false;
  for (const auto& kinds : *cgroup.sockets) {
    for (int64_t count : kinds) {
      if (count > 0) return true;
    }
  }
  return false;
}

inline bool ReportsInuse(const std::string& protocol, uint64_t count) {
  return count > 0 || protocol == "tcp" || protocol == "tcp6" || protocol == "udp" ||
         protocol == "udp6";
}

// cAdvisor's container-level labels: name (the runtime's container name), image, id, and for
// Kubernetes the container_label_io_kubernetes_* names. podstat's own label set is a superset of
// what dashboards select on (namespace, pod, container, image, id), so the same labels are kept.
inline Labels Who(const model::CgroupStats& cgroup) {
  const model::ContainerLabels& labels = cgroup.labels;
  return {{"namespace", labels.namespace_}, {"pod", labels.pod},
          {"container", labels.container},  {"container_id", labels.container_id},
          {"image", labels.image},          {"id", cgroup.path}};
}

// cAdvisor's tcp_state values, in kernel state order (index = state - 1); new_syn_recv has none.
constexpr std::array<std::string_view, 11> kCadvisorTcpStates = {
    "established", "synsent",   "synrecv", "finwait1", "finwait2", "timewait",
    "close",       "closewait", "lastack", "listen",   "closing"};

inline void AddCadvisorCompat(const model::Snapshot& snapshot,
                              std::vector<prometheus::MetricFamily>& families) {
  prometheus::MetricFamily tcp = Family(kCadvisorTcp);
  prometheus::MetricFamily tcp6 = Family(kCadvisorTcp6);
  prometheus::MetricFamily udp = Family(kCadvisorUdp);
  prometheus::MetricFamily udp6 = Family(kCadvisorUdp6);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (cgroup.tcp && ReportsTcp(cgroup)) {
      const model::TcpStateCounts v6 = cgroup.tcp_inet6.value_or(model::TcpStateCounts{});
      for (size_t i = 0; i < kCadvisorTcpStates.size(); ++i) {
        for (auto& [family, value] :
             {std::pair{&tcp, (*cgroup.tcp)[i] - v6[i]}, std::pair{&tcp6, v6[i]}}) {
          Labels labels = Who(cgroup);
          labels.push_back({"tcp_state", std::string(kCadvisorTcpStates[i])});
          Add(*family, std::move(labels), static_cast<double>(value < 0 ? 0 : value));
        }
      }
    }
    if (HoldsSockets(cgroup)) {
      for (size_t index = 0; index < 2; ++index) {
        prometheus::MetricFamily& family = index == 0 ? udp : udp6;
        const auto& queues = cgroup.network ? cgroup.network->udp[index] : std::nullopt;
        std::vector<std::pair<const char*, double>> values = {
            {"listen", static_cast<double>((*cgroup.sockets)[index][model::kSocketUdp])}};
        if (queues) {
          values.push_back({"dropped", static_cast<double>(queues->drops)});
          values.push_back({"rxqueued", static_cast<double>(queues->rx_queued)});
          values.push_back({"txqueued", static_cast<double>(queues->tx_queued)});
        }
        for (const auto& [state, value] : values) {
          Labels labels = Who(cgroup);
          labels.push_back({"udp_state", state});
          Add(family, std::move(labels), value);
        }
      }
    }
  }
  for (auto* family : {&tcp, &tcp6, &udp, &udp6}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }
}

}  // namespace detail
using namespace detail;

inline std::vector<prometheus::MetricFamily> BuildFamilies(const model::Snapshot& snapshot,
                                                           const BuildContext& context) {
  std::vector<prometheus::MetricFamily> families;

  const auto who = Who;

  prometheus::MetricFamily tcp = Family(kContainerTcpSockets);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (!cgroup.tcp || !ReportsTcp(cgroup)) continue;
    for (size_t i : kReportedTcpStates) {
      Labels labels = who(cgroup);
      labels.push_back({"state", std::string(model::kTcpStateNames[i])});
      Add(tcp, std::move(labels), static_cast<double>((*cgroup.tcp)[i]));
    }
  }
  families.push_back(std::move(tcp));

  // Open sockets by family and type (kinds of one type summed), and UDP alone.
  prometheus::MetricFamily sockets = Family(kContainerSockets);
  prometheus::MetricFamily udp_sockets = Family(kContainerUdpSockets);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (!HoldsSockets(cgroup)) continue;
    for (size_t family = 0; family < model::kSocketFamilies.size(); ++family) {
      std::map<std::string_view, int64_t> by_type;
      for (size_t kind = 0; kind < model::kSocketKindTypes.size(); ++kind) {
        if (model::kSocketKindTypes[kind].empty()) continue;
        by_type[model::kSocketKindTypes[kind]] += (*cgroup.sockets)[family][kind];
      }
      for (const auto& [type, count] : by_type) {
        if (type == "other" && !snapshot.other_socket_kinds_counted) continue;
        Labels labels = who(cgroup);
        labels.push_back({"family", std::string(model::kSocketFamilies[family])});
        labels.push_back({"type", std::string(type)});
        Add(sockets, std::move(labels), static_cast<double>(count));
      }
    }
    Add(udp_sockets, who(cgroup),
        static_cast<double>((*cgroup.sockets)[0][model::kSocketUdp] +
                            (*cgroup.sockets)[1][model::kSocketUdp]));
  }
  for (auto* family : {&sockets, &udp_sockets}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }

  // TCP health counters (BPF).
  prometheus::MetricFamily retransmits = Family(kTcpRetransmits);
  prometheus::MetricFamily connect_failures = Family(kTcpConnectFailures);
  prometheus::MetricFamily resets = Family(kTcpResets);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (!cgroup.tcp_events || !ReportsTcp(cgroup)) continue;
    const model::TcpEvents& events = *cgroup.tcp_events;
    Add(retransmits, who(cgroup), static_cast<double>(events.retransmits));
    Add(connect_failures, who(cgroup), static_cast<double>(events.connect_failures));
    for (const auto& [direction, count] :
         {std::pair{"sent", events.resets_sent}, std::pair{"received", events.resets_received}}) {
      Labels labels = who(cgroup);
      labels.push_back({"direction", direction});
      Add(resets, std::move(labels), static_cast<double>(count));
    }
  }
  for (auto* family : {&retransmits, &connect_failures, &resets}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }

  // Per network namespace, on the cgroup owning it: sockstat and interfaces.
  prometheus::MetricFamily inuse = Family(kSockstatInuse);
  prometheus::MetricFamily tw = Family(kSockstatTcpTw);
  prometheus::MetricFamily sockets_used = Family(kSockstatSocketsUsed);
  prometheus::MetricFamily frag_memory = Family(kSockstatFragMemory);
  struct InterfaceFamily {
    prometheus::MetricFamily family;
    uint64_t model::InterfaceStats::*field;
  };
  std::vector<InterfaceFamily> interface_families = {
      {Family(kNetworkReceiveBytes), &model::InterfaceStats::receive_bytes},
      {Family(kNetworkReceivePackets), &model::InterfaceStats::receive_packets},
      {Family(kNetworkReceiveErrors), &model::InterfaceStats::receive_errors},
      {Family(kNetworkReceiveDropped), &model::InterfaceStats::receive_dropped},
      {Family(kNetworkTransmitBytes), &model::InterfaceStats::transmit_bytes},
      {Family(kNetworkTransmitPackets), &model::InterfaceStats::transmit_packets},
      {Family(kNetworkTransmitErrors), &model::InterfaceStats::transmit_errors},
      {Family(kNetworkTransmitDropped), &model::InterfaceStats::transmit_dropped}};
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (!cgroup.network) continue;
    const model::NetworkStats& network = *cgroup.network;
    for (const auto& [protocol, count] : network.inuse) {
      if (!ReportsInuse(protocol, count)) continue;
      Labels labels = who(cgroup);
      labels.push_back({"protocol", protocol});
      Add(inuse, std::move(labels), static_cast<double>(count));
    }
    for (const auto& [protocol, bytes] : network.frag_memory_bytes) {
      if (bytes == 0) continue;
      Labels labels = who(cgroup);
      labels.push_back({"protocol", protocol});
      Add(frag_memory, std::move(labels), static_cast<double>(bytes));
    }
    if (network.tcp_time_wait) {
      Add(tw, who(cgroup), static_cast<double>(*network.tcp_time_wait));
    }
    if (network.sockets_used) {
      Add(sockets_used, who(cgroup), static_cast<double>(*network.sockets_used));
    }
    for (const model::InterfaceStats& interface : network.interfaces) {
      for (InterfaceFamily& entry : interface_families) {
        Labels labels = who(cgroup);
        labels.push_back({"interface", interface.name});
        Add(entry.family, std::move(labels), static_cast<double>(interface.*entry.field));
      }
    }
  }
  for (auto* family : {&inuse, &tw, &sockets_used, &frag_memory}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }
  for (InterfaceFamily& entry : interface_families) {
    if (!entry.family.metric.empty()) families.push_back(std::move(entry.family));
  }
  if (snapshot.node_sockstat) {
    const model::NodeSockstat& node = *snapshot.node_sockstat;
    auto node_gauge = [&](const MetricSpec& spec, const std::optional<uint64_t>& value) {
      if (!value) return;
      prometheus::MetricFamily family = Family(spec);
      Add(family, {}, static_cast<double>(*value));
      families.push_back(std::move(family));
    };
    node_gauge(kNodeSockstatTcpOrphan, node.tcp_orphan);
    node_gauge(kNodeSockstatTcpAlloc, node.tcp_alloc);
    if (!node.memory_pages.empty()) {
      prometheus::MetricFamily memory_pages = Family(kNodeSockstatMemory);
      for (const auto& [protocol, pages] : node.memory_pages) {
        Add(memory_pages, {{"protocol", protocol}}, static_cast<double>(pages));
      }
      families.push_back(std::move(memory_pages));
    }
  }

  if (context.compat_cadvisor) AddCadvisorCompat(snapshot, families);

  // One family per value; each cgroup contributes where it has the data.
  auto per_cgroup = [&](const MetricSpec& spec, auto value_of) {
    prometheus::MetricFamily family = Family(spec);
    for (const model::CgroupStats& cgroup : snapshot.cgroups) {
      if (const std::optional<double> value = value_of(cgroup)) Add(family, who(cgroup), *value);
    }
    if (!family.metric.empty()) families.push_back(std::move(family));
  };
  constexpr double kNs = 1e-9;
  using Value = std::optional<double>;
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
  prometheus::MetricFamily process_cpu = Family(kProcessCpu);
  prometheus::MetricFamily process_rss = Family(kProcessRss);
  prometheus::MetricFamily process_virtual = Family(kProcessVirtual);
  prometheus::MetricFamily process_rss_file = Family(kProcessRssFile);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    for (const model::ProcessStats& process : cgroup.processes) {
      Labels labels = who(cgroup);
      labels.push_back({"pid", std::to_string(process.pid)});
      labels.push_back({"comm", process.comm});
      for (const auto& [mode, seconds] : {std::pair{"user", process.cpu_user_seconds},
                                          std::pair{"system", process.cpu_system_seconds}}) {
        Labels with_mode = labels;
        with_mode.push_back({"mode", mode});
        Add(process_cpu, std::move(with_mode), seconds);
      }
      Add(process_rss, labels, static_cast<double>(process.rss_bytes));
      Add(process_virtual, labels, static_cast<double>(process.vm_size_bytes));
      Add(process_rss_file, std::move(labels), static_cast<double>(process.rss_file_bytes));
    }
  }
  for (auto* family : {&process_cpu, &process_rss, &process_virtual, &process_rss_file}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }

  // Generic samples: a family per catalogue entry that has any, in catalogue order.
  for (const MetricSpec& spec : kCatalogue) {
    prometheus::MetricFamily family = Family(spec);
    for (const model::CgroupStats& cgroup : snapshot.cgroups) {
      for (const model::Sample& sample : cgroup.samples) {
        if (sample.spec->name != spec.name) continue;
        Labels labels = who(cgroup);
        for (const auto& [name, value] : sample.labels)
          labels.push_back({std::string(name), value});
        Add(family, std::move(labels), sample.value);
      }
    }
    if (!family.metric.empty()) families.push_back(std::move(family));
  }

  if (snapshot.node_memory) {
    const model::NodeMemory& node = *snapshot.node_memory;
    auto node_family = [&](const MetricSpec& spec, double value) {
      prometheus::MetricFamily family = Family(spec);
      Add(family, {{"source", node.source}}, value);
      families.push_back(std::move(family));
    };
    node_family(kNodeCgroupMemoryUsage, static_cast<double>(node.usage_bytes));
    node_family(kNodeWorkingSet, static_cast<double>(node.working_set_bytes));
    node_family(kNodeAvailable, static_cast<double>(node.available_bytes));
  }

  prometheus::MetricFamily build = Family(kBuildInfo);
  Add(build,
      {{"kernel", context.kernel_release},
       {"revision", build_info::kRevision},
       {"version", build_info::kVersion}},
      1);
  families.push_back(std::move(build));

  const model::SelfStats& self = snapshot.self;
  if (!self.programs.empty()) {
    prometheus::MetricFamily programs = Family(kProgramAttached);
    for (const auto& program : self.programs) {
      Add(programs, {{"program", program.name}}, program.attached ? 1 : 0);
    }
    families.push_back(std::move(programs));
  }
  if (!self.recursion_misses.empty()) {
    prometheus::MetricFamily misses = Family(kProgramRecursionMisses);
    for (const auto& program : self.recursion_misses) {
      Add(misses, {{"program", program.program}}, static_cast<double>(program.count));
    }
    families.push_back(std::move(misses));
  }
  if (!self.sources.empty()) {
    prometheus::MetricFamily sources = Family(kSourceActive);
    for (const auto& [name, active] : self.sources)
      Add(sources, {{"source", name}}, active ? 1 : 0);
    families.push_back(std::move(sources));
  }
  if (self.tcp_map_capacity > 0) {
    prometheus::MetricFamily entries = Family(kMapEntries);
    Add(entries, {{"map", "ps_tcp_states"}}, static_cast<double>(self.tcp_map_entries));
    families.push_back(std::move(entries));
    prometheus::MetricFamily capacity = Family(kMapCapacity);
    Add(capacity, {{"map", "ps_tcp_states"}}, static_cast<double>(self.tcp_map_capacity));
    families.push_back(std::move(capacity));
  }
  if (!self.bpf_drops.empty()) {
    prometheus::MetricFamily drops = Family(kBpfDrops);
    for (const auto& drop : self.bpf_drops) {
      Add(drops, {{"reason", drop.reason}}, static_cast<double>(drop.count));
    }
    families.push_back(std::move(drops));
  }

  auto single = [&families](const MetricSpec& spec, double value) {
    prometheus::MetricFamily family = Family(spec);
    Add(family, {}, value);
    families.push_back(std::move(family));
  };
  single(kSocketDrift, static_cast<double>(self.socket_drift));
  if (!self.sock_diag_failures.empty()) {
    prometheus::MetricFamily failures = Family(kSockDiagFailures);
    for (const auto& failure : self.sock_diag_failures) {
      Add(failures, {{"reason", failure.reason}}, static_cast<double>(failure.count));
    }
    families.push_back(std::move(failures));
  }
  single(kReconciliations, static_cast<double>(self.reconciliations));
  single(kReconciliationSeconds, self.reconciliation_seconds);
  single(kEarlyReconciliations, static_cast<double>(self.early_reconciliations));
  single(kUnresolvedCgroups, static_cast<double>(self.unresolved_cgroups));
  single(kNetworkNamespaces, static_cast<double>(self.network_namespaces));
  if (!self.metadata_errors.empty()) {
    prometheus::MetricFamily errors = Family(kMetadataErrors);
    for (const auto& provider : self.metadata_errors) {
      Add(errors, {{"provider", provider.provider}}, static_cast<double>(provider.count));
    }
    families.push_back(std::move(errors));
  }
  single(kCollectionDuration, self.collection_duration_seconds);
  if (snapshot.taken_at != std::chrono::system_clock::time_point{}) {
    single(kSnapshotAge,
           std::max(0.0, std::chrono::duration<double>(context.now - snapshot.taken_at).count()));
  }
  return families;
}

namespace detail {

inline bool HelpNeedsEscape(const std::string& help) {
  return help.find_first_of("\\\n") != std::string::npos || EscapeInvalidUtf8(help) != help;
}

// The text format's HELP escapes, '\\' and newline (label values also escape '"'), on text made
// valid UTF-8 first.
inline std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : EscapeInvalidUtf8(help)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace detail
using namespace detail;

inline std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  // prometheus-cpp 1.0.1 escapes label values ('\\', '"', newline) but writes HELP as it is, so
  // a help text with a newline would end the comment early and the rest would be a malformed
  // sample line. Ours are constants without either; relayed families may bring their own.
  const bool escape_help = std::any_of(families.begin(), families.end(), [](const auto& family) {
    return HelpNeedsEscape(family.help);
  });
  if (!escape_help) {
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
  }
  std::vector<prometheus::MetricFamily> escaped = families;
  for (auto& family : escaped) {
    if (HelpNeedsEscape(family.help)) family.help = EscapeHelp(family.help);
  }
  prometheus::TextSerializer().Serialize(out, escaped);
  return out.str();
}

// Non-empty labels, sorted: how Prometheus identifies a series.
inline std::vector<std::pair<std::string, std::string>> SortedLabels(
    const prometheus::ClientMetric& metric) {
  std::vector<std::pair<std::string, std::string>> labels;
  for (const auto& label : metric.label) {
    if (!label.value.empty()) labels.emplace_back(label.name, label.value);
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

inline void MergeRelayed(std::vector<prometheus::MetricFamily>& families,
                         const std::vector<remote_write::RelayFamily>& relayed) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < families.size(); ++i) index.emplace(families[i].name, i);
  for (const remote_write::RelayFamily& family : relayed) {
    auto it = index.find(family.name);
    if (it == index.end()) {
      prometheus::MetricFamily added;
      added.name = family.name;
      added.help = "Relayed from a remote_write sender (podstat --receiver.enable).";
      added.type = prometheus::MetricType::Untyped;
      families.push_back(std::move(added));
      it = index.emplace(family.name, families.size() - 1).first;
    }
    prometheus::MetricFamily& into = families[it->second];
    std::set<std::vector<std::pair<std::string, std::string>>> present;
    for (const prometheus::ClientMetric& metric : into.metric) present.insert(SortedLabels(metric));
    for (const remote_write::RelaySeries& series : family.series) {
      prometheus::ClientMetric metric;
      for (const auto& label : series.labels) {
        if (label.name != "__name__") metric.label.push_back({label.name, label.value});
      }
      if (!present.insert(SortedLabels(metric)).second) continue;
      switch (into.type) {
        case prometheus::MetricType::Counter:
          metric.counter.value = series.value;
          break;
        case prometheus::MetricType::Gauge:
          metric.gauge.value = series.value;
          break;
        default:
          metric.untyped.value = series.value;
          break;
      }
      into.metric.push_back(std::move(metric));
    }
  }
}

inline std::vector<remote_write::TimeSeries> FamiliesToSeries(
    const std::vector<prometheus::MetricFamily>& families, int64_t timestamp_ms) {
  std::vector<remote_write::TimeSeries> series;
  for (const prometheus::MetricFamily& family : families) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      double value;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          value = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          value = metric.gauge.value;
          break;
        case prometheus::MetricType::Untyped:
          value = metric.untyped.value;
          break;
        default:
          continue;
      }
      remote_write::TimeSeries& one = series.emplace_back();
      one.labels.push_back({"__name__", family.name});
      for (const auto& label : metric.label) {
        if (!label.value.empty()) one.labels.push_back({label.name, label.value});
      }
      one.samples.push_back({value, timestamp_ms});
    }
  }
  return series;
}

}  // namespace podstat::testing::legacy
