// The immutable result of one collection pass. The sampler builds it, publishes it as
// shared_ptr<const Snapshot>, and every reader (/metrics, later remote_write) only reads it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podstat/metrics/catalogue.h"

namespace podstat::model {

// TCP states in kernel order; index = kernel state number - 1 (include/net/tcp_states.h).
inline constexpr std::array<std::string_view, 12> kTcpStateNames = {
    "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
    "close",       "close_wait", "last_ack", "listen",    "closing",   "new_syn_recv"};
inline constexpr int kTcpTimeWait = 6;

using TcpStateCounts = std::array<int64_t, kTcpStateNames.size()>;  // index = state - 1

// Open sockets by family and kind. The kinds are the BPF side's enum ps_sock_kind, in order; each
// maps to a socket type for container_sockets{type}.
inline constexpr std::array<std::string_view, 2> kSocketFamilies = {"inet", "inet6"};
enum SocketKind : size_t {
  kSocketTcp = 0,
  kSocketUdp = 1,
  kSocketUdpLite = 2,
  kSocketRaw = 3,
  kSocketOtherStream = 4,  // MPTCP, SCTP
  kSocketOtherDgram = 5,   // ICMP "ping" sockets
  kSocketOther = 6,
  kSocketKindCount = 8,  // slot 7 unused
};
inline constexpr std::array<std::string_view, kSocketKindCount> kSocketKindTypes = {
    "stream", "dgram", "dgram", "raw", "stream", "dgram", "other", ""};
using SocketCounts = std::array<std::array<int64_t, kSocketKindCount>, 2>;  // [family][kind]

// Whether a TCP socket listed by sock_diag or /proc/net/tcp is one a process holds open, as
// container_sockets counts them: it has an inode, or it is an accepted child still waiting in its
// listener's queue (ESTABLISHED, SYN_RECV or CLOSE_WAIT without an inode). Closed-but-lingering
// orphans (FIN_WAIT*, CLOSING, LAST_ACK, TIME_WAIT without an inode) are not: close() took them
// off.
constexpr bool IsHeldTcpSocket(int state, uint64_t inode) {
  return inode != 0 || state == 1 /* ESTABLISHED */ || state == 3 /* SYN_RECV */ ||
         state == 8 /* CLOSE_WAIT */;
}

// TCP events of a cgroup's sockets, counted since the agent started (BPF only).
struct TcpEvents {
  uint64_t retransmits = 0;       // retransmitted segments (tcp:tcp_retransmit_skb, one per skb)
  uint64_t connect_failures = 0;  // SYN_SENT -> CLOSE: refused, timed out, abandoned
  uint64_t resets_sent = 0;
  uint64_t resets_received = 0;
};

// One interface of a network namespace, from /proc/<pid>/net/dev.
struct InterfaceStats {
  std::string name;
  uint64_t receive_bytes = 0, receive_packets = 0, receive_errors = 0, receive_dropped = 0;
  uint64_t transmit_bytes = 0, transmit_packets = 0, transmit_errors = 0, transmit_dropped = 0;
};

// /proc/net/udp{,6} sums, for cAdvisor's container_network_udp*_usage_total (compat, fallback).
struct UdpQueues {
  uint64_t sockets = 0;
  uint64_t rx_queued = 0;  // bytes waiting to be read
  uint64_t tx_queued = 0;
  uint64_t drops = 0;
};

// What a network namespace reports about itself: reported once, on the cgroup that owns the
// namespace (the cgroup of its lowest pid: the pod sandbox, the container's init; "/" for the
// host), so that sum by (pod) does not count a pod's network once per container.
struct NetworkStats {
  uint64_t netns_inode = 0;
  // sockstat/sockstat6 per-namespace fields: protocol ("tcp", "tcp6", "udp", "udp6", "udplite",
  // "udplite6", "raw", "raw6", "frag", "frag6") -> sockets in use.
  std::vector<std::pair<std::string, uint64_t>> inuse;
  std::optional<uint64_t> sockets_used;   // "sockets: used", per namespace since 5.x
  std::optional<uint64_t> tcp_time_wait;  // "TCP: tw"
  std::vector<std::pair<std::string, uint64_t>> frag_memory_bytes;  // "frag", "frag6"
  std::vector<InterfaceStats> interfaces;
  std::array<std::optional<UdpQueues>, 2> udp;  // [family]; read only without BPF sockets
};

// Who a cgroup is, in the words users use. All empty for cgroups that are not containers
// (systemd services, the root): those are known by their path alone.
struct ContainerLabels {
  std::string namespace_;    // Kubernetes namespace
  std::string pod;           // Kubernetes pod name
  std::string container;     // Kubernetes container name, else the runtime's container name
  std::string container_id;  // 64-hex runtime id
  std::string image;

  bool operator==(const ContainerLabels&) const = default;
};

struct CgroupMemory {
  uint64_t usage_bytes = 0;
  uint64_t working_set_bytes = 0;  // usage - inactive_file, floored at 0 (kubelet, cAdvisor)
  uint64_t rss_bytes = 0;          // anonymous memory: v1 total_rss, v2 anon
  uint64_t cache_bytes = 0;        // page cache: v1 total_cache, v2 file
  uint64_t inactive_file_bytes = 0;
  std::optional<uint64_t> limit_bytes;  // absent when unlimited
  uint64_t oom_kills = 0;               // v1 memory.oom_control oom_kill (4.13+), v2 memory.events
};

struct CgroupCpu {
  uint64_t usage_ns = 0;  // BPF on-CPU time when the BPF source runs, else cgroup accounting
  uint64_t user_ns = 0;   // cgroup accounting (the kernel's tick-based split)
  uint64_t system_ns = 0;
  std::optional<uint64_t> runqueue_wait_ns;  // BPF only: runnable but not running
};

// The kubelet's memory.available (seed 000): capacity - working set, working set = usage -
// inactive_file floored at 0.
struct NodeMemory {
  uint64_t capacity_bytes = 0;  // MemTotal
  uint64_t usage_bytes = 0;     // node_cgroup_memory_usage_bytes
  uint64_t inactive_file_bytes = 0;
  uint64_t working_set_bytes = 0;
  int64_t available_bytes = 0;
  std::string source;  // which files: "cgroup v1 root", "cgroup v2 kubepods", "meminfo"
};

// One process of a container (opt-in, --collector.process): the top N by CPU.
struct ProcessStats {
  int pid = 0;
  std::string comm;               // from /proc/<pid>/stat, raw (may hold spaces, parentheses)
  double cpu_user_seconds = 0;    // utime since the process started; its own, not its children's
  double cpu_system_seconds = 0;  // stime likewise
  uint64_t rss_bytes = 0;         // VmRSS; 0 for kernel threads and zombies
  uint64_t vm_size_bytes = 0;     // VmSize
  uint64_t rss_file_bytes = 0;    // RssFile
};

// A value for a catalogue entry that has no field of its own in CgroupStats: what a source adds
// without touching the model or the writer (cgroup_pressure writes PSI this way). The writer
// emits each entry's samples as one family, after the cgroup's identity labels.
struct Sample {
  const metrics::MetricSpec* spec = nullptr;  // a catalogue entry (static storage)
  // Labels after the identity's: names are static strings, values the source's.
  std::vector<std::pair<std::string_view, std::string>> labels;
  double value = 0;
};

struct CgroupStats {
  uint64_t cgroup_id = 0;
  // Relative to the cgroup v2 root: "/" or "/a/b". For a container, its own cgroup: sockets of
  // sub-cgroups it made inside itself are folded into it.
  std::string path;
  ContainerLabels labels;
  std::optional<TcpStateCounts> tcp;        // present for cgroups with TCP activity or TIME_WAIT
  std::optional<TcpStateCounts> tcp_inet6;  // the IPv6 part of tcp (cAdvisor's tcp6 series)
  std::optional<SocketCounts> sockets;      // open sockets by family and kind
  std::optional<TcpEvents> tcp_events;
  std::optional<NetworkStats> network;  // present on the cgroup owning a network namespace
  std::optional<CgroupCpu> cpu;         // present for containers, pods and the root
  std::optional<CgroupMemory> memory;
  std::vector<ProcessStats> processes;  // --collector.process only
  std::vector<Sample> samples;          // one per (spec, labels): see Sample
};

// Sums what two cgroups (or two sources) said of one label set: counts and sizes add up, a
// memory limit is the sum unless either is unlimited, a network namespace is the first one's,
// processes are listed together. Identity (cgroup_id, path, labels) stays `into`'s.
void MergeInto(CgroupStats& into, CgroupStats&& more);
void AddInto(CgroupCpu& into, const CgroupCpu& more);
void AddInto(CgroupMemory& into, const CgroupMemory& more);

struct ProviderErrors {
  std::string provider;
  uint64_t count = 0;
};

struct ProgramStatus {
  std::string name;
  bool attached = false;
};

// A loaded tracing program's skipped runs (bpf_prog_info.recursion_misses), by its BPF name.
struct ProgramMisses {
  std::string program;
  uint64_t count = 0;
};

struct Drop {
  std::string reason;
  uint64_t count = 0;
};

// What the agent says about itself.
struct SelfStats {
  std::vector<ProgramStatus> programs;
  std::vector<ProgramMisses> recursion_misses;  // kernels that report them (5.12+)
  std::vector<Drop> bpf_drops;
  uint64_t socket_drift = 0;             // sockets corrected by reconciliation, cumulative
  uint64_t reconciliations = 0;          // completed sock_diag reconciliation rounds
  uint64_t early_reconciliations = 0;    // of which started early for skipped runs
  double reconciliation_seconds = 0;     // wall-clock time of all rounds, cumulative
  std::vector<Drop> sock_diag_failures;  // namespaces not dumped, by reason, cumulative
  uint64_t unresolved_cgroups = 0;       // map entries whose cgroup has no directory (now)
  uint64_t network_namespaces = 0;       // seen in this pass
  std::vector<ProviderErrors> metadata_errors;
  uint64_t tcp_map_entries = 0;                       // ps_tcp_states entries at this collection
  uint64_t tcp_map_capacity = 0;                      // its max_entries (0 without BPF)
  std::vector<std::pair<std::string, bool>> sources;  // podstat_source_active{source}
  double collection_duration_seconds = 0;
};

// sockstat fields that are kernel-wide (the same in every namespace): read once, exported once.
struct NodeSockstat {
  std::optional<uint64_t> tcp_orphan;                          // "TCP: orphan"
  std::optional<uint64_t> tcp_alloc;                           // "TCP: alloc"
  std::vector<std::pair<std::string, uint64_t>> memory_pages;  // "tcp", "udp", "udplite" -> mem
};

struct Snapshot {
  std::chrono::system_clock::time_point taken_at{};
  std::vector<CgroupStats> cgroups;  // sorted by path, one entry per path
  std::optional<NodeMemory> node_memory;
  std::optional<NodeSockstat> node_sockstat;
  // Whether open sockets of the other kinds (MPTCP, SCTP, ICMP "ping", ...) are counted: the eBPF
  // socket programs see every socket(), the /proc socket tables have no such kinds. Without them
  // container_sockets{type="other"} could only ever be 0, and is left out.
  bool other_socket_kinds_counted = true;
  SelfStats self;
};

}  // namespace podstat::model
