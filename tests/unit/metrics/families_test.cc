#include "podstat/metrics/families.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "podstat/metrics/catalogue.h"

namespace podstat::metrics {
namespace {

model::Snapshot TwoCgroups() {
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  model::CgroupTcp a;
  a.cgroup_id = 11;
  a.path = "/docker/abc";
  a.labels = {"shop", "web-0", "web", "abc", "nginx:1.25"};
  a.sockets[0] = 3;  // established
  a.sockets[9] = 1;  // listen
  model::CgroupTcp b;
  b.cgroup_id = 12;
  b.path = "/system.slice/ssh.service";
  b.sockets[5] = 7;  // time_wait
  snapshot.cgroups = {a, b};
  snapshot.self.programs = {{"inet_sock_set_state_tp_btf", true},
                            {"inet_sock_set_state_raw_tp", false}};
  snapshot.self.bpf_drops = {{"map_full", 2}, {"no_cgroup", 0}, {"bad_state", 0}};
  snapshot.self.collection_duration_seconds = 0.0125;
  return snapshot;
}

const prometheus::MetricFamily& FamilyNamed(const std::vector<prometheus::MetricFamily>& families,
                                            const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return family;
  }
  ADD_FAILURE() << "no family " << name;
  static const prometheus::MetricFamily kEmpty;
  return kEmpty;
}

TEST(BuildFamilies, EveryStateOfEveryCgroup) {
  const BuildContext context{"6.18.0",
                             std::chrono::system_clock::time_point(std::chrono::seconds(1003))};
  const auto families = BuildFamilies(TwoCgroups(), context);
  const auto& tcp = FamilyNamed(families, "container_tcp_sockets");
  ASSERT_EQ(tcp.metric.size(), 24u);
  EXPECT_EQ(tcp.type, prometheus::MetricType::Gauge);
  std::set<std::string> states;
  for (const auto& metric : tcp.metric) {
    std::map<std::string, std::string> labels;
    for (const auto& label : metric.label) labels[label.name] = label.value;
    // Every series has the same label names, empty where a cgroup is no container.
    ASSERT_EQ(labels.size(), 7u);
    for (const char* name :
         {"namespace", "pod", "container", "container_id", "image", "id", "state"}) {
      EXPECT_TRUE(labels.contains(name)) << name;
    }
    states.insert(labels["state"]);
    if (labels["id"] == "/docker/abc") {
      EXPECT_EQ(labels["namespace"], "shop");
      EXPECT_EQ(labels["pod"], "web-0");
      EXPECT_EQ(labels["container"], "web");
      EXPECT_EQ(labels["container_id"], "abc");
      EXPECT_EQ(labels["image"], "nginx:1.25");
      if (labels["state"] == "established") {
        EXPECT_EQ(metric.gauge.value, 3);
      }
    }
    if (labels["id"] == "/system.slice/ssh.service") {
      EXPECT_EQ(labels["container_id"], "");
      if (labels["state"] == "time_wait") {
        EXPECT_EQ(metric.gauge.value, 7);
      }
    }
  }
  EXPECT_EQ(states.size(), 12u);
  EXPECT_EQ(FamilyNamed(families, "podstat_snapshot_age_seconds").metric[0].gauge.value, 3);
}

TEST(BuildFamilies, EmptySnapshotStillDescribesTheAgent) {
  const auto families = BuildFamilies(model::Snapshot{}, BuildContext{});
  EXPECT_TRUE(FamilyNamed(families, "container_tcp_sockets").metric.empty());
  EXPECT_EQ(FamilyNamed(families, "podstat_build_info").metric.size(), 1u);
  for (const auto& family : families) {
    EXPECT_NE(family.name, "podstat_snapshot_age_seconds");  // no data, no age
  }
}

TEST(BuildFamilies, NamesAndHelpComeFromTheCatalogue) {
  const auto families = BuildFamilies(TwoCgroups(), BuildContext{});
  std::set<std::string> catalogued;
  for (const auto& spec : kCatalogue) catalogued.insert(std::string(spec.name));
  for (const auto& family : families) {
    EXPECT_TRUE(catalogued.contains(family.name)) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    if (family.type == prometheus::MetricType::Counter) {
      EXPECT_TRUE(family.name.ends_with("_total")) << family.name;
    }
  }
}

TEST(Serialize, ProducesTheTextFormat) {
  const auto text = Serialize(BuildFamilies(TwoCgroups(), BuildContext{"6.18.0", {}}));
  EXPECT_NE(text.find("# TYPE container_tcp_sockets gauge\n"), std::string::npos);
  EXPECT_NE(text.find("container_tcp_sockets{namespace=\"shop\",pod=\"web-0\",container=\"web\","
                      "container_id=\"abc\",image=\"nginx:1.25\",id=\"/docker/abc\","
                      "state=\"established\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("podstat_bpf_program_attached{program=\"inet_sock_set_state_raw_tp\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE podstat_bpf_drops_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("podstat_bpf_drops_total{reason=\"map_full\"} 2\n"), std::string::npos);
}

TEST(Serialize, EscapesLabelValues) {
  model::Snapshot snapshot;
  model::CgroupTcp odd;
  odd.path = "/weird\"name\\with\nnewline";
  snapshot.cgroups = {odd};
  const auto text = Serialize(BuildFamilies(snapshot, BuildContext{}));
  EXPECT_NE(text.find("id=\"/weird\\\"name\\\\with\\nnewline\""), std::string::npos) << text;
}

}  // namespace
}  // namespace podstat::metrics
