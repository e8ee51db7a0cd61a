// Every data source podstat has, in one table: its name (podstat_source_active{source}), what it
// reads, what it stands in for, its flags and the catalogue entries it writes. The status page,
// --check, --metrics (the README's metric table) and the sources' info() read it; a unit test
// checks that every catalogue entry is written by a source or by the agent itself.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "podstat/metrics/catalogue.h"
#include "podstat/sources/source.h"

namespace podstat::sources {

namespace registry_detail {
using metrics::MetricSpec;
inline constexpr const MetricSpec* kBpfTcp[] = {&metrics::kContainerTcpSockets,
                                                &metrics::kTcpRetransmits,
                                                &metrics::kTcpConnectFailures,
                                                &metrics::kTcpResets,
                                                &metrics::kCadvisorTcp,
                                                &metrics::kCadvisorTcp6,
                                                &metrics::kProgramAttached,
                                                &metrics::kBpfDrops,
                                                &metrics::kProgramRecursionMisses,
                                                &metrics::kSocketDrift,
                                                &metrics::kReconciliations,
                                                &metrics::kEarlyReconciliations,
                                                &metrics::kSockDiagFailures,
                                                &metrics::kMapEntries,
                                                &metrics::kMapCapacity,
                                                &metrics::kReconciliationSeconds};
inline constexpr const MetricSpec* kBpfSockets[] = {
    &metrics::kContainerSockets, &metrics::kContainerUdpSockets, &metrics::kCadvisorUdp,
    &metrics::kCadvisorUdp6};
inline constexpr const MetricSpec* kBpfCpu[] = {&metrics::kCpuUsage, &metrics::kCpuRunqueueWait,
                                                &metrics::kProgramAttached, &metrics::kBpfDrops,
                                                &metrics::kProgramRecursionMisses};
inline constexpr const MetricSpec* kProcTcpTables[] = {
    &metrics::kContainerTcpSockets, &metrics::kCadvisorTcp, &metrics::kCadvisorTcp6};
inline constexpr const MetricSpec* kProcSocketTables[] = {
    &metrics::kContainerSockets, &metrics::kContainerUdpSockets, &metrics::kCadvisorUdp,
    &metrics::kCadvisorUdp6};
inline constexpr const MetricSpec* kProcSockstat[] = {&metrics::kSockstatInuse,
                                                      &metrics::kSockstatTcpTw,
                                                      &metrics::kSockstatSocketsUsed,
                                                      &metrics::kSockstatFragMemory,
                                                      &metrics::kNodeSockstatTcpOrphan,
                                                      &metrics::kNodeSockstatTcpAlloc,
                                                      &metrics::kNodeSockstatMemory,
                                                      &metrics::kContainerTcpSockets,
                                                      &metrics::kCadvisorTcp};
inline constexpr const MetricSpec* kProcNetDev[] = {
    &metrics::kNetworkReceiveBytes,   &metrics::kNetworkReceivePackets,
    &metrics::kNetworkReceiveErrors,  &metrics::kNetworkReceiveDropped,
    &metrics::kNetworkTransmitBytes,  &metrics::kNetworkTransmitPackets,
    &metrics::kNetworkTransmitErrors, &metrics::kNetworkTransmitDropped};
inline constexpr const MetricSpec* kCgroupCpu[] = {&metrics::kCpuUsage, &metrics::kCpuUser,
                                                   &metrics::kCpuSystem};
inline constexpr const MetricSpec* kCgroupMemory[] = {
    &metrics::kMemoryUsage, &metrics::kMemoryWorkingSet,   &metrics::kMemoryRss,
    &metrics::kMemoryCache, &metrics::kMemoryInactiveFile, &metrics::kMemoryLimit,
    &metrics::kOomKills};
inline constexpr const MetricSpec* kCgroupPressure[] = {
    &metrics::kPressureCpuWaiting,    &metrics::kPressureCpuStalled,
    &metrics::kPressureMemoryWaiting, &metrics::kPressureMemoryStalled,
    &metrics::kPressureIoWaiting,     &metrics::kPressureIoStalled};
inline constexpr const MetricSpec* kNodeMemory[] = {
    &metrics::kNodeCgroupMemoryUsage, &metrics::kNodeWorkingSet, &metrics::kNodeAvailable};
inline constexpr const MetricSpec* kProcProcess[] = {&metrics::kProcessCpu, &metrics::kProcessRss,
                                                     &metrics::kProcessVirtual,
                                                     &metrics::kProcessRssFile};
// What podstat says of itself, whatever the sources.
inline constexpr const MetricSpec* kAgent[] = {
    &metrics::kSourceActive, &metrics::kBuildInfo, &metrics::kUnresolvedCgroups,
    &metrics::kNetworkNamespaces, &metrics::kMetadataErrors, &metrics::kCollectionDuration,
    &metrics::kSnapshotAge,
    // The relay, the sender and the listeners (app/self_metrics.cc).
    &metrics::kReceiverRequests, &metrics::kReceiverRejectedRequests, &metrics::kReceiverSamples,
    &metrics::kReceiverSeries, &metrics::kReceiverStoreBytes,
    &metrics::kReceiverSeriesLimitRejections, &metrics::kRemoteWriteSamples,
    &metrics::kRemoteWriteFailedSamples, &metrics::kRemoteWriteDroppedSamples,
    &metrics::kRemoteWriteRetries, &metrics::kRemoteWriteQueueLength,
    &metrics::kRemoteWriteLastSuccess, &metrics::kHttpConnections,
    &metrics::kHttpConnectionsAccepted, &metrics::kHttpRefused, &metrics::kHttpTimeouts,
    &metrics::kHttpTlsHandshakeFailures, &metrics::kHttpAuthFailures, &metrics::kHttpResponses,
    &metrics::kHttpWebConfigReloadFailures, &metrics::kHttpWebConfigLastReloadOk};
}  // namespace registry_detail

// In the order a pass runs them: the BPF map reads first (their cgroup ids are then resolved by
// the walk that follows), the per-namespace files, then the per-cgroup files.
inline constexpr SourceInfo kBpfTcpInfo{
    "bpf_tcp", "TCP states, retransmits, resets, connect failures (eBPF tracepoints)", "",
    "--[no-]bpf, --bpf.tracepoint-type, --bpf.max-cgroups, --bpf.reconcile-interval",
    registry_detail::kBpfTcp};
inline constexpr SourceInfo kBpfSocketsInfo{
    "bpf_sockets", "open sockets by family and type (eBPF cgroup/sock_create, sock_release)", "",
    "--[no-]bpf", registry_detail::kBpfSockets};
inline constexpr SourceInfo kBpfCpuInfo{
    "bpf_cpu", "on-CPU time and run-queue wait (eBPF sched_switch)", "",
    "--[no-]bpf.cpu, --bpf.max-tasks", registry_detail::kBpfCpu};
inline constexpr SourceInfo kProcTcpTablesInfo{
    "proc_tcp_tables", "TCP states per network namespace from /proc/<pid>/net/tcp{,6}", "bpf_tcp",
    "", registry_detail::kProcTcpTables};
inline constexpr SourceInfo kProcSocketTablesInfo{
    "proc_socket_tables",
    "open sockets per network namespace from /proc/<pid>/net/{tcp,udp,udplite,raw}{,6}",
    "bpf_sockets", "", registry_detail::kProcSocketTables};
inline constexpr SourceInfo kProcSockstatInfo{
    "proc_sockstat", "sockstat per network namespace, TIME_WAIT attribution", "", "",
    registry_detail::kProcSockstat};
inline constexpr SourceInfo kProcNetDevInfo{
    "proc_net_dev", "interface counters per network namespace from /proc/<pid>/net/dev", "",
    "--[no-]collector.network, --[no-]collector.network.loopback", registry_detail::kProcNetDev};
inline constexpr SourceInfo kCgroupCpuInfo{
    "cgroup_cpu", "CPU user and system time from cgroup accounting (usage too without bpf_cpu)",
    "bpf_cpu", "--[no-]collector.cpu", registry_detail::kCgroupCpu};
inline constexpr SourceInfo kCgroupMemoryInfo{
    "cgroup_memory", "memory usage, working set, limits, OOM kills from cgroup files", "",
    "--[no-]collector.memory", registry_detail::kCgroupMemory};
inline constexpr SourceInfo kCgroupPressureInfo{
    "cgroup_pressure", "pressure stall information (PSI) from {cpu,memory,io}.pressure", "",
    "--[no-]collector.pressure", registry_detail::kCgroupPressure};
inline constexpr SourceInfo kNodeMemoryInfo{
    "node_memory", "the kubelet's memory.available from the root or kubepods cgroup, or meminfo",
    "", "--[no-]collector.memory", registry_detail::kNodeMemory};
inline constexpr SourceInfo kProcProcessInfo{
    "proc_process", "top processes per container from /proc/<pid> (--collector.process)", "",
    "--[no-]collector.process, --collector.process.top", registry_detail::kProcProcess};

inline constexpr std::array<const SourceInfo*, 12> kRegistry = {
    &kBpfTcpInfo,           &kBpfSocketsInfo,     &kBpfCpuInfo,     &kProcTcpTablesInfo,
    &kProcSocketTablesInfo, &kProcSockstatInfo,   &kProcNetDevInfo, &kCgroupCpuInfo,
    &kCgroupMemoryInfo,     &kCgroupPressureInfo, &kNodeMemoryInfo, &kProcProcessInfo};
// The metrics podstat writes about itself (not a source: always there).
inline constexpr std::span<const metrics::MetricSpec* const> kAgentMetrics =
    registry_detail::kAgent;

// nullptr when no source has that name.
const SourceInfo* FindSource(std::string_view name);

// The labels a metric's series carry, as the README's table states them; "?" for a name the
// table does not know.
std::string_view DocumentedLabels(std::string_view metric);

// Every catalogue entry as a Markdown table (metric, type, labels, sources, meaning): what
// `podstat --metrics` prints and the README quotes.
std::string RenderMetricTable();

}  // namespace podstat::sources
