#include "podstat/app/remote_write_bridge.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace podstat::app {
namespace {

model::Snapshot OneCgroup() {
  model::Snapshot snapshot;
  model::CgroupStats cgroup;
  cgroup.path = "/a";
  cgroup.labels.container = "web";
  cgroup.memory = model::CgroupMemory{100, 60, 50, 40, 40, std::nullopt, 0};
  snapshot.cgroups = {cgroup};
  snapshot.self.socket_drift = 7;
  return snapshot;
}

const remote_write::TimeSeries* Named(const std::vector<remote_write::TimeSeries>& series,
                                      const std::string& name) {
  for (const auto& one : series) {
    if (one.labels.at(0).value == name) return &one;
  }
  return nullptr;
}

TEST(RemoteWriteBridge, SeriesHaveTheirNameFirstAndNoEmptyLabels) {
  const auto series = SnapshotToSeries(OneCgroup(), metrics::BuildContext{}, 1234);
  const auto* usage = Named(series, "container_memory_usage_bytes");
  ASSERT_TRUE(usage);
  // namespace, pod, container_id and image are empty: absent, as remote_write requires.
  EXPECT_EQ(usage->labels,
            (std::vector<remote_write::Label>{
                {"__name__", "container_memory_usage_bytes"}, {"container", "web"}, {"id", "/a"}}));
  EXPECT_EQ(usage->samples.at(0).value, 100);
  EXPECT_EQ(usage->samples.at(0).timestamp_ms, 1234);
  const auto* drift = Named(series, "podstat_socket_drift_total");
  ASSERT_TRUE(drift);
  EXPECT_EQ(drift->labels.size(), 1u);
  EXPECT_EQ(drift->samples.at(0).value, 7);
  // The families that are only HELP and TYPE on the page (no TCP data here) send nothing.
  EXPECT_FALSE(Named(series, "container_tcp_sockets"));
}

// remote_write carries what the page carries: the writer's series rules hold for both.
TEST(RemoteWriteBridge, SendsNoSeriesThePageLeavesOut) {
  model::Snapshot snapshot = OneCgroup();
  model::CgroupStats& busy = snapshot.cgroups[0];
  busy.tcp.emplace();
  (*busy.tcp)[0] = 2;        // established
  model::CgroupStats quiet;  // had sockets, holds none now
  quiet.path = "/b";
  quiet.tcp.emplace();
  quiet.sockets.emplace();
  quiet.tcp_events.emplace();
  model::NetworkStats network;
  network.inuse = {{"tcp", 0}, {"udplite", 0}, {"raw", 0}};
  network.frag_memory_bytes = {{"frag", 0}};
  quiet.network = network;
  snapshot.cgroups.push_back(quiet);
  size_t tcp = 0, inuse = 0;
  for (const auto& one : SnapshotToSeries(snapshot, metrics::BuildContext{}, 1)) {
    std::map<std::string, std::string> labels;
    for (const auto& label : one.labels) labels[label.name] = label.value;
    const std::string& name = labels["__name__"];
    EXPECT_NE(labels["state"], "close");
    EXPECT_NE(labels["state"], "new_syn_recv");
    EXPECT_NE(name, "container_sockstat_frag_memory_bytes");
    if (name == "container_tcp_sockets") {
      EXPECT_EQ(labels["id"], "/a");
      ++tcp;
    }
    if (name == "container_sockets" || name.starts_with("container_tcp_")) {
      EXPECT_EQ(labels["id"], "/a") << name;
    }
    if (name == "container_sockstat_inuse") {
      EXPECT_EQ(labels["protocol"], "tcp");
      ++inuse;
    }
  }
  EXPECT_EQ(tcp, 10u);
  EXPECT_EQ(inuse, 1u);
}

TEST(RemoteWriteBridge, RelayedSeriesJoinOurFamilyByNameOrAnUntypedOne) {
  std::vector<remote_write::RelayFamily> relayed(2);
  relayed[0].name = "container_memory_usage_bytes";
  relayed[0].series = {
      // The same labels as ours once empty values are dropped: a duplicate, left out.
      {{{"__name__", "container_memory_usage_bytes"}, {"container", "web"}, {"id", "/a"}}, 999, 1},
      {{{"__name__", "container_memory_usage_bytes"}, {"id", "/a"}, {"relay", "x"}}, 5, 1}};
  relayed[1].name = "container_fs_usage_bytes";
  relayed[1].series = {{{{"__name__", "container_fs_usage_bytes"}, {"device", "sda"}}, 42, 1}};
  std::string text;
  metrics::TextSink sink(text);
  RelayMergingSink merged(sink, relayed);
  metrics::WriteFamilies(OneCgroup(), metrics::BuildContext{}, merged);
  merged.Finish();
  // Ours kept, the identical relayed one dropped (a duplicate would fail the whole scrape), the
  // one with an extra label right after ours in our (gauge) family.
  EXPECT_NE(text.find("container_memory_usage_bytes{namespace=\"\",pod=\"\",container=\"web\","
                      "container_id=\"\",image=\"\",id=\"/a\"} 100\n"
                      "container_memory_usage_bytes{id=\"/a\",relay=\"x\"} 5\n"
                      "# HELP container_memory_working_set_bytes"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("999"), std::string::npos);
  EXPECT_TRUE(
      text.ends_with("# HELP container_fs_usage_bytes Relayed from a remote_write sender "
                     "(podstat --receiver.enable).\n"
                     "# TYPE container_fs_usage_bytes untyped\n"
                     "container_fs_usage_bytes{device=\"sda\"} 42\n"))
      << text;
}

}  // namespace
}  // namespace podstat::app
