#include "podstat/metrics/families.h"

#include <prometheus/text_serializer.h>

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

  prometheus::MetricFamily tcp = Family(kContainerTcpSockets);
  tcp.metric.reserve(snapshot.cgroups.size() * model::kTcpStateNames.size());
  for (const model::CgroupTcp& cgroup : snapshot.cgroups) {
    const model::ContainerLabels& who = cgroup.labels;
    for (size_t i = 0; i < model::kTcpStateNames.size(); ++i) {
      Add(tcp,
          {{"namespace", who.namespace_},
           {"pod", who.pod},
           {"container", who.container},
           {"container_id", who.container_id},
           {"image", who.image},
           {"id", cgroup.path},
           {"state", std::string(model::kTcpStateNames[i])}},
          static_cast<double>(cgroup.sockets[i]));
    }
  }
  families.push_back(std::move(tcp));

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
