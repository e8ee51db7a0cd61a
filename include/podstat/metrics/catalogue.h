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
    "container's init), and the host namespace's on id=\"/\". close and new_syn_recv are "
    "always 0: closed sockets are unhashed and request sockets are not tracked."};
inline constexpr MetricSpec kBuildInfo{
    "podstat_build_info", Kind::kGauge,
    "Always 1; labels say which podstat build and kernel are running."};
inline constexpr MetricSpec kProgramAttached{
    "podstat_bpf_program_attached", Kind::kGauge,
    "1 if the eBPF program is loaded and attached, 0 if it was not (see the log for why)."};
inline constexpr MetricSpec kBpfDrops{
    "podstat_bpf_drops_total", Kind::kCounter,
    "Events the eBPF programs could not count, by reason (map_full, no_cgroup, bad_state)."};
inline constexpr MetricSpec kSocketDrift{
    "podstat_socket_drift_total", Kind::kCounter,
    "Socket counts corrected by periodic sock_diag reconciliation (each corrected socket counts "
    "once); non-zero means events were lost."};
inline constexpr MetricSpec kReconciliations{
    "podstat_socket_reconciliations_total", Kind::kCounter,
    "sock_diag seeding and reconciliation rounds completed."};
inline constexpr MetricSpec kUnresolvedCgroups{
    "podstat_unresolved_cgroups", Kind::kGauge,
    "cgroup ids with live counts whose cgroup directory no longer exists (not exported)."};
inline constexpr MetricSpec kNetworkNamespaces{
    "podstat_network_namespaces", Kind::kGauge,
    "Network namespaces with at least one process, seen in the last collection."};
inline constexpr MetricSpec kMetadataErrors{
    "podstat_metadata_errors_total", Kind::kCounter,
    "Failed fetches of container names, by provider (docker, kubelet). Names are kept from the "
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

inline constexpr std::array kCatalogue = {
    kContainerTcpSockets, kBuildInfo,       kProgramAttached,   kBpfDrops,
    kSocketDrift,         kReconciliations, kUnresolvedCgroups, kNetworkNamespaces,
    kCollectionDuration,  kSnapshotAge};

}  // namespace podstat::metrics
