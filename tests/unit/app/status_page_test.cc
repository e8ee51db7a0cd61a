// The status page at `/` (issue 13, item 5): what it shows, in which order, and that nothing a
// container's creator chose can become markup.
#include "podstat/app/status_page.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "podstat/util/strings.h"

namespace podstat::app {
namespace {

const std::string kHostileName = "<script>alert(1)</script>\"'&";
const std::string kHostileEscaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";

std::string Id(char digit) { return std::string(64, digit); }

model::CgroupStats Container(std::string path, std::string name, char id, int64_t tcp_sockets,
                             uint64_t cpu_ns) {
  model::CgroupStats cgroup;
  cgroup.path = std::move(path);
  cgroup.labels.container = std::move(name);
  cgroup.labels.container_id = Id(id);
  cgroup.sockets.emplace();
  (*cgroup.sockets)[0][model::kSocketTcp] = tcp_sockets;
  cgroup.cpu.emplace();
  cgroup.cpu->usage_ns = cpu_ns;
  return cgroup;
}

BpfDecisions BuiltIn() {
  BpfDecisions bpf;
  bpf.built_in = true;
  return bpf;
}

std::string Render(const model::Snapshot& snapshot, const BpfDecisions& bpf = BuiltIn()) {
  StatusPageInput input;
  input.version = "1.2.3";
  input.revision = "abc123";
  input.kernel_release = "6.18.0";
  input.listen_addresses = {"127.0.0.1:9560"};
  AddSnapshot(snapshot, bpf, snapshot.taken_at, input);
  return BuildStatusPage(input);
}

// Every tag on the page, by name: only the builder's own markup may be there.
std::set<std::string> TagNames(const std::string& page) {
  std::set<std::string> names;
  for (size_t at = page.find('<'); at != std::string::npos; at = page.find('<', at + 1)) {
    size_t end = at + 1;
    while (end < page.size() && (std::isalnum(static_cast<unsigned char>(page[end])) ||
                                 page[end] == '/' || page[end] == '!')) {
      ++end;
    }
    names.insert(page.substr(at + 1, end - at - 1));
  }
  return names;
}

// The part of the page under the heading that starts with `heading`, up to the next heading.
std::string Section(const std::string& page, const std::string& heading) {
  const size_t start = page.find("<h2>" + heading);
  if (start == std::string::npos) return {};
  const size_t end = page.find("<h2>", start + 4);
  return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(StatusPage, EscapesAHostileContainerName) {
  model::Snapshot snapshot;
  // The cgroup path as the model holds it: its invalid bytes already \xHH (EscapeInvalidUtf8).
  const std::string path =
      EscapeInvalidUtf8("/x-\xff\xfe" + kHostileName + "/docker-" + Id('a') + ".scope");
  ASSERT_EQ(path.find('\xff'), std::string::npos);
  snapshot.cgroups.push_back(Container(path, kHostileName, 'a', 3, 2'000'000'000));
  // A name that reached the model unescaped still comes out as valid UTF-8.
  snapshot.cgroups.push_back(Container("/raw", "w\xff" + kHostileName, 'b', 2, 1'000'000'000));
  snapshot.self.sources = {{"bpf_tcp", true}};
  const std::string page = Render(snapshot);

  EXPECT_NE(page.find("<td>" + kHostileEscaped + "</td>"), std::string::npos) << page;
  EXPECT_NE(page.find("/x-\\xFF\\xFE" + kHostileEscaped + "/docker-"), std::string::npos) << page;
  EXPECT_NE(page.find("w\\xFF" + kHostileEscaped), std::string::npos) << page;
  EXPECT_TRUE(IsValidUtf8(page));
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  EXPECT_EQ(TagNames(page),
            (std::set<std::string>{"!DOCTYPE", "html",   "head",  "meta",  "title", "/title",
                                   "style",    "/style", "/head", "body",  "h1",    "/h1",
                                   "p",        "/p",     "a",     "/a",    "h2",    "/h2",
                                   "table",    "/table", "tr",    "/tr",   "th",    "/th",
                                   "td",       "/td",    "code",  "/code", "/body", "/html"}))
      << page;
}

TEST(StatusPage, EscapesEveryCharacterThatCouldEndTextOrAnAttribute) {
  EXPECT_EQ(EscapeHtml(kHostileName), kHostileEscaped);
  EXPECT_EQ(EscapeHtml("plain, ü"), "plain, ü");
  EXPECT_EQ(EscapeHtml("a\xff<"), "a\\xFF&lt;");
}

TEST(StatusPage, OrdersTopContainersBySocketsAndByCpu) {
  model::Snapshot snapshot;
  // 12 containers: sockets rise with the index, CPU falls; the page keeps 10 of each.
  for (int i = 0; i < 12; ++i) {
    const std::string name = "c" + std::to_string(i);
    snapshot.cgroups.push_back(Container("/docker/" + name, name, static_cast<char>('a' + i),
                                         100 + i, static_cast<uint64_t>(12 - i) * 1'000'000'000));
  }
  model::CgroupStats not_a_container;  // a systemd service: not on the containers lists
  not_a_container.path = "/system.slice/busy.service";
  not_a_container.sockets.emplace();
  (*not_a_container.sockets)[0][0] = 10'000;
  snapshot.cgroups.push_back(not_a_container);
  const std::string page = Render(snapshot);

  const std::string by_sockets = Section(page, "Top containers by open sockets");
  const std::string by_cpu = Section(page, "Top containers by CPU");
  ASSERT_FALSE(by_sockets.empty()) << page;
  ASSERT_FALSE(by_cpu.empty()) << page;
  EXPECT_EQ(by_sockets.find("busy.service"), std::string::npos);
  auto order = [](const std::string& section) {
    std::vector<std::string> names;
    for (size_t at = section.find("<td>c"); at != std::string::npos;
         at = section.find("<td>c", at + 1)) {
      names.push_back(section.substr(at + 4, section.find('<', at + 4) - at - 4));
    }
    return names;
  };
  EXPECT_EQ(order(by_sockets), (std::vector<std::string>{"c11", "c10", "c9", "c8", "c7", "c6", "c5",
                                                         "c4", "c3", "c2"}));
  EXPECT_EQ(order(by_cpu),
            (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}));
  EXPECT_NE(by_sockets.find(">111<"), std::string::npos);  // c11's sockets
  EXPECT_NE(by_cpu.find(">12.00<"), std::string::npos);    // c0's CPU seconds
}

TEST(StatusPage, SaysWhyAProgramIsNotAttached) {
  model::Snapshot snapshot;
  snapshot.self.programs = {
      {"sched_switch_tp_btf", false},        {"sched_switch_raw_tp", false},
      {"inet_sock_set_state_tp_btf", false}, {"inet_sock_set_state_raw_tp", true},
      {"tcp_retransmit_skb", true},          {"cgroup_sock_create", false}};
  snapshot.self.sources = {{"bpf_tcp", true},
                           {"bpf_sockets", false},
                           {"proc_socket_tables", true},
                           {"proc_tcp_tables", false}};
  BpfDecisions bpf;
  bpf.built_in = true;
  bpf.sock_state_fallbacks = "loading the tp_btf programs failed: <Invalid argument>";
  bpf.cpu_error = "no sched_switch program could be loaded: Permission denied";
  const std::string page = Render(snapshot, bpf);

  EXPECT_NE(page.find("not attached: no sched_switch program could be loaded: Permission denied"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("not attached: its other flavour, inet_sock_set_state_raw_tp, is attached "
                      "(loading the tp_btf programs failed: &lt;Invalid argument&gt;)"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("attached: on sock:inet_sock_set_state; after: loading the tp_btf"),
            std::string::npos);
  EXPECT_NE(page.find("not attached: gave up: loading the tp_btf programs failed: &lt;Invalid "
                      "argument&gt;; socket kinds come from /proc/&lt;pid&gt;/net"),
            std::string::npos)
      << page;
  // The fallback in use, and for what.
  EXPECT_NE(page.find("in use, instead of bpf_sockets"), std::string::npos) << page;

  // No eBPF at all: every program says why.
  BpfDecisions off;
  off.built_in = true;
  off.disabled = "--no-bpf";
  const std::string page_off = Render(snapshot, off);
  EXPECT_NE(page_off.find("not attached: --no-bpf"), std::string::npos) << page_off;
}

TEST(StatusPage, ShowsAgentFactsAndProviderErrors) {
  StatusPageInput input;
  input.version = "1.2.3";
  input.revision = "abc123";
  input.kernel_release = "6.18.0-<k>";
  input.now_unix_seconds = 1'700'000'100;
  input.started_unix_seconds = 1'700'000'000;
  input.uptime_seconds = 3 * 86400 + 4 * 3600 + 5 * 60 + 6;
  input.listen_addresses = {"[::1]:9560", "0.0.0.0:9561"};
  input.providers = {
      {"docker", 4, true, "connect /run/docker.sock: <No such file>", 1'700'000'040, 0},
      {"kubelet", 0, false, "", 0, 1'700'000'090}};
  const std::string page = BuildStatusPage(input);
  EXPECT_NE(page.find("1.2.3 (revision abc123)"), std::string::npos);
  EXPECT_NE(page.find("6.18.0-&lt;k&gt;"), std::string::npos);
  EXPECT_NE(page.find("3d 4h 5m 6s"), std::string::npos) << page;
  EXPECT_NE(page.find("2023-11-14 22:13:20 UTC"), std::string::npos) << page;
  EXPECT_NE(page.find("[::1]:9560, 0.0.0.0:9561"), std::string::npos);
  EXPECT_NE(page.find("none yet"), std::string::npos);  // no snapshot
  const std::string providers = Section(page, "Metadata providers");
  EXPECT_NE(providers.find("connect /run/docker.sock: &lt;No such file&gt; — 2023-11-14 22:14:00 "
                           "UTC (1m 0s ago)"),
            std::string::npos)
      << providers;
  EXPECT_NE(providers.find(">failing<"), std::string::npos);
  EXPECT_NE(providers.find("(10s ago)"), std::string::npos) << providers;
}

}  // namespace
}  // namespace podstat::app
