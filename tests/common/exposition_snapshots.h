// Fixed snapshots for the exposition tests (oracle, golden file, cache): every metric kind, hostile
// label values as the collector may hand them over, values prometheus-cpp and the writer spell
// differently, and relayed families that merge into ours, into nothing, or twice.
#pragma once

#include <chrono>
#include <limits>
#include <vector>

#include "podstat/model/snapshot.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::testing {

inline model::Snapshot EveryKindSnapshot() {
  model::Snapshot snapshot;
  snapshot.taken_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

  model::CgroupStats pod;
  pod.cgroup_id = 11;
  pod.path = "/kubepods/besteffort/pod1234/abc";
  pod.labels = {"shop", "web-0", "web", std::string(64, 'a'), "registry.local:5000/nginx:1.25"};
  pod.tcp.emplace();
  for (size_t i = 0; i < pod.tcp->size(); ++i) (*pod.tcp)[i] = static_cast<int64_t>(i * 3);
  pod.tcp_inet6.emplace();
  (*pod.tcp_inet6)[0] = 2;
  (*pod.tcp_inet6)[9] = 1;
  // PSI, as cgroup_pressure writes it (generic samples): cpu without "full" as on 5.10.
  pod.samples = {
      {&metrics::kPressureCpuWaiting, {}, 1.25},    {&metrics::kPressureMemoryWaiting, {}, 0.5},
      {&metrics::kPressureMemoryStalled, {}, 0.25}, {&metrics::kPressureIoWaiting, {}, 3},
      {&metrics::kPressureIoStalled, {}, 2.5},      {&metrics::kPressureCpuStalled, {}, 0.75}};
  pod.sockets.emplace();
  (*pod.sockets)[0][model::kSocketTcp] = 4;
  (*pod.sockets)[0][model::kSocketUdp] = 2;
  (*pod.sockets)[0][model::kSocketOtherStream] = 1;
  (*pod.sockets)[1][model::kSocketUdp] = 1;
  (*pod.sockets)[1][model::kSocketRaw] = 1;
  (*pod.sockets)[1][model::kSocketOther] = 3;
  pod.tcp_events = model::TcpEvents{9, 2, 1, 4};
  model::NetworkStats network;
  network.netns_inode = 4026531840;
  network.inuse = {{"tcp", 6}, {"tcp6", 2}, {"udp", 2}, {"raw6", 1}};
  network.sockets_used = 17;
  network.tcp_time_wait = 3;
  network.frag_memory_bytes = {{"frag", 0}, {"frag6", 4096}};
  // Byte counters past 2^53 and one that needs 17 digits: prometheus-cpp's "%.16g" rounds them.
  network.interfaces.push_back({"eth0", 12345678901234567, 2, 0, 0, 1ull << 60, 4, 0, 1});
  network.interfaces.push_back(
      {"veth\"odd\\", 1'000'000, 10'000'000'000'000'000, 1, 2, 3, 4, 5, 6});
  network.udp[0] = model::UdpQueues{2, 832, 0, 5};
  network.udp[1] = model::UdpQueues{1, 0, 64, 0};
  pod.network = network;
  pod.cpu = model::CgroupCpu{2'500'000'001, 2'000'000'000, 500'000'001, 123'456'789};
  pod.memory =
      model::CgroupMemory{100 << 20, 60 << 20, 50 << 20, 40 << 20, 40 << 20, 1ull << 30, 3};
  pod.processes = {{42, "nginx: worker \"x\"\n{y}", 1.5, 0.1 + 0.2, 4096, 8192, 1024},
                   {7, "sh", 0, 0, 0, 0, 0}};

  model::CgroupStats odd;  // no container: empty labels; a path with every byte to escape
  odd.cgroup_id = 12;
  odd.path = "/weird\"name\\with\nnewline/x-\\xFF/\xc3\xa9t\xc3\xa9";
  odd.tcp.emplace();
  (*odd.tcp)[5] = 7;
  odd.tcp_events = model::TcpEvents{0, 0, 0, 0};
  odd.cpu = model::CgroupCpu{1, 3, 7, std::nullopt};
  odd.memory = model::CgroupMemory{10, 10, 10, 0, 0, std::nullopt, 0};

  // Had sockets, holds none now (its eBPF map entry stays), owns a namespace without sockets:
  // no TCP, socket or event series (series hygiene), no sockstat protocol but tcp and udp.
  model::CgroupStats quiet;
  quiet.cgroup_id = 13;
  quiet.path = "/system.slice/quiet.service";
  quiet.tcp.emplace();
  quiet.tcp_inet6.emplace();
  quiet.sockets.emplace();
  quiet.tcp_events = model::TcpEvents{};
  model::NetworkStats quiet_network;
  quiet_network.netns_inode = 4026532000;
  quiet_network.inuse = {{"tcp", 0},      {"tcp6", 0}, {"udp", 0},  {"udp6", 0}, {"udplite", 0},
                         {"udplite6", 0}, {"raw", 0},  {"raw6", 0}, {"frag", 0}, {"frag6", 0}};
  quiet_network.sockets_used = 0;
  quiet_network.tcp_time_wait = 0;
  quiet_network.frag_memory_bytes = {{"frag", 0}, {"frag6", 0}};
  quiet.network = quiet_network;
  quiet.cpu = model::CgroupCpu{5'000'000, 4'000'000, 1'000'000, std::nullopt};

  model::CgroupStats root;
  root.path = "/";
  root.cpu = model::CgroupCpu{987'654'321'012'345'678, 1, 2, std::nullopt};
  snapshot.cgroups = {pod, odd, quiet, root};

  snapshot.node_sockstat = model::NodeSockstat{0, 9, {{"tcp", 21}, {"udp", 3}}};
  snapshot.node_memory = model::NodeMemory{16ull << 30, 700, 200, 500, -12, "cgroup v1 root"};

  model::SelfStats& self = snapshot.self;
  self.programs = {{"inet_sock_set_state_tp_btf", true}, {"inet_sock_set_state_raw_tp", false}};
  self.recursion_misses = {{"ps_state_tp_btf", 5357}, {"ps_switch_tp_btf", 0}};
  self.bpf_drops = {{"map_full", 2}, {"no_cgroup", 0}};
  self.socket_drift = 11;
  self.reconciliations = 40;
  self.early_reconciliations = 1;
  self.reconciliation_seconds = 7.25;
  self.sock_diag_failures = {{"netns_open", 1}};
  self.unresolved_cgroups = 2;
  self.network_namespaces = 5;
  self.metadata_errors = {{"docker", 3}, {"kubelet", 0}};
  self.tcp_map_entries = 120;
  self.tcp_map_capacity = 65536;
  self.sources = {{"bpf_tcp", true}, {"proc_net", false}};
  self.collection_duration_seconds = 0.1 + 0.2;  // 0.30000000000000004
  return snapshot;
}

// A receiver's relayed families: one merging into ours (a duplicate of our series, a new one),
// one of a name we do not export (twice), values prometheus-cpp spells differently (NaN) and
// hostile label values.
inline std::vector<remote_write::RelayFamily> HostileRelayed() {
  std::vector<remote_write::RelayFamily> relayed(4);
  relayed[0].name = "container_memory_usage_bytes";
  relayed[0].series = {
      {{{"__name__", "container_memory_usage_bytes"}, {"id", "/"}, {"relay", "true"}}, 12.5, 1},
      {{{"__name__", "container_memory_usage_bytes"},
        {"id", "/weird\"name\\with\nnewline/x-\\xFF/\xc3\xa9t\xc3\xa9"}},
       999,
       1}};  // odd's labels without the empty ones: a duplicate of ours
  relayed[1].name = "container_fs_usage_bytes";
  relayed[1].series = {
      {{{"__name__", "container_fs_usage_bytes"}, {"device", "sda\n\"1\"\\"}}, 1e21, 1},
      {{{"__name__", "container_fs_usage_bytes"}, {"device", "sdb"}},
       std::numeric_limits<double>::infinity(),
       1}};
  relayed[2].name = "relayed_ratio";
  relayed[2].series = {
      {{{"__name__", "relayed_ratio"}, {"k", "v"}}, 0.1, 1},
      {{{"__name__", "relayed_ratio"}, {"k", "w"}}, -std::numeric_limits<double>::infinity(), 1},
      {{{"__name__", "relayed_ratio"}, {"k", "x"}}, std::numeric_limits<double>::quiet_NaN(), 1}};
  relayed[3].name = "container_fs_usage_bytes";  // again: joins the family above
  relayed[3].series = {{{{"__name__", "container_fs_usage_bytes"}, {"device", "sdc"}}, 7, 1},
                       {{{"__name__", "container_fs_usage_bytes"}, {"device", "sda\n\"1\"\\"}},
                        8,
                        1}};  // duplicate of the first relayed one
  return relayed;
}

}  // namespace podstat::testing
