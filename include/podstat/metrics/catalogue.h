// Every metric podstat exports, in one table: the builders take name, type and help from here, the
// README's table is checked against it, and tests iterate it. Add a metric here first.
#pragma once

#include <array>
#include <string_view>

namespace podstat::metrics {

enum class Kind { kGauge, kCounter };

struct MetricSpec {
  std::string_view name;
  Kind kind;
  std::string_view help;
};

inline constexpr MetricSpec kContainerTcpSockets{
    "container_tcp_sockets", Kind::kGauge,
    "TCP sockets owned by the cgroup (id = cgroup v2 path; container, pod, namespace, image and "
    "container_id name it when it is a container), by state, IPv4 and IPv6 together. "
    "From eBPF on sock:inet_sock_set_state, seeded and reconciled with sock_diag. time_wait is per "
    "network namespace (timewait sockets carry no cgroup): it is reported on the cgroup of the "
    "namespace's lowest-numbered pid (usually its first process: the pod sandbox or the "
    "container's init), and the host namespace's on id=\"/\". 10 of the kernel's 12 states: "
    "close is never listed (a closed socket is unhashed) and a request socket (new_syn_recv) is "
    "no full socket (sock_diag and /proc/net/tcp list it as syn_recv without a cgroup). A cgroup "
    "gets every state while it holds a TCP socket or has TCP events, and none otherwise."};
inline constexpr MetricSpec kContainerSockets{
    "container_sockets", Kind::kGauge,
    "Open sockets of the cgroup's processes by family (inet, inet6) and type (stream, dgram, raw, "
    "other): +1 at socket() or when a connection is queued for accept(), -1 at the last close(). "
    "From eBPF cgroup/sock_create and sock_release on the cgroup v2 root; TCP and UDP are seeded "
    "and reconciled with sock_diag (a socket never bound or connected is invisible to sock_diag), "
    "raw and other kinds counted from the agent's start. Where tracing programs cannot use "
    "socket-local storage (5.10, or --bpf.tracepoint-type=raw_tp) a socket's -1 goes to the "
    "cgroup of the task that closes it, not the one that opened it (they differ only for a socket "
    "passed to another cgroup's process; reconciliation puts TCP and UDP right). Without eBPF: per "
    "network namespace, on the cgroup owning it, from /proc/<pid>/net/{tcp,udp,udplite,raw}{,6}. "
    "Unix sockets are not counted: no cgroup hook sees them. A cgroup holding no socket has no "
    "series; one holding any has all 8."};
inline constexpr MetricSpec kContainerUdpSockets{
    "container_udp_sockets", Kind::kGauge,
    "Open UDP sockets (IPv4 and IPv6) of the cgroup's processes; the udp part of "
    "container_sockets{type=\"dgram\"}; absent for a cgroup holding no socket."};
inline constexpr MetricSpec kTcpRetransmits{
    "container_tcp_retransmits_total", Kind::kCounter,
    "TCP segments retransmitted by the cgroup's sockets (eBPF on tcp:tcp_retransmit_skb, each "
    "skb's segment count, as the kernel's RetransSegs), since the agent started. Like every TCP "
    "event counter, present for the cgroups that container_tcp_sockets reports: it appears at 0 "
    "with a cgroup's first socket and stays once it has moved."};
inline constexpr MetricSpec kTcpConnectFailures{
    "container_tcp_connect_failures_total", Kind::kCounter,
    "Outgoing TCP connections of the cgroup that failed (SYN_SENT to CLOSE: refused, timed out or "
    "abandoned), from eBPF, since the agent started."};
inline constexpr MetricSpec kTcpResets{
    "container_tcp_resets_total", Kind::kCounter,
    "TCP resets sent and received by the cgroup's sockets (direction=sent|received), from eBPF on "
    "tcp:tcp_send_reset and tcp:tcp_receive_reset. Resets answering a closed port have no socket "
    "and are not counted."};
inline constexpr MetricSpec kSockstatInuse{
    "container_sockstat_inuse", Kind::kGauge,
    "Sockets in use in the cgroup's network namespace by protocol (tcp, udp, udplite, raw, frag "
    "and their 6 variants), from /proc/<pid>/net/sockstat{,6}; tcp, tcp6, udp and udp6 always, "
    "the others only while not 0. Reported once per namespace, on the "
    "cgroup of its lowest pid (the pod sandbox or the container's init; \"/\" for the host), so "
    "sum by (pod) does not double count. orphan, alloc and mem are kernel-wide: see "
    "node_sockstat_*."};
inline constexpr MetricSpec kSockstatTcpTw{
    "container_sockstat_tcp_tw", Kind::kGauge,
    "TCP sockets in TIME_WAIT in the cgroup's network namespace (sockstat tw; per namespace since "
    "Linux 5.19, kernel-wide before). Reported on the namespace's owner like "
    "container_sockstat_inuse."};
inline constexpr MetricSpec kSockstatSocketsUsed{
    "container_sockstat_sockets_used", Kind::kGauge,
    "Sockets of every family in use in the cgroup's network namespace (sockstat \"sockets: "
    "used\"), on the namespace's owner."};
inline constexpr MetricSpec kSockstatFragMemory{
    "container_sockstat_frag_memory_bytes", Kind::kGauge,
    "Memory held by IP fragment reassembly queues in the cgroup's network namespace (sockstat "
    "FRAG memory), by protocol (frag, frag6), on the namespace's owner; only while not 0."};
inline constexpr MetricSpec kNodeSockstatTcpOrphan{
    "node_sockstat_tcp_orphan", Kind::kGauge,
    "TCP sockets no process holds any more (sockstat orphan): kernel-wide."};
inline constexpr MetricSpec kNodeSockstatTcpAlloc{
    "node_sockstat_tcp_alloc", Kind::kGauge,
    "TCP sockets allocated (sockstat alloc): kernel-wide."};
inline constexpr MetricSpec kNodeSockstatMemory{
    "node_sockstat_memory_pages", Kind::kGauge,
    "Pages of socket buffer memory by protocol (sockstat mem for tcp, udp, udplite): kernel-wide."};
inline constexpr MetricSpec kNetworkReceiveBytes{
    "container_network_receive_bytes_total", Kind::kCounter,
    "Bytes received by an interface of the cgroup's network namespace (/proc/<pid>/net/dev), on "
    "the namespace's owner (the pod sandbox in Kubernetes, as cAdvisor does); lo is left out "
    "unless --collector.network.loopback."};
inline constexpr MetricSpec kNetworkReceivePackets{
    "container_network_receive_packets_total", Kind::kCounter,
    "Packets received by an interface of the cgroup's network namespace (see "
    "container_network_receive_bytes_total)."};
inline constexpr MetricSpec kNetworkReceiveErrors{
    "container_network_receive_errors_total", Kind::kCounter,
    "Receive errors of an interface of the cgroup's network namespace."};
inline constexpr MetricSpec kNetworkReceiveDropped{
    "container_network_receive_packets_dropped_total", Kind::kCounter,
    "Received packets dropped by an interface of the cgroup's network namespace (cAdvisor's "
    "name)."};
inline constexpr MetricSpec kNetworkTransmitBytes{
    "container_network_transmit_bytes_total", Kind::kCounter,
    "Bytes sent by an interface of the cgroup's network namespace."};
inline constexpr MetricSpec kNetworkTransmitPackets{
    "container_network_transmit_packets_total", Kind::kCounter,
    "Packets sent by an interface of the cgroup's network namespace."};
inline constexpr MetricSpec kNetworkTransmitErrors{
    "container_network_transmit_errors_total", Kind::kCounter,
    "Transmit errors of an interface of the cgroup's network namespace."};
inline constexpr MetricSpec kNetworkTransmitDropped{
    "container_network_transmit_packets_dropped_total", Kind::kCounter,
    "Packets an interface of the cgroup's network namespace dropped on transmit (cAdvisor's "
    "name)."};
// --compat=cadvisor: cAdvisor's names and labels for numbers podstat already has. Gauges despite
// "_total", as cAdvisor declares them.
inline constexpr MetricSpec kCadvisorTcp{
    "container_network_tcp_usage_total", Kind::kGauge,
    "cAdvisor-compatible (--compat=cadvisor): IPv4 TCP sockets by tcp_state; the numbers of "
    "container_tcp_sockets, for the same cgroups. TIME_WAIT is not split by family by the kernel "
    "and is all here. close is kept because cAdvisor has it; it is always 0, there too."};
inline constexpr MetricSpec kCadvisorTcp6{
    "container_network_tcp6_usage_total", Kind::kGauge,
    "cAdvisor-compatible (--compat=cadvisor): IPv6 TCP sockets by tcp_state."};
inline constexpr MetricSpec kCadvisorUdp{
    "container_network_udp_usage_total", Kind::kGauge,
    "cAdvisor-compatible (--compat=cadvisor): IPv4 UDP sockets (udp_state=listen) and, when "
    "socket tables are read (without eBPF), the dropped, rxqueued and txqueued sums; for the "
    "cgroups that container_sockets reports."};
inline constexpr MetricSpec kCadvisorUdp6{"container_network_udp6_usage_total", Kind::kGauge,
                                          "cAdvisor-compatible (--compat=cadvisor): IPv6 UDP "
                                          "sockets, as container_network_udp_usage_total."};
inline constexpr MetricSpec kCpuUsage{
    "container_cpu_usage_seconds_total", Kind::kCounter,
    "CPU time consumed by the cgroup. From eBPF (on-CPU time per sched_switch) when the CPU "
    "program runs, else from cgroup accounting (cpu.stat usage_usec, cpuacct.usage)."};
inline constexpr MetricSpec kCpuUser{
    "container_cpu_user_seconds_total", Kind::kCounter,
    "CPU time in user mode, from cgroup accounting (cpu.stat user_usec, cpuacct.usage_user)."};
inline constexpr MetricSpec kCpuSystem{
    "container_cpu_system_seconds_total", Kind::kCounter,
    "CPU time in kernel mode, from cgroup accounting (cpu.stat system_usec, cpuacct.usage_sys)."};
inline constexpr MetricSpec kCpuRunqueueWait{
    "container_cpu_runqueue_wait_seconds_total", Kind::kCounter,
    "Time the cgroup's tasks were runnable but waiting for a CPU (wakeup or preemption to "
    "switch-in), from eBPF."};
inline constexpr MetricSpec kMemoryUsage{
    "container_memory_usage_bytes", Kind::kGauge,
    "Memory charged to the cgroup, page cache included (memory.current, memory.usage_in_bytes)."};
inline constexpr MetricSpec kMemoryWorkingSet{
    "container_memory_working_set_bytes", Kind::kGauge,
    "Usage minus inactive page cache, floored at 0: what the kubelet evicts on."};
inline constexpr MetricSpec kMemoryRss{
    "container_memory_rss", Kind::kGauge,
    "Anonymous memory in bytes (v2 anon, v1 total_rss); cAdvisor's name."};
inline constexpr MetricSpec kMemoryCache{
    "container_memory_cache", Kind::kGauge,
    "Page cache in bytes (v2 file, v1 total_cache); cAdvisor's name."};
inline constexpr MetricSpec kMemoryInactiveFile{
    "container_memory_inactive_file_bytes", Kind::kGauge,
    "Inactive page cache (inactive_file), which the working set excludes."};
inline constexpr MetricSpec kMemoryLimit{"container_spec_memory_limit_bytes", Kind::kGauge,
                                         "Memory limit of the cgroup; absent when unlimited."};
inline constexpr MetricSpec kOomKills{
    "container_oom_kills_total", Kind::kCounter,
    "Processes killed by the OOM killer in this cgroup (memory.events oom_kill, "
    "memory.oom_control oom_kill)."};
// Pressure stall information (PSI) of the cgroup v2 directory, cAdvisor's names: "waiting" is the
// file's "some" total (at least one task stalled), "stalled" its "full" total (every non-idle task
// stalled at once).
inline constexpr MetricSpec kPressureCpuWaiting{
    "container_pressure_cpu_waiting_seconds_total", Kind::kCounter,
    "Time at least one of the cgroup's runnable tasks waited for a CPU (cpu.pressure \"some\" "
    "total). From the cgroup v2 directory, on hybrid hosts too; absent where the kernel has PSI "
    "off (psi=0, or CONFIG_PSI_DEFAULT_DISABLED without psi=1)."};
inline constexpr MetricSpec kPressureCpuStalled{
    "container_pressure_cpu_stalled_seconds_total", Kind::kCounter,
    "Time every non-idle task of the cgroup waited for a CPU at once (cpu.pressure \"full\" "
    "total; Linux 5.13+)."};
inline constexpr MetricSpec kPressureMemoryWaiting{
    "container_pressure_memory_waiting_seconds_total", Kind::kCounter,
    "Time at least one of the cgroup's tasks stalled on memory: reclaim, refaults, swap-in "
    "(memory.pressure \"some\" total)."};
inline constexpr MetricSpec kPressureMemoryStalled{
    "container_pressure_memory_stalled_seconds_total", Kind::kCounter,
    "Time every non-idle task of the cgroup stalled on memory at once (memory.pressure \"full\" "
    "total)."};
inline constexpr MetricSpec kPressureIoWaiting{
    "container_pressure_io_waiting_seconds_total", Kind::kCounter,
    "Time at least one of the cgroup's tasks waited for block I/O (io.pressure \"some\" total)."};
inline constexpr MetricSpec kPressureIoStalled{
    "container_pressure_io_stalled_seconds_total", Kind::kCounter,
    "Time every non-idle task of the cgroup waited for block I/O at once (io.pressure \"full\" "
    "total)."};
inline constexpr MetricSpec kNodeCgroupMemoryUsage{
    "node_cgroup_memory_usage_bytes", Kind::kGauge,
    "Memory usage the kubelet starts its eviction signal from: the v1 root memory cgroup's "
    "usage_in_bytes, on v2 the kubepods cgroup's memory.current (source label says which)."};
inline constexpr MetricSpec kNodeWorkingSet{
    "node_memory_working_set_bytes", Kind::kGauge,
    "node_cgroup_memory_usage_bytes minus inactive file pages, floored at 0 (kubelet)."};
inline constexpr MetricSpec kNodeAvailable{
    "node_memory_available_bytes", Kind::kGauge,
    "The kubelet's memory.available eviction signal: MemTotal minus the working set. The default "
    "hard eviction threshold is memory.available<100Mi."};
inline constexpr MetricSpec kProcessCpu{
    "container_process_cpu_seconds_total", Kind::kCounter,
    "CPU time of one of the container's top processes (--collector.process), by mode (user, "
    "system), from /proc/<pid>/stat; the process's own time, not its reaped children's."};
inline constexpr MetricSpec kProcessRss{
    "container_process_resident_memory_bytes", Kind::kGauge,
    "Resident memory (VmRSS) of one of the container's top processes (--collector.process)."};
inline constexpr MetricSpec kProcessVirtual{
    "container_process_virtual_memory_bytes", Kind::kGauge,
    "Virtual memory size (VmSize) of one of the container's top processes."};
inline constexpr MetricSpec kProcessRssFile{
    "container_process_resident_file_memory_bytes", Kind::kGauge,
    "File-backed resident memory (RssFile) of one of the container's top processes."};
inline constexpr MetricSpec kSourceActive{
    "podstat_source_active", Kind::kGauge,
    "1 for each data source in use (bpf_tcp, bpf_cpu, cgroup_cpu, cgroup_memory, ...), 0 for "
    "those that are not."};
inline constexpr MetricSpec kBuildInfo{
    "podstat_build_info", Kind::kGauge,
    "Always 1; labels say which podstat build and kernel are running."};
inline constexpr MetricSpec kProgramAttached{
    "podstat_bpf_program_attached", Kind::kGauge,
    "1 if the eBPF program is loaded and attached, 0 if it was not (see the log for why)."};
inline constexpr MetricSpec kProgramRecursionMisses{
    "podstat_bpf_program_recursion_misses_total", Kind::kCounter,
    "Runs of a tracing eBPF program (named as bpftool prog show lists it) that the kernel skipped "
    "because the program was already running on that CPU: it was preempted there (7.x lazy "
    "preemption, PREEMPT_RT) or interrupted. Each skip is an event not counted; socket counts are "
    "then reconciled from sock_diag at once. Kernels before 5.12 do not report it (no series)."};
inline constexpr MetricSpec kEarlyReconciliations{
    "podstat_socket_early_reconciliations_total", Kind::kCounter,
    "sock_diag reconciliation rounds started ahead of --bpf.reconcile-interval because the TCP "
    "state program's runs were skipped (podstat_bpf_program_recursion_misses_total rose)."};
inline constexpr MetricSpec kBpfDrops{
    "podstat_bpf_drops_total", Kind::kCounter,
    "Events the eBPF programs could not count, by reason: map_full, map_busy, no_cgroup, "
    "bad_state, no_mark (socket programs); task_map_full, cpu_cgroup_map_full, "
    "cpu_cgroup_map_busy (CPU program)."};
inline constexpr MetricSpec kSocketDrift{
    "podstat_socket_drift_total", Kind::kCounter,
    "Socket counts corrected by periodic sock_diag reconciliation (each corrected socket counts "
    "once); non-zero means events were lost."};
inline constexpr MetricSpec kSockDiagFailures{
    "podstat_sock_diag_failures_total", Kind::kCounter,
    "Network namespaces a sock_diag round could not dump, by reason: netns_list (/proc could not "
    "be listed), netns_open (/proc/<pid>/ns/net could not be opened, e.g. no file descriptor "
    "left), netlink_open (setns or the netlink socket failed), dump. The cgroups such a namespace "
    "may hold keep their counts and the round is retried within seconds."};
inline constexpr MetricSpec kReconciliations{
    "podstat_socket_reconciliations_total", Kind::kCounter,
    "sock_diag seeding and reconciliation rounds completed."};
inline constexpr MetricSpec kReconciliationSeconds{
    "podstat_socket_reconciliation_seconds_total", Kind::kCounter,
    "Wall-clock time spent in sock_diag seeding and reconciliation rounds. A round dumps every "
    "network namespace, and the kernel walks its whole TCP hash for each (262,144 buckets on a "
    "24 GB host), so a round costs about 3 ms per namespace: rate() of this is the share of a "
    "core the rounds take; --bpf.reconcile-interval sets how often they run."};
inline constexpr MetricSpec kUnresolvedCgroups{
    "podstat_unresolved_cgroups", Kind::kGauge,
    "cgroup ids with live counts whose cgroup directory no longer exists (not exported)."};
inline constexpr MetricSpec kNetworkNamespaces{
    "podstat_network_namespaces", Kind::kGauge,
    "Network namespaces with at least one process, seen in the last collection."};
inline constexpr MetricSpec kMetadataErrors{
    "podstat_metadata_errors_total", Kind::kCounter,
    "Failed fetches of container names, by provider (docker, cri, kubelet). Names are kept from the "
    "last good fetch and the provider is retried with backoff."};
inline constexpr MetricSpec kMapEntries{
    "podstat_bpf_map_entries", Kind::kGauge,
    "Entries in the eBPF map (one per cgroup that has had TCP sockets); compare with "
    "podstat_bpf_map_capacity: a full map drops events."};
inline constexpr MetricSpec kMapCapacity{"podstat_bpf_map_capacity", Kind::kGauge,
                                         "max_entries of the eBPF map (--bpf.max-cgroups)."};
inline constexpr MetricSpec kCollectionDuration{"podstat_collection_duration_seconds", Kind::kGauge,
                                                "Wall-clock time the last collection pass took."};
inline constexpr MetricSpec kSnapshotAge{"podstat_snapshot_age_seconds", Kind::kGauge,
                                         "Age of the collected data served by this scrape."};

// The remote_write receiver (--receiver.enable), the sender (--remote-write.url) and the HTTP
// listeners say how they do: written by app/self_metrics.cc from their stats, at every scrape.
inline constexpr MetricSpec kReceiverRequests{
    "podstat_receiver_requests_total", Kind::kCounter,
    "Remote write requests received, by HTTP status code answered."};
inline constexpr MetricSpec kReceiverRejectedRequests{
    "podstat_receiver_rejected_requests_total", Kind::kCounter,
    "Remote write requests refused (4xx), by reason: the first rule the request broke."};
inline constexpr MetricSpec kReceiverSamples{
    "podstat_receiver_samples_total", Kind::kCounter,
    "Samples received, by result: accepted (newest so far), filtered (metric not allowed), "
    "out_of_order (not newer than the stored sample), rejected (refused request, or new series "
    "over a store limit)."};
inline constexpr MetricSpec kReceiverSeries{"podstat_receiver_series", Kind::kGauge,
                                            "Series held by the relay store."};
inline constexpr MetricSpec kReceiverStoreBytes{
    "podstat_receiver_store_bytes", Kind::kGauge,
    "Bytes the relay store's series take, counted against --receiver.max-bytes (label bytes plus "
    "a fixed cost per series)."};
inline constexpr MetricSpec kReceiverSeriesLimitRejections{
    "podstat_receiver_series_limit_rejections_total", Kind::kCounter,
    "New series refused because the relay store held --receiver.max-series series."};
inline constexpr MetricSpec kRemoteWriteSamples{
    "podstat_remote_write_samples_total", Kind::kCounter, "Samples delivered (2xx), per URL."};
inline constexpr MetricSpec kRemoteWriteFailedSamples{
    "podstat_remote_write_failed_samples_total", Kind::kCounter,
    "Samples dropped after a non-retryable answer (4xx other than 429), per URL."};
inline constexpr MetricSpec kRemoteWriteDroppedSamples{
    "podstat_remote_write_dropped_samples_total", Kind::kCounter,
    "Samples dropped unsent: queue full (oldest first) or shutdown, per URL."};
inline constexpr MetricSpec kRemoteWriteRetries{
    "podstat_remote_write_retries_total", Kind::kCounter,
    "Requests retried after a 5xx, a 429 or a network error, per URL."};
inline constexpr MetricSpec kRemoteWriteQueueLength{
    "podstat_remote_write_queue_length", Kind::kGauge, "Samples waiting to be sent, per URL."};
inline constexpr MetricSpec kRemoteWriteLastSuccess{
    "podstat_remote_write_last_success_timestamp_seconds", Kind::kGauge,
    "Unix time of the last delivered request, per URL (0 = never)."};
inline constexpr MetricSpec kHttpConnections{"podstat_http_connections", Kind::kGauge,
                                             "Client connections open now, per listener."};
inline constexpr MetricSpec kHttpConnectionsAccepted{
    "podstat_http_connections_accepted_total", Kind::kCounter,
    "Client connections accepted by the kernel, refused ones included, per listener."};
inline constexpr MetricSpec kHttpRefused{
    "podstat_http_refused_total", Kind::kCounter,
    "Connections closed unserved (max_connections, max_connections_per_client) and requests "
    "answered 503 (body_budget: request bodies in flight), per listener."};
inline constexpr MetricSpec kHttpTimeouts{
    "podstat_http_timeouts_total", Kind::kCounter,
    "Connections closed because a phase missed its deadline (header: TLS handshake and request "
    "header; body; write), per listener."};
inline constexpr MetricSpec kHttpTlsHandshakeFailures{
    "podstat_http_tls_handshake_failures_total", Kind::kCounter,
    "TLS handshakes that failed (bad or missing client certificate, protocol), per listener."};
inline constexpr MetricSpec kHttpAuthFailures{
    "podstat_http_auth_failures_total", Kind::kCounter,
    "Requests answered 401: basic auth missing or wrong, per listener."};
inline constexpr MetricSpec kHttpResponses{"podstat_http_responses_total", Kind::kCounter,
                                           "Responses sent, per listener and status code."};
inline constexpr MetricSpec kHttpWebConfigReloadFailures{
    "podstat_http_web_config_reload_failures_total", Kind::kCounter,
    "Changed web config or certificate files that could not be applied (the last good config "
    "stays), per listener."};
inline constexpr MetricSpec kHttpWebConfigLastReloadOk{
    "podstat_http_web_config_last_reload_successful", Kind::kGauge,
    "1 if the web config in use is the file's current content, 0 if its last change was refused, "
    "per listener."};

inline constexpr std::array kCatalogue = {kContainerSockets,
                                          kContainerUdpSockets,
                                          kTcpRetransmits,
                                          kTcpConnectFailures,
                                          kTcpResets,
                                          kSockstatInuse,
                                          kSockstatTcpTw,
                                          kSockstatSocketsUsed,
                                          kSockstatFragMemory,
                                          kNodeSockstatTcpOrphan,
                                          kNodeSockstatTcpAlloc,
                                          kNodeSockstatMemory,
                                          kNetworkReceiveBytes,
                                          kNetworkReceivePackets,
                                          kNetworkReceiveErrors,
                                          kNetworkReceiveDropped,
                                          kNetworkTransmitBytes,
                                          kNetworkTransmitPackets,
                                          kNetworkTransmitErrors,
                                          kNetworkTransmitDropped,
                                          kCadvisorTcp,
                                          kCadvisorTcp6,
                                          kCadvisorUdp,
                                          kCadvisorUdp6,
                                          kCpuUsage,
                                          kCpuUser,
                                          kCpuSystem,
                                          kCpuRunqueueWait,
                                          kMemoryUsage,
                                          kMemoryWorkingSet,
                                          kMemoryRss,
                                          kMemoryCache,
                                          kMemoryInactiveFile,
                                          kMemoryLimit,
                                          kOomKills,
                                          kPressureCpuWaiting,
                                          kPressureCpuStalled,
                                          kPressureMemoryWaiting,
                                          kPressureMemoryStalled,
                                          kPressureIoWaiting,
                                          kPressureIoStalled,
                                          kNodeCgroupMemoryUsage,
                                          kNodeWorkingSet,
                                          kNodeAvailable,
                                          kSourceActive,
                                          kContainerTcpSockets,
                                          kBuildInfo,
                                          kProgramAttached,
                                          kProgramRecursionMisses,
                                          kEarlyReconciliations,
                                          kBpfDrops,
                                          kSocketDrift,
                                          kSockDiagFailures,
                                          kReconciliations,
                                          kReconciliationSeconds,
                                          kUnresolvedCgroups,
                                          kNetworkNamespaces,
                                          kCollectionDuration,
                                          kSnapshotAge,
                                          kReceiverRequests,
                                          kReceiverRejectedRequests,
                                          kReceiverSamples,
                                          kReceiverSeries,
                                          kReceiverStoreBytes,
                                          kReceiverSeriesLimitRejections,
                                          kRemoteWriteSamples,
                                          kRemoteWriteFailedSamples,
                                          kRemoteWriteDroppedSamples,
                                          kRemoteWriteRetries,
                                          kRemoteWriteQueueLength,
                                          kRemoteWriteLastSuccess,
                                          kHttpConnections,
                                          kHttpConnectionsAccepted,
                                          kHttpRefused,
                                          kHttpTimeouts,
                                          kHttpTlsHandshakeFailures,
                                          kHttpAuthFailures,
                                          kHttpResponses,
                                          kHttpWebConfigReloadFailures,
                                          kHttpWebConfigLastReloadOk};

}  // namespace podstat::metrics
