#include "podstat/sources/registry.h"

#include <utility>

namespace podstat::sources {
namespace {

// The labels each family carries, as the exposition writer writes them ("container labels":
// namespace, pod, container, container_id, image, id). A unit test renders a snapshot that has
// every family and compares.
constexpr std::pair<std::string_view, std::string_view> kLabels[] = {
    {"container_tcp_sockets", "container labels, `state`"},
    {"container_sockets", "container labels, `family`, `type`"},
    {"container_udp_sockets", "container labels"},
    {"container_tcp_retransmits_total", "container labels"},
    {"container_tcp_connect_failures_total", "container labels"},
    {"container_tcp_resets_total", "container labels, `direction`"},
    {"container_sockstat_inuse", "container labels, `protocol`"},
    {"container_sockstat_tcp_tw", "container labels"},
    {"container_sockstat_sockets_used", "container labels"},
    {"container_sockstat_frag_memory_bytes", "container labels, `protocol`"},
    {"node_sockstat_tcp_orphan", ""},
    {"node_sockstat_tcp_alloc", ""},
    {"node_sockstat_memory_pages", "`protocol`"},
    {"container_network_receive_bytes_total", "container labels, `interface`"},
    {"container_network_receive_packets_total", "container labels, `interface`"},
    {"container_network_receive_errors_total", "container labels, `interface`"},
    {"container_network_receive_packets_dropped_total", "container labels, `interface`"},
    {"container_network_transmit_bytes_total", "container labels, `interface`"},
    {"container_network_transmit_packets_total", "container labels, `interface`"},
    {"container_network_transmit_errors_total", "container labels, `interface`"},
    {"container_network_transmit_packets_dropped_total", "container labels, `interface`"},
    {"container_network_tcp_usage_total", "container labels, `tcp_state`"},
    {"container_network_tcp6_usage_total", "container labels, `tcp_state`"},
    {"container_network_udp_usage_total", "container labels, `udp_state`"},
    {"container_network_udp6_usage_total", "container labels, `udp_state`"},
    {"container_cpu_usage_seconds_total", "container labels"},
    {"container_cpu_user_seconds_total", "container labels"},
    {"container_cpu_system_seconds_total", "container labels"},
    {"container_cpu_runqueue_wait_seconds_total", "container labels"},
    {"container_memory_usage_bytes", "container labels"},
    {"container_memory_working_set_bytes", "container labels"},
    {"container_memory_rss", "container labels"},
    {"container_memory_cache", "container labels"},
    {"container_memory_inactive_file_bytes", "container labels"},
    {"container_spec_memory_limit_bytes", "container labels"},
    {"container_oom_kills_total", "container labels"},
    {"container_pressure_cpu_waiting_seconds_total", "container labels"},
    {"container_pressure_cpu_stalled_seconds_total", "container labels"},
    {"container_pressure_memory_waiting_seconds_total", "container labels"},
    {"container_pressure_memory_stalled_seconds_total", "container labels"},
    {"container_pressure_io_waiting_seconds_total", "container labels"},
    {"container_pressure_io_stalled_seconds_total", "container labels"},
    {"node_cgroup_memory_usage_bytes", "`source`"},
    {"node_memory_working_set_bytes", "`source`"},
    {"node_memory_available_bytes", "`source`"},
    {"container_process_cpu_seconds_total", "container labels, `pid`, `comm`, `mode`"},
    {"container_process_resident_memory_bytes", "container labels, `pid`, `comm`"},
    {"container_process_virtual_memory_bytes", "container labels, `pid`, `comm`"},
    {"container_process_resident_file_memory_bytes", "container labels, `pid`, `comm`"},
    {"podstat_source_active", "`source`"},
    {"podstat_build_info", "`kernel`, `revision`, `version`"},
    {"podstat_bpf_program_attached", "`program`"},
    {"podstat_bpf_program_recursion_misses_total", "`program`"},
    {"podstat_socket_early_reconciliations_total", ""},
    {"podstat_bpf_drops_total", "`reason`"},
    {"podstat_socket_drift_total", ""},
    {"podstat_sock_diag_failures_total", "`reason`"},
    {"podstat_socket_reconciliations_total", ""},
    {"podstat_socket_reconciliation_seconds_total", ""},
    {"podstat_unresolved_cgroups", ""},
    {"podstat_network_namespaces", ""},
    {"podstat_metadata_errors_total", "`provider`"},
    {"podstat_bpf_map_entries", "`map`"},
    {"podstat_bpf_map_capacity", "`map`"},
    {"podstat_collection_duration_seconds", ""},
    {"podstat_snapshot_age_seconds", ""},
    {"podstat_receiver_requests_total", "`code`"},
    {"podstat_receiver_rejected_requests_total", "`reason`"},
    {"podstat_receiver_samples_total", "`result`"},
    {"podstat_receiver_series", ""},
    {"podstat_receiver_store_bytes", ""},
    {"podstat_receiver_series_limit_rejections_total", ""},
    {"podstat_remote_write_samples_total", "`url`"},
    {"podstat_remote_write_failed_samples_total", "`url`"},
    {"podstat_remote_write_dropped_samples_total", "`url`"},
    {"podstat_remote_write_retries_total", "`url`"},
    {"podstat_remote_write_queue_length", "`url`"},
    {"podstat_remote_write_last_success_timestamp_seconds", "`url`"},
    {"podstat_http_connections", "`listener`"},
    {"podstat_http_connections_accepted_total", "`listener`"},
    {"podstat_http_refused_total", "`listener`, `reason`"},
    {"podstat_http_timeouts_total", "`listener`, `phase`"},
    {"podstat_http_tls_handshake_failures_total", "`listener`"},
    {"podstat_http_auth_failures_total", "`listener`"},
    {"podstat_http_responses_total", "`listener`, `code`"},
    {"podstat_http_web_config_reload_failures_total", "`listener`"},
    {"podstat_http_web_config_last_reload_successful", "`listener`"},
};

// Markdown table cells: a '|' would end the cell, a newline the row.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

const SourceInfo* FindSource(std::string_view name) {
  for (const SourceInfo* info : kRegistry) {
    if (info->name == name) return info;
  }
  return nullptr;
}

std::string_view DocumentedLabels(std::string_view metric) {
  for (const auto& [name, labels] : kLabels) {
    if (name == metric) return labels;
  }
  return "?";
}

std::string RenderMetricTable() {
  std::string out = "| Metric | Type | Labels | Source | Meaning |\n|---|---|---|---|---|\n";
  for (const metrics::MetricSpec& spec : metrics::kCatalogue) {
    std::string sources;
    auto add = [&sources](std::string_view name) {
      sources.append(sources.empty() ? "" : ", ").append("`").append(name).append("`");
    };
    for (const SourceInfo* info : kRegistry) {
      for (const metrics::MetricSpec* written : info->metrics) {
        if (written->name == spec.name) add(info->name);
      }
    }
    for (const metrics::MetricSpec* written : kAgentMetrics) {
      if (written->name == spec.name) sources.append(sources.empty() ? "podstat" : ", podstat");
    }
    out.append("| `")
        .append(spec.name)
        .append("` | ")
        .append(spec.kind == metrics::Kind::kCounter ? "counter" : "gauge")
        .append(" | ")
        .append(DocumentedLabels(spec.name))
        .append(" | ")
        .append(sources)
        .append(" | ")
        .append(Cell(spec.help))
        .append(" |\n");
  }
  out +=
      "\nSources (`podstat_source_active{source}`):\n\n| Source | Reads | Fallback for | Flags |\n"
      "|---|---|---|---|\n";
  for (const SourceInfo* info : kRegistry) {
    out.append("| `")
        .append(info->name)
        .append("` | ")
        .append(Cell(info->provides))
        .append(" | ")
        .append(info->fallback_of.empty() ? "" : "`")
        .append(info->fallback_of)
        .append(info->fallback_of.empty() ? "" : "`")
        .append(" | ")
        .append(Cell(info->flags))
        .append(" |\n");
  }
  return out;
}

}  // namespace podstat::sources
