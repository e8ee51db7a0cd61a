// One real Docker container, three views of its sockets: podstat with eBPF, podstat with
// --no-bpf (the /proc fallback), and `ss -tuan` run inside the container's network namespace.
// All three must agree on TCP states, UDP sockets and open sockets by type; the table printed
// is what the closing note quotes.
#include <gtest/gtest.h>

#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "docker.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;

// 2 LISTEN and one established pair (as the other Docker tests), plus busybox syslogd forwarding
// to a remote over UDP: its socket is made and autobound when it forwards its first message
// (UNCONN in ss). Every step waits for what the next one needs: `u CMD` polls until the shell
// command CMD succeeds (at most 600 polls, ~30 s), and the script fails loudly otherwise. The
// client connects once the listener is there; logger runs once syslogd has bound /dev/log (a
// datagram sent then is queued for it); /ready appears once the UDP socket is there.
constexpr char kScript[] =
    "u() { i=0; until eval \"$1\"; do i=$((i+1)); "
    "[ $i -gt 600 ] && { echo \"gave up waiting for: $1\" >&2; exit 1; }; sleep 0.05; done; }; "
    "nc -l -p 8080 & nc -l -p 8081 & "
    "sleep 3600 | nc -l -p 9000 & u 'netstat -ltn | grep -q \":9000 \"'; "
    "sleep 3600 | nc 127.0.0.1 9000 & "
    "syslogd -n -R 127.0.0.1:5514 & u '[ -S /dev/log ]'; "
    "logger hello; u 'netstat -uan | grep -q \"^udp \"'; "
    "touch /ready; exec sleep 3600";

struct View {
  std::map<std::string, int64_t> values;  // row name -> value
};

const std::map<std::string, std::string> kSsToState = {
    {"ESTAB", "established"}, {"LISTEN", "listen"}, {"TIME-WAIT", "time_wait"}};

View FromSs(pid_t pid) {
  const SsSockets ss = CountSsSockets(pid);
  View view;
  for (const auto& [ss_state, state] : kSsToState) {
    const auto it = ss.tcp.find(ss_state);
    view.values["tcp " + state] = it == ss.tcp.end() ? 0 : it->second;
  }
  view.values["udp sockets"] = ss.udp;
  const auto tw = ss.tcp.find("TIME-WAIT");
  view.values["open stream sockets"] = ss.tcp_total - (tw == ss.tcp.end() ? 0 : tw->second);
  return view;
}

View FromAgent(const Agent& agent, const std::string& id) {
  const auto samples = ParseExposition(agent.Scrape());
  View view;
  auto value = [&](std::string_view name, Labels labels) -> int64_t {
    labels["id"] = id;
    const auto found = FindSample(samples, name, labels);
    return found ? static_cast<int64_t>(*found) : -1;
  };
  for (const auto& [ss_state, state] : kSsToState) {
    view.values["tcp " + state] = value("container_tcp_sockets", {{"state", state}});
  }
  view.values["udp sockets"] = value("container_udp_sockets", {});
  view.values["open stream sockets"] =
      value("container_sockets", {{"family", "inet"}, {"type", "stream"}}) +
      value("container_sockets", {{"family", "inet6"}, {"type", "stream"}});
  return view;
}

TEST(DockerSocketsTest, BpfFallbackAndSsAgreeForOneContainer) {
  PODSTAT_REQUIRE_PRIVILEGES();
  PODSTAT_REQUIRE_DOCKER();
  Container web("pst-sockets-" + RandomHex(8), {}, kScript);
  web.AwaitFile("/ready");  // the script's last step: every socket below is in place
  web.AwaitTcpStates(TcpStates({{"listen", 2}, {"established", 2}}));
  Agent bpf;
  Agent fallback({"--no-bpf", "--collector.network.loopback"});
  ASSERT_TRUE(bpf.WaitHealthy()) << bpf.Stderr();
  ASSERT_TRUE(fallback.WaitHealthy()) << fallback.Stderr();

  View ss, with_bpf, without_bpf;
  for (const auto deadline = std::chrono::steady_clock::now() + kConditionTimeout;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(300ms)) {
    ss = FromSs(web.pid());
    with_bpf = FromAgent(bpf, web.cgroup());
    without_bpf = FromAgent(fallback, web.cgroup());
    if (ss.values == with_bpf.values && ss.values == without_bpf.values) break;
  }
  std::ostringstream table;
  table << "container " << web.name() << " (" << web.cgroup() << ")\n"
        << std::left << std::setw(22) << "" << std::right << std::setw(6) << "bpf" << std::setw(6)
        << "ss" << std::setw(10) << "fallback\n";
  for (const auto& [row, value] : ss.values) {
    table << std::left << std::setw(22) << row << std::right << std::setw(6) << with_bpf.values[row]
          << std::setw(6) << value << std::setw(9) << without_bpf.values[row] << "\n";
  }
  std::cout << table.str();
  EXPECT_EQ(ss.values, with_bpf.values) << table.str();
  EXPECT_EQ(ss.values, without_bpf.values) << table.str();
  EXPECT_EQ(ss.values["udp sockets"], 1) << "syslogd's UDP socket never appeared";
  EXPECT_EQ(ss.values["tcp listen"], 2);

  // The container's own network namespace is reported on it. The test dockerd runs without a
  // bridge, so lo is the container's only interface: excluded by default, there with
  // --collector.network.loopback, counting the nc pair's traffic.
  const auto samples = ParseExposition(bpf.Scrape());
  EXPECT_FALSE(FindSample(samples, "container_network_receive_bytes_total",
                          {{"id", web.cgroup()}, {"interface", "lo"}}))
      << "lo is excluded by default";
  const auto with_lo =
      FindSample(ParseExposition(fallback.Scrape()), "container_network_receive_packets_total",
                 {{"id", web.cgroup()}, {"interface", "lo"}});
  ASSERT_TRUE(with_lo) << "no lo counters with --collector.network.loopback";
  EXPECT_GE(*with_lo, 3) << "the nc pair's handshake crossed lo";
}

}  // namespace
}  // namespace podstat::testing
