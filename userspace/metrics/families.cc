#include "podstat/metrics/families.h"

#include <prometheus/text_serializer.h>

#include <optional>
#include <sstream>

#include "podstat/metrics/catalogue.h"
#include "podstat/util/build_info.h"

namespace podstat::metrics {
namespace {

prometheus::MetricFamily Family(const MetricSpec& spec) {
  prometheus::MetricFamily family;
  family.name = std::string(spec.name);
  family.help = std::string(spec.help);
  family.type =
      spec.kind == Kind::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  return family;
}

void Add(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels,
         double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

}  // namespace

std::vector<prometheus::MetricFamily> BuildFamilies(const model::Snapshot& snapshot,
                                                    const BuildContext& context) {
  std::vector<prometheus::MetricFamily> families;

  using Labels = std::vector<prometheus::ClientMetric::Label>;
  auto who = [](const model::CgroupStats& cgroup) -> Labels {
    const model::ContainerLabels& labels = cgroup.labels;
    return {{"namespace", labels.namespace_}, {"pod", labels.pod},
            {"container", labels.container},  {"container_id", labels.container_id},
            {"image", labels.image},          {"id", cgroup.path}};
  };

  prometheus::MetricFamily tcp = Family(kContainerTcpSockets);
  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (!cgroup.tcp) continue;
    for (size_t i = 0; i < model::kTcpStateNames.size(); ++i) {
      Labels labels = who(cgroup);
      labels.push_back({"state", std::string(model::kTcpStateNames[i])});
      Add(tcp, std::move(labels), static_cast<double>((*cgroup.tcp)[i]));
    }
  }
  families.push_back(std::move(tcp));

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
  single(kReconciliations, static_cast<double>(self.reconciliations));
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

std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace podstat::metrics
