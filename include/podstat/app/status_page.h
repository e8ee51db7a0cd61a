// The agent's status page at `/`, for a person (as exporter-toolkit's landing page and
// Prometheus's /status are): version and kernel, each eBPF program attached or not and why, the
// sources in use and their fallbacks, drops and drift, the top containers by open sockets and by
// CPU, the last error of each metadata provider, uptime and listen addresses.
//
// A pure builder: StatusPageInput holds plain strings and numbers (no references to live objects),
// filled by main from the latest snapshot and the state it keeps; BuildStatusPage turns it into
// one self-contained HTML5 document (inline CSS, no script, no external asset). Every text from
// the input is HTML-escaped: container and cgroup names are chosen by whoever may create a cgroup
// or start a container.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/model/snapshot.h"
#include "podstat/sources/loader.h"

namespace podstat::app {

// Why the eBPF programs are as they are, as the loader decided at start (every case it logs).
using BpfDecisions = sources::BpfDecisions;

struct StatusPageInput {
  std::string version;
  std::string revision;
  std::string kernel_release;  // empty when unknown (built without eBPF)
  int64_t now_unix_seconds = 0;
  int64_t started_unix_seconds = 0;
  double uptime_seconds = 0;
  std::vector<std::string> listen_addresses;
  std::string telemetry_path = "/metrics";

  // From the latest snapshot; have_snapshot false before the first collection (the rest empty).
  bool have_snapshot = false;
  double snapshot_age_seconds = 0;
  double collection_duration_seconds = 0;

  bool bpf_built_in = false;
  struct Program {
    std::string name;
    bool attached = false;
    bool alternative_attached = false;  // its other flavour (tp_btf / raw_tp) is, as it should be
    std::string detail;                 // how it is attached, or why not
  };
  std::vector<Program> programs;

  struct Source {
    std::string name;
    bool active = false;
    std::string provides;     // what it reads, in a few words
    std::string fallback_of;  // the source it stands in for; empty if none
  };
  std::vector<Source> sources;

  struct Counter {
    std::string name;
    uint64_t value = 0;
    std::string meaning;
  };
  std::vector<Counter> counters;  // drops, drift, reconciliation and resolver counts

  struct Container {
    std::string name;  // namespace/pod/container, or the runtime's name; empty when unknown
    std::string container_id;
    std::string cgroup;  // the `id` label: its cgroup path, invalid UTF-8 already escaped
    int64_t sockets = 0;
    double cpu_seconds = 0;
    bool has_cpu = false;
  };
  // Every container and pod of the snapshot, in any order: the page shows the top 10 by open
  // sockets and the top 10 by CPU.
  std::vector<Container> containers;

  struct Provider {
    std::string name;
    uint64_t errors = 0;
    bool failing = false;
    std::string last_error;
    int64_t last_error_unix_seconds = 0;    // 0: never failed
    int64_t last_success_unix_seconds = 0;  // 0: never succeeded
  };
  std::vector<Provider> providers;
};

inline constexpr size_t kStatusTopContainers = 10;

// Fills the snapshot's part of `input`: programs (with what `bpf` says of each), sources with
// their fallbacks, counters, containers. `now` gives the snapshot's age.
void AddSnapshot(const model::Snapshot& snapshot, const BpfDecisions& bpf,
                 std::chrono::system_clock::time_point now, StatusPageInput& input);

// The whole page, text/html; charset=utf-8.
std::string BuildStatusPage(const StatusPageInput& input);

// & < > " ' as character references, after EscapeInvalidUtf8 (the page is declared UTF-8).
std::string EscapeHtml(std::string_view text);

// Response headers for the page: no script, no external anything, even if escaping ever failed.
inline constexpr const char* kStatusPageContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

}  // namespace podstat::app
