#include "podstat/metrics/exposition.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "common/promtool.h"
#include "podstat/metrics/catalogue.h"

namespace podstat::metrics {
namespace {

// The builder's calls gathered into prometheus-cpp's MetricFamily values, so the assertions can
// look a family and its series up by name and label.
class FamilyCollector : public SeriesSink {
 public:
  explicit FamilyCollector(std::vector<prometheus::MetricFamily>& out) : out_(out) {}
  void BeginFamily(std::string_view name, FamilyType type, std::string_view help,
                   bool keep_when_empty) override {
    family_ = {};
    family_.name = name;
    family_.help = help;
    family_.type = type == FamilyType::kCounter ? prometheus::MetricType::Counter
                   : type == FamilyType::kGauge ? prometheus::MetricType::Gauge
                                                : prometheus::MetricType::Untyped;
    keep_when_empty_ = keep_when_empty;
  }
  void Series(const Identity* identity, std::span<const Label> labels, double value) override {
    prometheus::ClientMetric metric;
    if (identity) {
      for (const Label& label : identity->labels) {
        metric.label.push_back({std::string(label.name), std::string(label.value)});
      }
    }
    for (const Label& label : labels) {
      metric.label.push_back({std::string(label.name), std::string(label.value)});
    }
    metric.counter.value = metric.gauge.value = metric.untyped.value = value;
    family_.metric.push_back(std::move(metric));
  }
  void EndFamily() override {
    if (!family_.metric.empty() || keep_when_empty_) out_.push_back(std::move(family_));
  }

 private:
  std::vector<prometheus::MetricFamily>& out_;
  prometheus::MetricFamily family_;
  bool keep_when_empty_ = false;
};

std::vector<prometheus::MetricFamily> BuildFamilies(const model::Snapshot& snapshot,
                                                    const BuildContext& context) {
  std::vector<prometheus::MetricFamily> families;
  FamilyCollector collector(families);
  WriteFamilies(snapshot, context, collector);
  return families;
}

model::Snapshot TwoCgroups() {
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  model::CgroupStats a;
  a.cgroup_id = 11;
  a.path = "/docker/abc";
  a.labels = {"shop", "web-0", "web", "abc", "nginx:1.25"};
  a.tcp.emplace();
  (*a.tcp)[0] = 3;  // established
  (*a.tcp)[9] = 1;  // listen
  model::CgroupStats b;
  b.cgroup_id = 12;
  b.path = "/system.slice/ssh.service";
  b.tcp.emplace();
  (*b.tcp)[5] = 7;  // time_wait
  snapshot.cgroups = {a, b};
  snapshot.self.programs = {{"inet_sock_set_state_tp_btf", true},
                            {"inet_sock_set_state_raw_tp", false}};
  snapshot.self.bpf_drops = {{"map_full", 2}, {"no_cgroup", 0}, {"bad_state", 0}};
  snapshot.self.recursion_misses = {{"ps_state_tp_btf", 5357}, {"ps_switch_tp_btf", 0}};
  snapshot.self.early_reconciliations = 1;
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
  ASSERT_EQ(tcp.metric.size(), 20u);  // 10 states each: close and new_syn_recv are never counted
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
  EXPECT_EQ(states.size(), 10u);
  EXPECT_FALSE(states.contains("close"));
  EXPECT_FALSE(states.contains("new_syn_recv"));
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

TEST(BuildFamilies, CpuMemoryAndNodeWhereTheDataIs) {
  model::Snapshot snapshot = TwoCgroups();
  model::CgroupStats& web = snapshot.cgroups[0];
  web.cpu = model::CgroupCpu{2'500'000'000, 2'000'000'000, 500'000'000, std::nullopt};
  web.memory = model::CgroupMemory{100, 60, 50, 40, 40, 1 << 20, 3};
  snapshot.cgroups[1].memory = model::CgroupMemory{10, 10, 10, 0, 0, std::nullopt, 0};
  snapshot.node_memory = model::NodeMemory{1000, 700, 200, 500, 500, "cgroup v1 root"};
  const auto families = BuildFamilies(snapshot, BuildContext{});
  const auto& usage = FamilyNamed(families, "container_cpu_usage_seconds_total");
  ASSERT_EQ(usage.metric.size(), 1u);  // only the cgroup with CPU data
  EXPECT_DOUBLE_EQ(usage.metric[0].counter.value, 2.5);
  EXPECT_DOUBLE_EQ(
      FamilyNamed(families, "container_cpu_system_seconds_total").metric[0].counter.value, 0.5);
  for (const auto& family : families) {
    // No BPF CPU data in this snapshot: no run-queue series at all, rather than zeros.
    EXPECT_NE(family.name, "container_cpu_runqueue_wait_seconds_total");
  }
  EXPECT_EQ(FamilyNamed(families, "container_memory_working_set_bytes").metric.size(), 2u);
  const auto& limit = FamilyNamed(families, "container_spec_memory_limit_bytes");
  ASSERT_EQ(limit.metric.size(), 1u);  // the unlimited cgroup has no limit series
  EXPECT_EQ(limit.metric[0].gauge.value, 1 << 20);
  EXPECT_EQ(FamilyNamed(families, "container_oom_kills_total").metric[0].counter.value, 3);
  const auto& available = FamilyNamed(families, "node_memory_available_bytes");
  ASSERT_EQ(available.metric.size(), 1u);
  EXPECT_EQ(available.metric[0].gauge.value, 500);
  EXPECT_EQ(available.metric[0].label[0].value, "cgroup v1 root");
}

TEST(BuildFamilies, ProcessesCarryPidCommAndMode) {
  model::Snapshot snapshot = TwoCgroups();
  snapshot.cgroups[0].processes = {{42, "nginx: worker", 1.5, 0.25, 4096, 8192, 1024}};
  const auto families = BuildFamilies(snapshot, BuildContext{});
  const auto& cpu = FamilyNamed(families, "container_process_cpu_seconds_total");
  ASSERT_EQ(cpu.metric.size(), 2u);  // user and system
  std::map<std::string, double> by_mode;
  for (const auto& metric : cpu.metric) {
    std::map<std::string, std::string> labels;
    for (const auto& label : metric.label) labels[label.name] = label.value;
    EXPECT_EQ(labels["pid"], "42");
    EXPECT_EQ(labels["comm"], "nginx: worker");
    EXPECT_EQ(labels["container"], "web");
    by_mode[labels["mode"]] = metric.counter.value;
  }
  EXPECT_EQ(by_mode["user"], 1.5);
  EXPECT_EQ(by_mode["system"], 0.25);
  EXPECT_EQ(FamilyNamed(families, "container_process_resident_memory_bytes").metric[0].gauge.value,
            4096);
}

TEST(RenderText, ProducesTheTextFormat) {
  const auto text = RenderText(TwoCgroups(), BuildContext{"6.18.0", {}});
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
  EXPECT_NE(text.find("# TYPE podstat_bpf_program_recursion_misses_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("podstat_bpf_program_recursion_misses_total{program=\"ps_state_tp_btf\"} "
                      "5357\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("podstat_socket_early_reconciliations_total 1\n"), std::string::npos);
}

// A kernel that does not report skipped runs (before 5.12) gets no series, not a claimed 0.
TEST(RenderText, NoRecursionMissesFamilyWhenTheKernelReportsNone) {
  model::Snapshot snapshot = TwoCgroups();
  snapshot.self.recursion_misses.clear();
  const auto text = RenderText(snapshot, BuildContext{"5.10.0", {}});
  EXPECT_EQ(text.find("# TYPE podstat_bpf_program_recursion_misses_total"), std::string::npos)
      << text;
}

// A newline in HELP would end the comment and leave the rest as a malformed sample line, a
// backslash would start an escape promtool refuses ("invalid escape sequence '\b'"). The
// catalogue's and the relay's texts are constants; the sink does not rely on it.
TEST(TextSink, EscapesHelpSoEveryLineStaysValid) {
  model::Snapshot snapshot;
  model::CgroupStats odd;
  odd.path = "/weird\"name\\with\nnewline/x-\\xFF";  // as the collector hands it over
  odd.tcp.emplace();
  snapshot.cgroups = {odd};
  std::string text = RenderText(snapshot, BuildContext{"6.18.0", {}});
  TextSink sink(text);
  sink.BeginFamily("relayed_total", FamilyType::kCounter, "first line\nsecond \\ line \xff", false);
  sink.Series(nullptr, {}, 1);
  sink.EndFamily();
  EXPECT_NE(text.find("# HELP relayed_total first line\\nsecond \\\\ line \\\\xFF\n"),
            std::string::npos)
      << text;
  // The catalogue's HELP texts need no escape: they come out as written.
  EXPECT_NE(text.find(std::string("# HELP container_tcp_sockets ") +
                      std::string(kContainerTcpSockets.help) + "\n"),
            std::string::npos);

  if (!testing::HavePromtool()) GTEST_SKIP() << "SKIPPED LOUDLY: no promtool on PATH";
  const auto [status, output] = testing::PromtoolCheckMetrics(text);
  EXPECT_EQ(status, 0) << output << "\n" << text;
}

TEST(RenderText, EscapesLabelValues) {
  model::Snapshot snapshot;
  model::CgroupStats odd;
  odd.path = "/weird\"name\\with\nnewline";
  odd.tcp.emplace();
  (*odd.tcp)[9] = 1;  // a listener: a cgroup holding no socket would have no TCP series
  snapshot.cgroups = {odd};
  const auto text = RenderText(snapshot, BuildContext{});
  EXPECT_NE(text.find("id=\"/weird\\\"name\\\\with\\nnewline\""), std::string::npos) << text;
}

}  // namespace
}  // namespace podstat::metrics

namespace podstat::metrics {
namespace {

std::map<std::string, double> ByLabel(const prometheus::MetricFamily& family,
                                      const std::string& label) {
  std::map<std::string, double> values;
  for (const auto& metric : family.metric) {
    for (const auto& l : metric.label) {
      if (l.name == label) {
        values[l.value] += family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                          : metric.gauge.value;
      }
    }
  }
  return values;
}

model::Snapshot OneNetworkedContainer() {
  model::Snapshot snapshot;
  model::CgroupStats c;
  c.path = "/docker/abc";
  c.tcp.emplace();
  (*c.tcp)[0] = 5;  // established, 2 of them IPv6
  (*c.tcp)[5] = 3;  // time_wait
  c.tcp_inet6.emplace();
  (*c.tcp_inet6)[0] = 2;
  c.sockets.emplace();
  (*c.sockets)[0][model::kSocketTcp] = 4;
  (*c.sockets)[0][model::kSocketOtherStream] = 1;  // MPTCP: stream too
  (*c.sockets)[0][model::kSocketUdp] = 2;
  (*c.sockets)[1][model::kSocketUdp] = 1;
  (*c.sockets)[1][model::kSocketRaw] = 1;
  c.tcp_events = model::TcpEvents{9, 2, 1, 4};
  model::NetworkStats network;
  network.inuse = {{"tcp", 6}, {"udp", 2}};
  network.tcp_time_wait = 3;
  network.interfaces.push_back({"eth0", 100, 2, 0, 0, 300, 4, 0, 1});
  network.udp[0] = model::UdpQueues{2, 832, 0, 5};
  c.network = network;
  snapshot.cgroups = {c};
  snapshot.node_sockstat = model::NodeSockstat{0, 9, {{"tcp", 21}}};
  return snapshot;
}

TEST(BuildFamilies, SocketsByFamilyAndTypeAndTheTcpCounters) {
  const auto families = BuildFamilies(OneNetworkedContainer(), {});
  const auto& sockets = FamilyNamed(families, "container_sockets");
  EXPECT_EQ(sockets.metric.size(), 8u);  // 2 families x stream, dgram, raw, other
  EXPECT_EQ(ByLabel(sockets, "type"),
            (std::map<std::string, double>{{"stream", 5}, {"dgram", 3}, {"raw", 1}, {"other", 0}}));
  EXPECT_EQ(FamilyNamed(families, "container_udp_sockets").metric.at(0).gauge.value, 3);
  EXPECT_EQ(FamilyNamed(families, "container_tcp_retransmits_total").metric.at(0).counter.value, 9);
  EXPECT_EQ(
      FamilyNamed(families, "container_tcp_connect_failures_total").metric.at(0).counter.value, 2);
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_tcp_resets_total"), "direction"),
            (std::map<std::string, double>{{"sent", 1}, {"received", 4}}));
}

TEST(BuildFamilies, NetworkNamespaceSeriesAndNodeSockstat) {
  const auto families = BuildFamilies(OneNetworkedContainer(), {});
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_sockstat_inuse"), "protocol"),
            (std::map<std::string, double>{{"tcp", 6}, {"udp", 2}}));
  EXPECT_EQ(FamilyNamed(families, "container_sockstat_tcp_tw").metric.at(0).gauge.value, 3);
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_network_receive_bytes_total"), "interface"),
            (std::map<std::string, double>{{"eth0", 100}}));
  EXPECT_EQ(FamilyNamed(families, "container_network_transmit_packets_dropped_total")
                .metric.at(0)
                .counter.value,
            1);
  EXPECT_EQ(FamilyNamed(families, "node_sockstat_tcp_alloc").metric.at(0).gauge.value, 9);
  // Kernel-wide values are node series, never per container.
  EXPECT_EQ(FamilyNamed(families, "node_sockstat_memory_pages").metric.at(0).label.size(), 1u);
}

TEST(BuildFamilies, CadvisorNamesOnlyWithCompatAndWithTheSameNumbers) {
  const auto plain = BuildFamilies(OneNetworkedContainer(), {});
  for (const auto& family : plain) EXPECT_FALSE(family.name.starts_with("container_network_tcp"));
  BuildContext compat;
  compat.compat_cadvisor = true;
  const auto families = BuildFamilies(OneNetworkedContainer(), compat);
  const auto tcp = ByLabel(FamilyNamed(families, "container_network_tcp_usage_total"), "tcp_state");
  const auto tcp6 =
      ByLabel(FamilyNamed(families, "container_network_tcp6_usage_total"), "tcp_state");
  EXPECT_EQ(tcp.size(), 11u);
  EXPECT_EQ(tcp.at("established"), 3);  // 5 minus the 2 IPv6
  EXPECT_EQ(tcp6.at("established"), 2);
  EXPECT_EQ(tcp.at("timewait"), 3);
  EXPECT_EQ(tcp6.at("timewait"), 0);
  const auto udp = ByLabel(FamilyNamed(families, "container_network_udp_usage_total"), "udp_state");
  EXPECT_EQ(udp, (std::map<std::string, double>{
                     {"listen", 2}, {"dropped", 5}, {"rxqueued", 832}, {"txqueued", 0}}));
  // IPv6 has no table sums in this snapshot: only the socket count.
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_network_udp6_usage_total"), "udp_state"),
            (std::map<std::string, double>{{"listen", 1}}));
}

}  // namespace
}  // namespace podstat::metrics

namespace podstat::metrics {
namespace {

// Series hygiene: no series that can only ever be 0, none for a cgroup with nothing to say.

size_t SeriesOf(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
                const std::string& id) {
  size_t count = 0;
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) count += label.name == "id" && label.value == id;
    }
  }
  return count;
}

// Beside a busy container, one that has had sockets and holds none now (the eBPF map keeps its
// zeroed entry) and owns a namespace without any: before these rules it got 12 TCP states,
// 8 socket kinds, 1 UDP and 4 event series of zeros, and cAdvisor's 11 + 11 + 1 + 1.
model::Snapshot QuietAndBusy() {
  model::Snapshot snapshot = OneNetworkedContainer();
  model::CgroupStats quiet;
  quiet.path = "/docker/quiet";
  quiet.tcp.emplace();
  quiet.tcp_inet6.emplace();
  quiet.sockets.emplace();
  quiet.tcp_events.emplace();
  quiet.cpu = model::CgroupCpu{1, 1, 0, std::nullopt};
  model::NetworkStats network;
  network.inuse = {{"tcp", 0}, {"udp", 0}};
  network.tcp_time_wait = 0;
  quiet.network = network;
  snapshot.cgroups.push_back(quiet);
  return snapshot;
}

TEST(SeriesHygiene, CloseAndNewSynRecvAreNotReportedButCadvisorKeepsItsClose) {
  model::Snapshot snapshot = OneNetworkedContainer();
  BuildContext compat;
  compat.compat_cadvisor = true;
  const auto families = BuildFamilies(snapshot, compat);
  const auto states = ByLabel(FamilyNamed(families, "container_tcp_sockets"), "state");
  EXPECT_EQ(states.size(), 10u);
  EXPECT_FALSE(states.contains("close"));
  EXPECT_FALSE(states.contains("new_syn_recv"));
  EXPECT_EQ(states.at("established"), 5);
  EXPECT_EQ(states.at("closing"), 0);  // a reported state, 0 now: still there
  // cAdvisor has close (and no new_syn_recv): its dashboards select on it.
  const auto cadvisor =
      ByLabel(FamilyNamed(families, "container_network_tcp_usage_total"), "tcp_state");
  EXPECT_EQ(cadvisor.size(), 11u);
  EXPECT_EQ(cadvisor.at("close"), 0);
}

TEST(SeriesHygiene, ACgroupWithoutSocketsOrTcpEventsHasNoSocketSeries) {
  BuildContext compat;
  compat.compat_cadvisor = true;
  const auto families = BuildFamilies(QuietAndBusy(), compat);
  for (const char* name :
       {"container_tcp_sockets", "container_sockets", "container_udp_sockets",
        "container_tcp_retransmits_total", "container_tcp_connect_failures_total",
        "container_tcp_resets_total", "container_network_tcp_usage_total",
        "container_network_tcp6_usage_total", "container_network_udp_usage_total",
        "container_network_udp6_usage_total"}) {
    EXPECT_EQ(SeriesOf(families, name, "/docker/quiet"), 0u) << name;
    EXPECT_GT(SeriesOf(families, name, "/docker/abc"), 0u) << name;
  }
  // What it does have is there: its CPU, and its namespace's tcp and udp in use (0).
  EXPECT_EQ(SeriesOf(families, "container_cpu_usage_seconds_total", "/docker/quiet"), 1u);
  EXPECT_EQ(SeriesOf(families, "container_sockstat_inuse", "/docker/quiet"), 2u);
  EXPECT_EQ(SeriesOf(families, "container_sockstat_tcp_tw", "/docker/quiet"), 1u);
}

// Event counters that moved keep the cgroup's TCP series after its last socket closed: the
// counters stay continuous, and with them every state at 0.
TEST(SeriesHygiene, MovedEventCountersKeepTheTcpSeriesOfACgroupWithoutSockets) {
  model::Snapshot snapshot = QuietAndBusy();
  snapshot.cgroups.back().tcp_events->resets_received = 1;
  const auto families = BuildFamilies(snapshot, {});
  EXPECT_EQ(SeriesOf(families, "container_tcp_sockets", "/docker/quiet"), 10u);
  EXPECT_EQ(SeriesOf(families, "container_tcp_retransmits_total", "/docker/quiet"), 1u);
  EXPECT_EQ(SeriesOf(families, "container_tcp_resets_total", "/docker/quiet"), 2u);
  EXPECT_EQ(SeriesOf(families, "container_sockets", "/docker/quiet"), 0u);  // it holds none
}

// One socket of any kind, or one TIME_WAIT in its namespace, and the cgroup has every series of
// the family: 0 for the kinds and states it holds none of.
TEST(SeriesHygiene, OneSocketBringsEveryKindAndOneTimeWaitEveryState) {
  model::Snapshot snapshot = QuietAndBusy();
  model::CgroupStats& quiet = snapshot.cgroups.back();
  (*quiet.sockets)[1][model::kSocketRaw] = 1;
  (*quiet.tcp)[model::kTcpTimeWait - 1] = 2;
  const auto families = BuildFamilies(snapshot, {});
  EXPECT_EQ(SeriesOf(families, "container_sockets", "/docker/quiet"), 8u);
  EXPECT_EQ(SeriesOf(families, "container_udp_sockets", "/docker/quiet"), 1u);
  EXPECT_EQ(SeriesOf(families, "container_tcp_sockets", "/docker/quiet"), 10u);
  EXPECT_EQ(SeriesOf(families, "container_tcp_connect_failures_total", "/docker/quiet"), 1u);
}

// The /proc socket tables (the fallback without eBPF) have no "other" kinds: type="other" could
// only ever be 0 then, and is left out; the other three types stay.
TEST(SeriesHygiene, OtherSocketTypeOnlyWhereOtherKindsAreCounted) {
  model::Snapshot snapshot = QuietAndBusy();
  (*snapshot.cgroups.back().sockets)[0][model::kSocketTcp] = 1;
  EXPECT_EQ(
      ByLabel(FamilyNamed(BuildFamilies(snapshot, {}), "container_sockets"), "type").count("other"),
      1u);
  snapshot.other_socket_kinds_counted = false;
  const auto families = BuildFamilies(snapshot, {});
  EXPECT_EQ(SeriesOf(families, "container_sockets", "/docker/quiet"), 6u);
  for (const auto& metric : FamilyNamed(families, "container_sockets").metric) {
    for (const auto& label : metric.label)
      EXPECT_FALSE(label.name == "type" && label.value == "other");
  }
}

TEST(SeriesHygiene, SockstatProtocolsWithoutSocketsAreLeftOutButTcpAndUdpStay) {
  model::Snapshot snapshot = OneNetworkedContainer();
  model::NetworkStats& network = *snapshot.cgroups[0].network;
  network.inuse = {{"tcp", 0},      {"tcp6", 0}, {"udp", 3},  {"udp6", 0}, {"udplite", 0},
                   {"udplite6", 0}, {"raw", 0},  {"raw6", 2}, {"frag", 0}, {"frag6", 1}};
  network.frag_memory_bytes = {{"frag", 0}, {"frag6", 4096}};
  const auto families = BuildFamilies(snapshot, {});
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_sockstat_inuse"), "protocol"),
            (std::map<std::string, double>{
                {"tcp", 0}, {"tcp6", 0}, {"udp", 3}, {"udp6", 0}, {"raw6", 2}, {"frag6", 1}}));
  EXPECT_EQ(ByLabel(FamilyNamed(families, "container_sockstat_frag_memory_bytes"), "protocol"),
            (std::map<std::string, double>{{"frag6", 4096}}));
  // No reassembly memory anywhere: no family at all.
  network.frag_memory_bytes = {{"frag", 0}, {"frag6", 0}};
  for (const auto& family : BuildFamilies(snapshot, {})) {
    EXPECT_NE(family.name, "container_sockstat_frag_memory_bytes");
  }
}

}  // namespace
}  // namespace podstat::metrics
