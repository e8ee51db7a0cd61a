#include "podstat/app/status_page.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>

#include "podstat/metrics/catalogue.h"
#include "podstat/sources/registry.h"
#include "podstat/util/strings.h"

namespace podstat::app {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool IsAttached(const std::vector<model::ProgramStatus>& programs, std::string_view name) {
  return std::any_of(programs.begin(), programs.end(),
                     [&](const model::ProgramStatus& p) { return p.name == name && p.attached; });
}

// The other flavour of a tp_btf / raw_tp pair, or "" when `name` is not one.
std::string OtherFlavour(std::string_view name) {
  constexpr std::string_view kTpBtf = "_tp_btf", kRawTp = "_raw_tp";
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(kTpBtf)) {
    return std::string(name.substr(0, name.size() - kTpBtf.size())) + std::string(kRawTp);
  }
  if (ends_with(kRawTp)) {
    return std::string(name.substr(0, name.size() - kRawTp.size())) + std::string(kTpBtf);
  }
  return {};
}

// How a program is attached, or why it is not, from what main decided at start.
std::string ProgramDetail(const model::ProgramStatus& program,
                          const std::vector<model::ProgramStatus>& programs,
                          const BpfDecisions& bpf) {
  const std::string& name = program.name;
  const std::string other = OtherFlavour(name);
  const bool cpu = StartsWith(name, "sched_switch");
  const bool cgroup_sock = StartsWith(name, "cgroup_sock");
  if (program.attached) {
    if (cpu) return "on sched:sched_switch, with sched:sched_wakeup_new";
    if (cgroup_sock) {
      return bpf.marks_in_storage
                 ? "on the cgroup v2 root; socket marks in socket-local storage"
                 : "on the cgroup v2 root; accepted children in ps_child_socks (no socket-local "
                   "storage for this program type here)";
    }
    if (StartsWith(name, "inet_sock_set_state")) {
      return "on sock:inet_sock_set_state" + (bpf.sock_state_fallbacks.empty()
                                                  ? std::string()
                                                  : "; after: " + bpf.sock_state_fallbacks);
    }
    return "tracepoint tcp:" + name + ", with the TCP state program";
  }
  if (!bpf.disabled.empty()) return bpf.disabled;
  if (cpu) {
    if (!bpf.cpu_disabled.empty()) return bpf.cpu_disabled;
    if (!bpf.cpu_error.empty()) return bpf.cpu_error;
    if (IsAttached(programs, other)) return "its other flavour, " + other + ", is attached";
    return "not loaded";
  }
  if (!bpf.sock_state_error.empty()) return bpf.sock_state_error;
  if (!other.empty() && IsAttached(programs, other)) {
    return "its other flavour, " + other + ", is attached" +
           (bpf.sock_state_fallbacks.empty() ? std::string()
                                             : " (" + bpf.sock_state_fallbacks + ")");
  }
  if (cgroup_sock) {
    return (bpf.sock_state_fallbacks.empty() ? std::string("not loaded")
                                             : "gave up: " + bpf.sock_state_fallbacks) +
           "; socket kinds come from /proc/<pid>/net";
  }
  return "not loaded";
}

int64_t OpenSockets(const model::CgroupStats& cgroup) {
  int64_t total = 0;
  if (cgroup.sockets) {
    for (const auto& family : *cgroup.sockets) {
      total = std::accumulate(family.begin(), family.end(), total);
    }
    return total;
  }
  if (cgroup.tcp) {  // no socket counts: the TCP sockets held open
    for (size_t i = 0; i < cgroup.tcp->size(); ++i) {
      if (static_cast<int>(i) + 1 != model::kTcpTimeWait) total += (*cgroup.tcp)[i];
    }
  }
  return total;
}

std::string ContainerName(const model::ContainerLabels& labels) {
  if (!labels.pod.empty()) {
    std::string name = labels.namespace_ + "/" + labels.pod;
    if (!labels.container.empty()) name += "/" + labels.container;
    return name;
  }
  return labels.container;
}

std::string Number(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string UtcTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const time_t time = static_cast<time_t>(unix_seconds);
  struct tm parts {};
  if (!gmtime_r(&time, &parts)) return std::to_string(unix_seconds);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buffer;
}

std::string Duration(double seconds) {
  if (seconds < 0) seconds = 0;
  auto total = static_cast<uint64_t>(seconds);
  const uint64_t days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60;
  total %= 60;
  std::string text;
  if (days > 0) text += std::to_string(days) + "d ";
  if (days > 0 || hours > 0) text += std::to_string(hours) + "h ";
  if (days > 0 || hours > 0 || minutes > 0) text += std::to_string(minutes) + "m ";
  return text + std::to_string(total) + "s";
}

std::string Ago(int64_t now, int64_t then) {
  if (then <= 0) return "never";
  return UtcTime(then) + " (" + Duration(static_cast<double>(now - then)) + " ago)";
}

// The top `count` of `containers` by `key` (descending; ties by cgroup path), those with a zero
// key left out.
template <typename Key>
std::vector<const StatusPageInput::Container*> Top(
    const std::vector<StatusPageInput::Container>& containers, size_t count, Key key) {
  std::vector<const StatusPageInput::Container*> top;
  for (const auto& container : containers) {
    if (key(container) > 0) top.push_back(&container);
  }
  const auto before = [&](const StatusPageInput::Container* a,
                          const StatusPageInput::Container* b) {
    if (key(*a) != key(*b)) return key(*a) > key(*b);
    return a->cgroup < b->cgroup;
  };
  const size_t kept = std::min(count, top.size());
  std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(kept), top.end(),
                    before);
  top.resize(kept);
  return top;
}

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:90em;padding:0 1em;"
    "color:#222;background:#fff}"
    "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc;padding-bottom:.2em}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;"
    "padding:.25em .6em;border-bottom:1px solid #eee}th{background:#f4f4f4}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".ok{color:#176117}.bad{color:#a31515}.muted{color:#666}"
    "code{font-family:ui-monospace,monospace;word-break:break-all}"
    "td.name code{word-break:normal;white-space:nowrap}";

class Page {
 public:
  void Raw(std::string_view html) { out_ += html; }
  void Text(std::string_view text) { out_ += EscapeHtml(text); }
  void Heading(std::string_view text) {
    Raw("<h2>");
    Text(text);
    Raw("</h2>\n");
  }
  // A <td>, escaped, with an optional class.
  void Cell(std::string_view text, std::string_view css_class = {}) {
    Raw(css_class.empty() ? "<td>" : "<td class=\"" + std::string(css_class) + "\">");
    Text(text);
    Raw("</td>");
  }
  void CodeCell(std::string_view text, std::string_view css_class = {}) {
    Raw(css_class.empty() ? "<td><code>" : "<td class=\"" + std::string(css_class) + "\"><code>");
    Text(text);
    Raw("</code></td>");
  }
  void Header(std::initializer_list<std::string_view> names) {
    Raw("<table><tr>");
    for (std::string_view name : names) {
      Raw("<th>");
      Text(name);
      Raw("</th>");
    }
    Raw("</tr>\n");
  }
  void Row(std::string_view name, std::string_view value) {
    Raw("<tr><th>");
    Text(name);
    Raw("</th>");
    Cell(value);
    Raw("</tr>\n");
  }
  void Note(std::string_view text) {
    Raw("<p class=\"muted\">");
    Text(text);
    Raw("</p>\n");
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

void ContainerTable(Page& page, const std::vector<const StatusPageInput::Container*>& top,
                    bool by_cpu) {
  if (top.empty()) {
    page.Note(by_cpu ? "No container with CPU accounting in the latest snapshot."
                     : "No container with open sockets in the latest snapshot.");
    return;
  }
  page.Header({"#", "Container", "cgroup (id)", "Open sockets", "CPU seconds"});
  size_t rank = 0;
  for (const StatusPageInput::Container* container : top) {
    page.Raw("<tr>");
    page.Cell(std::to_string(++rank), "n");
    page.Cell(container->name.empty() ? container->container_id.substr(0, 12) : container->name);
    page.CodeCell(container->cgroup);
    page.Cell(std::to_string(container->sockets), "n");
    page.Cell(container->has_cpu ? Number(container->cpu_seconds, 2) : "-", "n");
    page.Raw("</tr>\n");
  }
  page.Raw("</table>\n");
}

}  // namespace

std::string EscapeHtml(std::string_view text) {
  const std::string valid = EscapeInvalidUtf8(text);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void AddSnapshot(const model::Snapshot& snapshot, const BpfDecisions& bpf,
                 std::chrono::system_clock::time_point now, StatusPageInput& input) {
  input.have_snapshot = true;
  input.snapshot_age_seconds =
      std::max(0.0, std::chrono::duration<double>(now - snapshot.taken_at).count());
  const model::SelfStats& self = snapshot.self;
  input.collection_duration_seconds = self.collection_duration_seconds;
  input.bpf_built_in = bpf.built_in;

  for (const model::ProgramStatus& program : self.programs) {
    const std::string other = OtherFlavour(program.name);
    input.programs.push_back(
        {program.name, program.attached,
         !program.attached && !other.empty() && IsAttached(self.programs, other),
         ProgramDetail(program, self.programs, bpf)});
  }
  for (const auto& [name, active] : self.sources) {
    const sources::SourceInfo* note = sources::FindSource(name);
    input.sources.push_back({name, active, note ? std::string(note->provides) : std::string(),
                             note ? std::string(note->fallback_of) : std::string()});
  }

  // A metric's help once, on its first series: the rest of its rows only differ by label.
  std::string_view last_metric;
  auto counter = [&](const metrics::MetricSpec& spec, std::string_view label,
                     std::string_view value, uint64_t count) {
    std::string name(spec.name);
    // append, not operator+ on temporaries: GCC 12's -Wrestrict misfires on that in Release.
    if (!label.empty()) name.append("{").append(label).append("=\"").append(value).append("\"}");
    const bool first = spec.name != last_metric;
    last_metric = spec.name;
    input.counters.push_back({std::move(name), count, first ? std::string(spec.help) : ""});
  };
  for (const model::Drop& drop : self.bpf_drops) {
    counter(metrics::kBpfDrops, "reason", drop.reason, drop.count);
  }
  for (const model::ProgramMisses& misses : self.recursion_misses) {
    counter(metrics::kProgramRecursionMisses, "program", misses.program, misses.count);
  }
  counter(metrics::kSocketDrift, "", "", self.socket_drift);
  counter(metrics::kReconciliations, "", "", self.reconciliations);
  counter(metrics::kEarlyReconciliations, "", "", self.early_reconciliations);
  for (const model::Drop& failure : self.sock_diag_failures) {
    counter(metrics::kSockDiagFailures, "reason", failure.reason, failure.count);
  }
  counter(metrics::kUnresolvedCgroups, "", "", self.unresolved_cgroups);
  counter(metrics::kNetworkNamespaces, "", "", self.network_namespaces);
  if (self.tcp_map_capacity > 0) {
    counter(metrics::kMapEntries, "map", "ps_tcp_states", self.tcp_map_entries);
    counter(metrics::kMapCapacity, "map", "ps_tcp_states", self.tcp_map_capacity);
  }

  for (const model::CgroupStats& cgroup : snapshot.cgroups) {
    if (cgroup.labels.container_id.empty() && cgroup.labels.pod.empty()) continue;
    StatusPageInput::Container container;
    container.name = ContainerName(cgroup.labels);
    container.container_id = cgroup.labels.container_id;
    container.cgroup = cgroup.path;
    container.sockets = OpenSockets(cgroup);
    if (cgroup.cpu) {
      container.has_cpu = true;
      container.cpu_seconds = static_cast<double>(cgroup.cpu->usage_ns) / 1e9;
    }
    input.containers.push_back(std::move(container));
  }
}

std::string BuildStatusPage(const StatusPageInput& input) {
  Page page;
  page.Raw(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>podstat status</title><style>");
  page.Raw(kStyle);
  page.Raw("</style></head>\n<body>\n<h1>podstat status</h1>\n<p><a href=\"");
  page.Text(input.telemetry_path);
  page.Raw("\">");
  page.Text(input.telemetry_path);
  page.Raw("</a> &middot; <a href=\"/healthz\">/healthz</a></p>\n");

  page.Heading("Agent");
  page.Raw("<table>\n");
  page.Row("Version", input.version + " (revision " + input.revision + ")");
  page.Row("Kernel", input.kernel_release.empty() ? "unknown" : input.kernel_release);
  page.Row("Started", UtcTime(input.started_unix_seconds));
  page.Row("Uptime", Duration(input.uptime_seconds));
  std::string addresses;
  for (const std::string& address : input.listen_addresses) {
    addresses += (addresses.empty() ? "" : ", ") + address;
  }
  page.Row("Listening on", addresses);
  page.Row("Latest collection",
           input.have_snapshot ? Number(input.snapshot_age_seconds, 1) + " s ago, took " +
                                     Number(input.collection_duration_seconds * 1000, 1) + " ms"
                               : "none yet: the first collection is still running");
  page.Raw("</table>\n");

  page.Heading("eBPF programs");
  if (!input.bpf_built_in) {
    page.Note("Built without eBPF (-DPODSTAT_BPF=OFF): every source reads /proc and cgroup files.");
  } else if (input.programs.empty()) {
    page.Note("No collection yet.");
  } else {
    page.Header({"Program", "State"});
    for (const auto& program : input.programs) {
      page.Raw("<tr>");
      page.CodeCell(program.name, "name");
      if (program.attached) {
        page.Cell("attached: " + program.detail, "ok");
      } else {
        // Muted where one flavour of a pair is attached as it should be: nothing is missing.
        page.Cell("not attached: " + program.detail,
                  program.alternative_attached ? "muted" : "bad");
      }
      page.Raw("</tr>\n");
    }
    page.Raw("</table>\n");
  }

  page.Heading("Sources");
  if (input.sources.empty()) {
    page.Note("No collection yet.");
  } else {
    page.Header({"Source", "State", "Reads", "Fallback for"});
    for (const auto& source : input.sources) {
      page.Raw("<tr>");
      page.CodeCell(source.name, "name");
      std::string state = source.active ? "in use" : "off";
      if (source.active && !source.fallback_of.empty()) {
        const bool primary_active = std::any_of(
            input.sources.begin(), input.sources.end(),
            [&](const auto& other) { return other.name == source.fallback_of && other.active; });
        if (!primary_active) state = "in use, instead of " + source.fallback_of;
      }
      page.Cell(state, source.active ? "ok" : "muted");
      page.Cell(source.provides);
      page.Cell(source.fallback_of);
      page.Raw("</tr>\n");
    }
    page.Raw("</table>\n");
  }

  page.Heading("Drops and drift");
  if (input.counters.empty()) {
    page.Note("No collection yet.");
  } else {
    page.Header({"Counter", "Value", "Meaning"});
    for (const auto& counter : input.counters) {
      page.Raw("<tr>");
      page.CodeCell(counter.name, "name");
      page.Cell(std::to_string(counter.value), counter.value > 0 ? "n" : "n muted");
      page.Cell(counter.meaning);
      page.Raw("</tr>\n");
    }
    page.Raw("</table>\n");
  }

  page.Heading("Top containers by open sockets");
  ContainerTable(page,
                 Top(input.containers, kStatusTopContainers,
                     [](const StatusPageInput::Container& c) { return c.sockets; }),
                 false);
  page.Heading("Top containers by CPU (seconds used since the container started)");
  ContainerTable(
      page,
      Top(input.containers, kStatusTopContainers,
          [](const StatusPageInput::Container& c) { return c.has_cpu ? c.cpu_seconds : 0.0; }),
      true);

  page.Heading("Metadata providers");
  if (input.providers.empty()) {
    page.Note("No metadata provider.");
  } else {
    page.Header({"Provider", "State", "Failed fetches", "Last success", "Last error"});
    for (const auto& provider : input.providers) {
      page.Raw("<tr>");
      page.CodeCell(provider.name, "name");
      page.Cell(provider.failing ? "failing" : "ok", provider.failing ? "bad" : "ok");
      page.Cell(std::to_string(provider.errors), "n");
      page.Cell(Ago(input.now_unix_seconds, provider.last_success_unix_seconds));
      page.Cell(provider.last_error.empty()
                    ? "none"
                    : provider.last_error + " — " +
                          Ago(input.now_unix_seconds, provider.last_error_unix_seconds));
      page.Raw("</tr>\n");
    }
    page.Raw("</table>\n");
  }
  page.Raw("</body></html>\n");
  return page.Take();
}

}  // namespace podstat::app
