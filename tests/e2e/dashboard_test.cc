// The Grafana dashboard (deploy/kubernetes/dashboards/podstat.json) against a real Prometheus that
// scraped a real agent. A panel whose query names a metric or label podstat does not export, or
// filters on one the scrape does not add, shows "No data" and no error, so only running the
// queries finds it:
//   (a) the JSON itself: unique panel ids, ${datasource} on every panel and target, an expr,
//       refId and legendFormat on every target, only variables the dashboard defines, every
//       selector filtered by the variables its metric's labels allow, and a panel for every
//       metric the dashboard is there to show;
//   (b) three pods in Docker, named as the kubelet names them, the agent, and Prometheus scraping
//       it every second with the node label the ServiceMonitor adds; then every target of every
//       panel, with the variables at "All" and at one pod, must parse and return data, and only
//       the selected pod's data, and every template variable must list the test's names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "curl_client.h"
#include "docker.h"
#include "prometheus.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kDashboardPath[] = PODSTAT_SOURCE_DIR "/deploy/kubernetes/dashboards/podstat.json";

// Every panel and target takes its data source from the dashboard's `datasource` variable, so the
// dashboard imports into any Grafana whatever its Prometheus is called.
const Json kDatasource = {{"type", "prometheus"}, {"uid", "${datasource}"}};

// The filter variables: multi-select with "All", which must become a regex matching everything
// (Grafana's default "All" is a list of the values it knows, which misses new pods).
const std::vector<std::string> kFilterVariables = {"node", "namespace", "pod", "container"};

// The metrics the dashboard exists to show (the issue's list); a panel dropped by an edit fails
// here rather than going unnoticed.
const std::vector<std::string> kRequiredMetrics = {
    "container_tcp_sockets",
    "container_tcp_connect_failures_total",
    "container_tcp_retransmits_total",
    "container_tcp_resets_total",
    "container_udp_sockets",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "container_network_receive_packets_total",
    "container_network_transmit_packets_total",
    "container_cpu_usage_seconds_total",
    "container_cpu_runqueue_wait_seconds_total",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
    "container_oom_kills_total",
    "node_memory_available_bytes",
    "node_memory_working_set_bytes",
    "podstat_collection_duration_seconds",
    "podstat_snapshot_age_seconds",
    "podstat_bpf_drops_total",
    "podstat_socket_drift_total",
    "podstat_socket_reconciliation_seconds_total",
    "podstat_bpf_program_attached",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
};

// Grafana's built-in variables as the test sets them. Prometheus scrapes every second here, and
// Grafana would make $__rate_interval at least four scrape intervals (4 s); 10 s leaves room for a
// slow machine's late scrapes and still gives rate() and increase() the two samples they need
// within seconds of the first scrape.
const std::map<std::string, std::string, std::less<>> kBuiltins = {
    {"__rate_interval", "10s"}, {"__interval", "1s"}, {"__range", "1m"}};

// How long Prometheus may take to have data for every query: a few 1 s scrapes, then rate()
// windows that hold two of them. 60 s is generous for a slow qemu guest; a healthy run needs ~5 s.
constexpr auto kDataTimeout = 60s;
constexpr auto kPoll = 500ms;

using Values = std::map<std::string, std::string, std::less<>>;

struct Target {
  std::string panel;  // the panel's title
  int64_t panel_id = 0;
  std::string ref_id;
  std::string expr;
  std::string legend;
};

// A template variable's label_values(<match>, <label>) query.
struct VariableQuery {
  std::string name;
  std::string match;  // a series selector, with variables still in it
  std::string label;
};

Json LoadDashboard() {
  std::ifstream in(kDashboardPath);
  if (!in) throw std::runtime_error(std::string("cannot open ") + kDashboardPath);
  std::ostringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());  // parse_error says where
}

// Every panel, depth first: a collapsed row holds its panels in its own "panels" array.
void CollectPanels(const Json& panels, std::vector<const Json*>* out) {
  if (!panels.is_array()) return;
  for (const Json& panel : panels) {
    out->push_back(&panel);
    if (panel.is_object() && panel.contains("panels")) CollectPanels(panel.at("panels"), out);
  }
}

std::vector<const Json*> AllPanels(const Json& dashboard) {
  // Pointers into `dashboard` itself: value() would return a copy that dies with the statement.
  std::vector<const Json*> panels;
  if (dashboard.contains("panels")) CollectPanels(dashboard.at("panels"), &panels);
  return panels;
}

bool IsRow(const Json& panel) { return panel.is_object() && panel.value("type", "") == "row"; }

std::string StringOr(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string PanelName(const Json& panel) {
  return "panel \"" + StringOr(panel, "title") + "\" (id " +
         (panel.contains("id") ? panel.at("id").dump() : std::string("none")) + ")";
}

std::vector<Target> AllTargets(const Json& dashboard) {
  std::vector<Target> targets;
  for (const Json* panel : AllPanels(dashboard)) {
    if (!panel->is_object() || IsRow(*panel)) continue;
    const auto id = panel->find("id");
    for (const Json& target : panel->value("targets", Json::array())) {
      if (!target.is_object()) continue;  // test (a) reports it
      targets.push_back({StringOr(*panel, "title"),
                         id != panel->end() && id->is_number_integer() ? id->get<int64_t>() : 0,
                         StringOr(target, "refId"), StringOr(target, "expr"),
                         StringOr(target, "legendFormat")});
    }
  }
  return targets;
}

const Json& Variables(const Json& dashboard) {
  static const Json kNone = Json::array();
  const auto templating = dashboard.find("templating");
  if (templating == dashboard.end() || !templating->contains("list")) return kNone;
  return templating->at("list");
}

// A query variable's query: a string (Grafana 9 and earlier) or {"query": "..."} (the Prometheus
// variable editor of Grafana 10).
std::string VariableQueryText(const Json& variable) {
  const auto query = variable.find("query");
  if (query == variable.end()) return {};
  if (query->is_string()) return query->get<std::string>();
  if (query->is_object()) return StringOr(*query, "query");
  return {};
}

std::vector<VariableQuery> AllVariableQueries(const Json& dashboard, std::string* problems) {
  static const std::regex kLabelValues(
      R"(^\s*label_values\(\s*(.+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  std::vector<VariableQuery> out;
  for (const Json& variable : Variables(dashboard)) {
    if (StringOr(variable, "type") != "query") continue;
    const std::string name = StringOr(variable, "name");
    const std::string query = VariableQueryText(variable);
    std::smatch match;
    if (!std::regex_match(query, match, kLabelValues)) {
      *problems += "  variable " + name + ": query '" + query +
                   "' is not label_values(<series selector>, <label>)\n";
      continue;
    }
    out.push_back({name, match[1].str(), match[2].str()});
  }
  return out;
}

// Replaces Grafana's variable references ($name, ${name}, ${name:format}, [[name]]) with their
// values. References to variables not in `values` are added to `unknown` and left as they are,
// so that a misspelt variable fails the test instead of reaching Prometheus as text.
std::string Substitute(std::string_view text, const Values& values,
                       std::set<std::string>* unknown) {
  const auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    std::string name;
    size_t end = i;
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i);
      if (close != std::string_view::npos) {
        name = std::string(text.substr(i + 2, close - i - 2));
        name = name.substr(0, name.find(':'));  // ${name:regex} and other formats
        end = close + 1;
      }
    } else if (text[i] == '$') {
      end = i + 1;
      while (end < text.size() && is_name_char(text[end])) ++end;
      name = std::string(text.substr(i + 1, end - i - 1));
    } else if (text.substr(i, 2) == "[[") {
      const size_t close = text.find("]]", i);
      if (close != std::string_view::npos) {
        name = std::string(text.substr(i + 2, close - i - 2));
        end = close + 2;
      }
    }
    if (name.empty()) {
      out.push_back(text[i++]);
      continue;
    }
    if (const auto it = values.find(name); it != values.end()) {
      out += it->second;
    } else {
      unknown->insert(name);
      out += text.substr(i, end - i);
    }
    i = end;
  }
  return out;
}

// The label names a legend format refers to: "{{namespace}}/{{pod}} rx" -> namespace, pod.
std::vector<std::string> LegendLabels(const std::string& legend) {
  std::vector<std::string> labels;
  for (size_t at = legend.find("{{"); at != std::string::npos; at = legend.find("{{", at + 2)) {
    const size_t close = legend.find("}}", at);
    if (close == std::string::npos) break;
    std::string label = legend.substr(at + 2, close - at - 2);
    label.erase(0, label.find_first_not_of(' '));
    label.erase(label.find_last_not_of(' ') + 1);
    labels.push_back(label);
  }
  return labels;
}

// Grafana escapes regex metacharacters in the values of multi-value variables before it puts
// them into a =~ matcher; the test does the same with the values it selects.
std::string RegexEscape(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += "\\\\";
    out.push_back(c);
  }
  return out;
}

std::string Hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) throw std::runtime_error("gethostname failed");
  return name;
}

// The matchers every selector of a metric must carry, by the metric's name. A query without one
// shows other pods' or nodes' data under a selection, and once sum() has dropped the label no
// result can tell (the query test below sees only the labels a result keeps), so the selectors
// are checked as written. Network and sockstat series belong to the pod's network namespace and
// sit on its sandbox, so they are filtered by pod, not container.
std::vector<std::string> RequiredMatchers(std::string_view metric) {
  if (metric.starts_with("container_network_") || metric.starts_with("container_sockstat_")) {
    return {R"(node=~"$node")", R"(namespace=~"$namespace")", R"(pod=~"$pod")", R"(pod!="")"};
  }
  if (metric.starts_with("container_")) {
    return {R"(node=~"$node")", R"(namespace=~"$namespace")", R"(pod=~"$pod")",
            R"(container=~"$container")", R"(container!="")"};
  }
  if (metric.starts_with("node_") || metric.starts_with("podstat_")) return {R"(node=~"$node")"};
  if (metric.starts_with("scrape_") || metric == "up") {
    return {R"(job=~"$job")", R"(node=~"$node")"};
  }
  return {};
}

// What the selectors of `expr` lack of the matchers RequiredMatchers asks for ("<metric> without
// <matcher>; " each), or "" when nothing.
std::string SelectorProblems(const std::string& expr) {
  static const std::regex kMatcher(
      R"re(([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)")re");
  const auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
  };
  // The end of the string literal starting at `at` (its closing quote).
  const auto string_end = [&](size_t at) {
    size_t i = at + 1;
    while (i < expr.size() && expr[i] != expr[at]) i += expr[i] == '\\' ? 2 : 1;
    return i;
  };
  std::string problems;
  size_t i = 0;
  while (i < expr.size()) {
    if (expr[i] == '"' || expr[i] == '\'') {
      i = string_end(i) + 1;
      continue;
    }
    if (!is_name_char(expr[i]) || (i > 0 && is_name_char(expr[i - 1]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < expr.size() && is_name_char(expr[end])) ++end;
    const std::string name = expr.substr(i, end - i);
    const std::vector<std::string> required = RequiredMatchers(name);
    const size_t next = expr.find_first_not_of(' ', end);
    if (required.empty()) {
      i = end;
      continue;
    }
    std::set<std::string> present;
    if (next != std::string::npos && expr[next] == '{') {
      size_t close = next + 1;
      while (close < expr.size() && expr[close] != '}')
        close = expr[close] == '"' ? string_end(close) + 1 : close + 1;
      const std::string selector = expr.substr(next + 1, close - next - 1);
      for (auto it = std::sregex_iterator(selector.begin(), selector.end(), kMatcher);
           it != std::sregex_iterator(); ++it) {
        present.insert((*it)[1].str() + (*it)[2].str() + "\"" + (*it)[3].str() + "\"");
      }
      end = close + 1;
    }
    for (const std::string& matcher : required) {
      if (!present.count(matcher)) problems += name + " without " + matcher + "; ";
    }
    i = end;
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// (a) The JSON

TEST(DashboardTest, JsonIsAValidGrafanaDashboard) {
  Json dashboard;
  ASSERT_NO_THROW(dashboard = LoadDashboard()) << kDashboardPath;
  ASSERT_TRUE(dashboard.is_object());
  std::string problems;
  const auto problem = [&](const std::string& text) { problems += "  " + text + "\n"; };

  EXPECT_EQ(dashboard.value("uid", ""), "podstat");
  EXPECT_EQ(dashboard.value("title", ""), "podstat");
  // Grafana 9 writes schemaVersion 36-37, 10 writes 38-39; it migrates older ones on load.
  EXPECT_TRUE(dashboard.contains("schemaVersion") && dashboard.at("schemaVersion").is_number() &&
              dashboard.at("schemaVersion").get<int>() >= 36)
      << dashboard.value("schemaVersion", Json()).dump();

  // Template variables.
  std::set<std::string, std::less<>> defined;
  for (const Json& variable : Variables(dashboard)) {
    const std::string name = StringOr(variable, "name");
    if (!defined.insert(name).second) problem("variable " + name + " is defined twice");
  }
  const Json* datasource = nullptr;
  for (const Json& variable : Variables(dashboard)) {
    if (StringOr(variable, "name") == "datasource") datasource = &variable;
  }
  if (datasource == nullptr) {
    problem("no variable named datasource");
  } else if (StringOr(*datasource, "type") != "datasource" ||
             StringOr(*datasource, "query") != "prometheus") {
    problem("variable datasource is not {type: datasource, query: prometheus}: " +
            datasource->dump());
  }
  for (const Json& variable : Variables(dashboard)) {
    const std::string name = StringOr(variable, "name");
    if (StringOr(variable, "type") == "query" &&
        variable.value("datasource", Json()) != kDatasource)
      problem("variable " + name + " does not query " + kDatasource.dump());
  }
  for (const std::string& name : kFilterVariables) {
    const Json* found = nullptr;
    for (const Json& variable : Variables(dashboard)) {
      if (StringOr(variable, "name") == name) found = &variable;
    }
    if (found == nullptr) {
      problem("no variable named " + name);
      continue;
    }
    if (StringOr(*found, "type") != "query" || !found->value("multi", false) ||
        !found->value("includeAll", false) || StringOr(*found, "allValue") != ".*") {
      problem("variable " + name +
              " is not a multi-value query variable with includeAll and allValue \".*\": " +
              found->dump());
    }
  }
  std::string query_problems;
  const std::vector<VariableQuery> variable_queries =
      AllVariableQueries(dashboard, &query_problems);
  problems += query_problems;

  // Panels.
  std::set<int64_t> ids;
  const std::vector<const Json*> panels = AllPanels(dashboard);
  size_t data_panels = 0;
  for (const Json* panel : panels) {
    if (!panel->is_object()) {
      problem("a panel is not an object: " + panel->dump());
      continue;
    }
    const std::string name = PanelName(*panel);
    if (!panel->contains("id") || !panel->at("id").is_number_integer()) {
      problem(name + " has no integer id");
    } else if (!ids.insert(panel->at("id").get<int64_t>()).second) {
      problem(name + ": id used by another panel too");
    }
    if (StringOr(*panel, "title").empty()) problem(name + " has no title");
    const Json grid = panel->value("gridPos", Json::object());
    const int w = grid.value("w", 0);
    const int x = grid.value("x", -1);
    if (grid.value("h", 0) <= 0 || w <= 0 || x < 0 || x + w > 24 || grid.value("y", -1) < 0)
      problem(name + " has no gridPos inside the 24-column grid: " + grid.dump());
    if (IsRow(*panel)) {
      if (panel->contains("targets")) problem(name + " is a row with targets");
      continue;
    }
    ++data_panels;
    if (panel->value("datasource", Json()) != kDatasource)
      problem(name + " has datasource " + panel->value("datasource", Json()).dump() + ", want " +
              kDatasource.dump());
    const Json targets = panel->value("targets", Json::array());
    if (!targets.is_array() || targets.empty()) problem(name + " has no targets");
    std::set<std::string> ref_ids;
    for (const Json& target : targets) {
      if (!target.is_object()) {
        problem(name + " has a target that is not an object: " + target.dump());
        continue;
      }
      const std::string ref_id = StringOr(target, "refId");
      const std::string where = name + " target " + (ref_id.empty() ? "?" : ref_id);
      if (ref_id.empty()) problem(where + " has no refId");
      if (!ref_ids.insert(ref_id).second) problem(where + ": refId used twice in the panel");
      if (StringOr(target, "expr").empty()) problem(where + " has no expr");
      if (StringOr(target, "legendFormat").empty()) problem(where + " has no legendFormat");
      if (target.value("datasource", Json()) != kDatasource)
        problem(where + " has datasource " + target.value("datasource", Json()).dump());
    }
  }
  EXPECT_GT(data_panels, 0u);

  // Only variables the dashboard defines (or Grafana's built-ins) are referenced.
  Values known(kBuiltins.begin(), kBuiltins.end());
  for (const std::string& name : defined) known[name] = "x";
  const std::vector<Target> targets = AllTargets(dashboard);
  for (const Target& target : targets) {
    std::set<std::string> unknown;
    Substitute(target.expr, known, &unknown);
    Substitute(target.legend, known, &unknown);
    for (const std::string& name : unknown)
      problem("panel \"" + target.panel + "\" target " + target.ref_id + " uses $" + name +
              ", which the dashboard does not define");
  }
  for (const VariableQuery& query : variable_queries) {
    std::set<std::string> unknown;
    Substitute(query.match, known, &unknown);
    for (const std::string& name : unknown)
      problem("variable " + query.name + " uses undefined $" + name);
  }

  // Every selector filters by the variables its metric's labels allow.
  for (const Target& target : targets) {
    const std::string missing = SelectorProblems(target.expr);
    if (!missing.empty())
      problem("panel \"" + target.panel + "\" target " + target.ref_id + ": " + missing + "in " +
              target.expr);
  }

  // Every metric the dashboard is for has a panel (a name is matched as a whole word).
  for (const std::string& metric : kRequiredMetrics) {
    const std::regex word("(^|[^A-Za-z0-9_:])" + metric + "([^A-Za-z0-9_:]|$)");
    bool found = false;
    for (const Target& target : targets) found = found || std::regex_search(target.expr, word);
    if (!found) problem("no panel queries " + metric);
  }

  EXPECT_TRUE(problems.empty()) << kDashboardPath << ":\n" << problems;
  std::cout << panels.size() << " panels (" << data_panels << " with data, " << targets.size()
            << " targets), " << Variables(dashboard).size() << " variables\n";
}

// ---------------------------------------------------------------------------------------------
// (b) The queries against Prometheus

// Container web of pod A: a listener (8080), an established loopback pair (the listener on 9000
// is gone once it has accepted: busybox nc -l serves one connection), and busybox syslogd
// forwarding to a remote over UDP, which makes its socket when it forwards its first message.
// Each step waits for what the next needs (`u CMD` polls until the shell command CMD succeeds, at
// most 600 polls, ~30 s), and /ready appears once everything is in place. As in
// docker_sockets_test.cc.
constexpr char kWebScript[] =
    "u() { i=0; until eval \"$1\"; do i=$((i+1)); "
    "[ $i -gt 600 ] && { echo \"gave up waiting for: $1\" >&2; exit 1; }; sleep 0.05; done; }; "
    "nc -l -p 8080 & "
    "sleep 3600 | nc -l -p 9000 & u 'netstat -ltn | grep -q \":9000 \"'; "
    "sleep 3600 | nc 127.0.0.1 9000 & "
    "syslogd -n -R 127.0.0.1:5514 & u '[ -S /dev/log ]'; "
    "logger hello; u 'netstat -uan | grep -q \"^udp \"'; "
    "touch /ready; exec sleep 3600";
constexpr char kListenerScript[] = "nc -l -p 8080 & exec sleep 3600";

// docker run options for a container as the kubelet's dockershim or cri-dockerd makes it: the
// pod's names in io.kubernetes.* labels, which podstat's Docker provider reads.
std::vector<std::string> KubeletLabels(const std::string& pod_namespace, const std::string& pod,
                                       const std::string& container, const std::string& uid) {
  return {"--label", "io.kubernetes.pod.namespace=" + pod_namespace,
          "--label", "io.kubernetes.pod.name=" + pod,
          "--label", "io.kubernetes.container.name=" + container,
          "--label", "io.kubernetes.pod.uid=" + uid};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// One setting of the dashboard's variables.
struct Scenario {
  std::string name;
  Values values;  // variable -> the text Grafana puts in its place
  // label -> the only value a returned sample may carry for it: with one pod selected, a series of
  // another pod, namespace, container or node means a panel ignores a filter.
  Labels only = {};
  // variable -> values its query must list, and values it must not.
  std::map<std::string, std::set<std::string>> want_listed = {};
  std::map<std::string, std::set<std::string>> want_unlisted = {};
  // Whether the panels are queried too, or only the variables.
  bool panels = true;
};

// Why the target fails in the scenario, or "" when it returned data that fits.
std::string CheckTarget(const PrometheusServer& prometheus, const std::string& expr,
                        const std::string& legend, const Labels& only) {
  std::vector<Sample> samples;
  try {
    samples = prometheus.Query(expr);
  } catch (const std::exception& e) {
    return e.what();
  }
  if (samples.empty()) return "no samples";
  for (const Sample& sample : samples) {
    for (const auto& [label, value] : only) {
      const auto it = sample.labels.find(label);
      if (it != sample.labels.end() && it->second != value)
        return "returned " + FormatSample(sample) + ", outside the selection " + label + "=\"" +
               value + "\"";
    }
  }
  // A legend naming a label the result does not have shows the same empty text for every series.
  for (const std::string& label : LegendLabels(legend)) {
    bool carried = false;
    for (const Sample& sample : samples) {
      const auto it = sample.labels.find(label);
      carried = carried || (it != sample.labels.end() && !it->second.empty());
    }
    if (!carried)
      return "legend \"" + legend + "\" uses {{" + label + "}}, which no sample carries, e.g. " +
             FormatSample(samples.front());
  }
  return {};
}

// GET /api/v1/label/<label>/values?match[]=<match>: what Grafana's label_values() asks.
std::set<std::string> LabelValues(const PrometheusServer& prometheus, const std::string& label,
                                  const std::string& match) {
  const HttpResponse response = CurlRequest(prometheus.base_url() + "/api/v1/label/" + label +
                                            "/values?match%5B%5D=" + UrlEncode(match));
  const Json json = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status != 200 || !json.is_object() || json.value("status", "") != "success" ||
      !json.contains("data") || !json.at("data").is_array()) {
    throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                             response.body.substr(0, 500));
  }
  return json.at("data").get<std::set<std::string>>();
}

const std::set<std::string>& ValuesFor(const std::map<std::string, std::set<std::string>>& map,
                                       const std::string& key) {
  static const std::set<std::string> kNone;
  const auto it = map.find(key);
  return it == map.end() ? kNone : it->second;
}

std::string Join(const std::set<std::string>& values) {
  std::string out;
  for (const std::string& value : values) out += (out.empty() ? "" : ", ") + value;
  return "[" + out + "]";
}

// Evaluates every target and variable query of the dashboard in every scenario; returns two lines
// per failure (what failed and why, then the query as sent), or "" when all returned what they
// should.
std::string EvaluateDashboard(const PrometheusServer& prometheus,
                              const std::vector<Target>& targets,
                              const std::vector<VariableQuery>& variables,
                              const std::vector<Scenario>& scenarios, size_t* failures) {
  const std::vector<Target> no_targets;
  std::string report;
  *failures = 0;
  for (const Scenario& scenario : scenarios) {
    for (const Target& target : scenario.panels ? targets : no_targets) {
      std::set<std::string> unknown;
      const std::string expr = Substitute(target.expr, scenario.values, &unknown);
      std::string why = unknown.empty()
                            ? CheckTarget(prometheus, expr, target.legend, scenario.only)
                            : "undefined variable $" + *unknown.begin();
      if (why.empty()) continue;
      ++*failures;
      report += "[" + scenario.name + "] panel \"" + target.panel + "\" (id " +
                std::to_string(target.panel_id) + ") target " + target.ref_id + ": " + why +
                "\n    expr: " + expr + "\n";
    }
    for (const VariableQuery& variable : variables) {
      std::set<std::string> unknown;
      const std::string match = Substitute(variable.match, scenario.values, &unknown);
      std::string why;
      std::set<std::string> listed;
      if (!unknown.empty()) {
        why = "undefined variable $" + *unknown.begin();
      } else {
        try {
          listed = LabelValues(prometheus, variable.label, match);
        } catch (const std::exception& e) {
          why = e.what();
        }
      }
      if (why.empty()) {
        for (const std::string& want : ValuesFor(scenario.want_listed, variable.name)) {
          if (!listed.count(want)) why += "does not list " + want + "; ";
        }
        for (const std::string& unwanted : ValuesFor(scenario.want_unlisted, variable.name)) {
          if (listed.count(unwanted)) why += "lists " + unwanted + ", outside the selection; ";
        }
        if (!why.empty()) why += "it lists " + Join(listed);
      }
      if (why.empty()) continue;
      ++*failures;
      report += "[" + scenario.name + "] variable " + variable.name + ": " + why +
                "\n    label_values(" + match + ", " + variable.label + ")\n";
    }
  }
  return report;
}

// Pod A (the one the "selected" scenario picks) is shaped like a Kubernetes pod: a sandbox
// container POD that owns the network namespace, and container web in it with TCP and UDP
// sockets and a memory limit (container_spec_memory_limit_bytes is absent for unlimited
// containers). Pods B (same namespace, another pod name) and C (another namespace, the same pod
// name) hold one listener each in a container also named web, so only a panel's pod or namespace
// filter keeps their series out when pod A is selected. Prometheus scrapes the one agent as two
// targets, node=<hostname> and node=<hostname>-twin, so a panel without the node filter returns
// the twin's series. (Filters that a sum() hides from the result are checked as written, in (a).)
TEST(DashboardTest, EveryPanelQueryReturnsDataFromPrometheus) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  PODSTAT_REQUIRE_PROMETHEUS();

  Json dashboard;
  ASSERT_NO_THROW(dashboard = LoadDashboard()) << kDashboardPath;
  const std::vector<Target> targets = AllTargets(dashboard);
  std::string parse_problems;
  const std::vector<VariableQuery> variables = AllVariableQueries(dashboard, &parse_problems);
  ASSERT_FALSE(targets.empty());
  ASSERT_EQ(parse_problems, "");

  const std::string suffix = RandomHex(6);
  const std::string namespace_a = "dash-a-" + suffix;
  const std::string namespace_c = "dash-c-" + suffix;
  const std::string pod_a = "shop-" + suffix;
  const std::string pod_b = "cart-" + suffix;
  const std::string node = Hostname();
  const std::string twin_node = node + "-twin";

  const std::string uid_a = RandomUuid();
  Container sandbox("pst-dash-pod-" + suffix, KubeletLabels(namespace_a, pod_a, "POD", uid_a),
                    "exec sleep 3600");
  Container web("pst-dash-web-" + suffix,
                Concat({"--network", "container:" + sandbox.id(), "--memory", "64m"},
                       KubeletLabels(namespace_a, pod_a, "web", uid_a)),
                kWebScript);
  Container other_pod("pst-dash-b-" + suffix,
                      KubeletLabels(namespace_a, pod_b, "web", RandomUuid()), kListenerScript);
  Container other_namespace("pst-dash-c-" + suffix,
                            KubeletLabels(namespace_c, pod_a, "web", RandomUuid()),
                            kListenerScript);
  web.AwaitFile("/ready");
  web.AwaitTcpStates(TcpStates({{"listen", 1}, {"established", 2}}));
  other_pod.AwaitTcpStates(TcpStates({{"listen", 1}}));
  other_namespace.AwaitTcpStates(TcpStates({{"listen", 1}}));

  // The test dockerd runs with --bridge=none: lo is every container's only interface, and podstat
  // leaves lo out unless told otherwise, so without this flag the network panels have nothing.
  Agent agent({"--collector.network.loopback"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();

  // The node label is set by target relabelling, as the ServiceMonitor's relabeling from
  // __meta_kubernetes_pod_node_name does, so Prometheus's own up and scrape_* series carry it too.
  // The twin target has job="podstat" as well: only its node label tells its series apart.
  const std::string config =
      "global:\n"
      "  scrape_interval: 1s\n"
      "  scrape_timeout: 1s\n"
      "  evaluation_interval: 1s\n"
      "scrape_configs:\n" +
      PodstatScrapeJob(agent) +
      "    relabel_configs:\n"
      "      - target_label: node\n"
      "        replacement: " +
      node +
      "\n"
      "  - job_name: podstat-twin\n"
      "    static_configs:\n"
      "      - targets: ['" +
      agent.address() +
      "']\n"
      "    relabel_configs:\n"
      "      - target_label: job\n"
      "        replacement: podstat\n"
      "      - target_label: node\n"
      "        replacement: " +
      twin_node + "\n";
  PrometheusServer prometheus(podstat_prometheus_binary, config);

  Values all(kBuiltins.begin(), kBuiltins.end());
  all["job"] = "podstat";
  for (const std::string& name : kFilterVariables) all[name] = ".*";
  Values selected = all;
  selected["node"] = RegexEscape(node);
  selected["namespace"] = RegexEscape(namespace_a);
  selected["pod"] = RegexEscape(pod_a);
  selected["container"] = "web";
  Values namespace_c_only = all;
  namespace_c_only["namespace"] = RegexEscape(namespace_c);
  const std::vector<Scenario> scenarios = {
      {.name = "All",
       .values = all,
       .want_listed = {{"job", {"podstat"}},
                       {"node", {node, twin_node}},
                       {"namespace", {namespace_a, namespace_c}},
                       {"pod", {pod_a, pod_b}},
                       {"container", {"POD", "web"}}}},
      {.name = "node=" + node + ", namespace=" + namespace_a + ", pod=" + pod_a + ", container=web",
       .values = selected,
       .only = {{"job", "podstat"},
                {"node", node},
                {"namespace", namespace_a},
                {"pod", pod_a},
                {"container", "web"}},
       .want_listed = {{"node", {node}},
                       {"namespace", {namespace_a}},
                       {"pod", {pod_a, pod_b}},
                       {"container", {"POD", "web"}}}},
      // The variables' own filters: pod C alone is in namespace C, and it has no sandbox. Its
      // panels are not all meant to have data (it has no memory limit), so only the variables.
      {.name = "namespace=" + namespace_c,
       .values = namespace_c_only,
       .want_listed = {{"pod", {pod_a}}, {"container", {"web"}}},
       .want_unlisted = {{"pod", {pod_b}}, {"container", {"POD"}}},
       .panels = false},
  };

  const auto start = Clock::now();
  std::string report;
  size_t failures = 0;
  size_t rounds = 0;
  const bool settled = PollUntil(
      [&] {
        ++rounds;
        report = EvaluateDashboard(prometheus, targets, variables, scenarios, &failures);
        return report.empty();
      },
      kDataTimeout, kPoll);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  size_t queries = 0;
  for (const Scenario& scenario : scenarios)
    queries += (scenario.panels ? targets.size() : 0) + variables.size();
  EXPECT_TRUE(settled) << failures << " of " << queries << " dashboard queries still fail after "
                       << took.count() << " ms (" << rounds << " rounds):\n"
                       << report;
  if (settled) {
    std::cout << "all " << queries << " dashboard queries (" << targets.size() << " targets and "
              << variables.size() << " variables in " << scenarios.size()
              << " scenarios) returned data " << took.count() << " ms after Prometheus was ready ("
              << rounds << " rounds)\n";
  }
}

}  // namespace
}  // namespace podstat::testing
