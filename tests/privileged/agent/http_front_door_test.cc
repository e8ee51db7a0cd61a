// The real agent's HTTP front door under the clients issue 13 measured: idle connections and
// bodies trickled a byte at a time, a 63 MiB POST to a path that takes none, and the gzip and
// IPv6 that Prometheus and dual-stack nodes use. Before (civetweb, 4 workers): 4 idle
// connections left /healthz unanswered, and 4 such POSTs took RSS from 22 to 268 MB.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/gunzip.h"
#include "podstat/util/fd.h"
#include "support/privileges.h"
#include "support/workload.h"

namespace podstat::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

UniqueFd ConnectLoopback(uint16_t port, int family = AF_INET) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket");
  const timeval timeout{15, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int rc;
  if (family == AF_INET6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0) throw std::runtime_error("connect to the agent failed");
  return fd;
}

void SendAll(const UniqueFd& fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// Reads one response's header (up to the blank line).
std::string ReadHeader(const UniqueFd& fd) {
  std::string header;
  char c;
  while (header.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd.get(), &c, 1, 0) != 1) break;
    header += c;
  }
  return header;
}

std::string ReadAll(const UniqueFd& fd) {
  std::string data;
  char buffer[65536];
  ssize_t n;
  while ((n = ::recv(fd.get(), buffer, sizeof buffer, 0)) > 0) {
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

uint64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}

double Metric(const Agent& agent, const std::string& name, const Labels& labels) {
  return FindSample(ParseExposition(agent.Scrape()), name, labels).value_or(-1);
}

constexpr int kIdle = 200;
constexpr int kSlow = 20;
constexpr auto kBodyTimeout = 6s;
constexpr auto kTrickleEvery = 2s;  // never silent longer: only a fixed deadline cuts these off

TEST(AgentHttpFrontDoorTest, IdleAndTrickledClientsNeitherStarveTheAgentNorStay) {
  PODSTAT_REQUIRE_ROOT();
  Agent agent({"--receiver.enable", "--web.body-timeout=6s", "--web.header-timeout=10s"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();

  std::vector<UniqueFd> idle;
  for (int i = 0; i < kIdle; ++i) idle.push_back(ConnectLoopback(agent.port()));

  // Writes whose header passes every check, then one body byte per client every 2 s.
  std::vector<UniqueFd> slow;
  std::vector<Clock::time_point> header_sent(kSlow);
  std::vector<std::optional<Clock::duration>> cut_after(kSlow);
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(ConnectLoopback(agent.port()));
    SendAll(slow.back(),
            "POST /api/v1/write HTTP/1.1\r\nHost: podstat\r\nContent-Type: application/x-protobuf"
            "\r\nContent-Encoding: snappy\r\nContent-Length: 100\r\n\r\n");
    header_sent[i] = Clock::now();
  }
  std::thread trickler([&] {
    const auto give_up = Clock::now() + 30s;
    auto next_byte = Clock::now();
    while (Clock::now() < give_up) {
      std::vector<pollfd> fds;
      std::vector<int> index;
      for (int i = 0; i < kSlow; ++i) {
        if (cut_after[i]) continue;
        fds.push_back({slow[i].get(), POLLIN, 0});
        index.push_back(i);
      }
      if (fds.empty()) return;
      if (Clock::now() >= next_byte) {
        for (const pollfd& p : fds) ::send(p.fd, "x", 1, MSG_NOSIGNAL);
        next_byte = Clock::now() + kTrickleEvery;
      }
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_byte - Clock::now());
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait.count(), 0))) <=
          0) {
        continue;
      }
      for (size_t k = 0; k < fds.size(); ++k) {
        if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[512];
        const ssize_t n = ::recv(fds[k].fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) cut_after[index[k]] = Clock::now() - header_sent[index[k]];
      }
    }
  });

  WaitUntil(
      [&] {
        return Metric(agent, "podstat_http_connections", {{"listener", "web"}}) >= kIdle + kSlow;
      },
      "all 220 connections open in the agent");
  Clock::duration worst{};
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    EXPECT_EQ(agent.Get("/healthz").status, 200);
    const auto healthz = Clock::now() - start;
    const auto scrape_start = Clock::now();
    const std::string metrics = agent.Scrape();
    const auto scrape = Clock::now() - scrape_start;
    EXPECT_NE(metrics.find("podstat_http_connections"), std::string::npos);
    EXPECT_LT(healthz, 1s);
    EXPECT_LT(scrape, 1s);
    worst = std::max({worst, healthz, scrape});
  }
  std::cout << "with " << kIdle << " idle and " << kSlow << " trickling clients: slowest answer "
            << std::chrono::duration<double, std::milli>(worst).count() << " ms\n";

  trickler.join();
  for (int i = 0; i < kSlow; ++i) {
    ASSERT_TRUE(cut_after[i].has_value()) << "trickled body " << i << " was never cut off";
    EXPECT_GE(*cut_after[i], kBodyTimeout - 500ms) << i;
    EXPECT_LT(*cut_after[i], kBodyTimeout + 3s) << i;
  }
  std::cout << "trickled bodies cut off after "
            << std::chrono::duration<double>(*cut_after[0]).count() << " s (deadline "
            << kBodyTimeout.count() << " s)\n";
  // Counted on the agent's I/O thread just after the socket closes.
  WaitUntil(
      [&] {
        return Metric(agent, "podstat_http_timeouts_total",
                      {{"listener", "web"}, {"phase", "body"}}) == kSlow;
      },
      "the 20 trickled bodies counted as body timeouts");
  // The silent ones go at the header deadline.
  for (const UniqueFd& fd : idle) EXPECT_EQ(ReadAll(fd), "");
  WaitUntil(
      [&] {
        return Metric(agent, "podstat_http_timeouts_total",
                      {{"listener", "web"}, {"phase", "header"}}) >= kIdle;
      },
      "the idle connections counted as header timeouts");
  EXPECT_EQ(agent.Get("/healthz").status, 200);
}

// Four clients each POST 63 MiB to /metrics without Expect: 100-continue, so the body follows
// the header at once: each gets 405 from the header alone and the body is dropped as it comes.
TEST(AgentHttpFrontDoorTest, Four63MiBPostsToAPathThatTakesNoneLeaveRssFlat) {
  PODSTAT_REQUIRE_ROOT();
  Agent agent({"--receiver.enable"});
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  agent.Scrape();
  const uint64_t peak_before = StatusKib(agent.pid(), "VmHWM");
  constexpr size_t kBody = 63u << 20;

  auto post = [&](const std::string& path, std::string* status_line) {
    const UniqueFd fd = ConnectLoopback(agent.port());
    SendAll(fd, "POST " + path +
                    " HTTP/1.1\r\nHost: podstat\r\nContent-Type: "
                    "application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: " +
                    std::to_string(kBody) + "\r\n\r\n");
    std::thread writer([&] {
      const std::string chunk(1u << 20, 'x');
      for (size_t sent = 0; sent < kBody; sent += chunk.size()) {
        if (::send(fd.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
      }
    });
    const std::string header = ReadHeader(fd);
    *status_line = header.substr(0, header.find("\r\n"));
    ::shutdown(fd.get(), SHUT_RDWR);  // stops the writer if the agent is still draining
    writer.join();
  };
  std::vector<std::string> statuses(5);
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(post, "/metrics", &statuses[i]);
  // Over --receiver.max-body-bytes (10 MiB) by its Content-Length: 413, also unread.
  clients.emplace_back(post, "/api/v1/write", &statuses[4]);
  for (auto& client : clients) client.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(statuses[i], "HTTP/1.1 405 Method Not Allowed") << i;
  EXPECT_EQ(statuses[4], "HTTP/1.1 413 Payload Too Large");

  const uint64_t peak_after = StatusKib(agent.pid(), "VmHWM");
  std::cout << "peak RSS before " << peak_before / 1024 << " MiB, after 5 x 63 MiB POSTs "
            << peak_after / 1024 << " MiB\n";
  EXPECT_LT(peak_after, peak_before + 16 * 1024) << "the agent buffered refused bodies";
  EXPECT_EQ(Metric(agent, "podstat_http_responses_total", {{"listener", "web"}, {"code", "405"}}),
            4);
  EXPECT_EQ(
      Metric(agent, "podstat_receiver_rejected_requests_total", {{"reason", "body_too_large"}}), 1);
  EXPECT_EQ(agent.Get("/healthz").status, 200);
}

TEST(AgentHttpFrontDoorTest, GzipScrapeDecodesToAValidExposition) {
  PODSTAT_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();
  const UniqueFd fd = ConnectLoopback(agent.port());
  // What Prometheus 2.42 sends.
  SendAll(fd,
          "GET /metrics HTTP/1.1\r\nHost: podstat\r\nAccept-Encoding: gzip\r\n"
          "Connection: close\r\n\r\n");
  const std::string reply = ReadAll(fd);
  const size_t end = reply.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << reply.substr(0, 300);
  const std::string header = reply.substr(0, end);
  EXPECT_NE(header.find("Content-Encoding: gzip"), std::string::npos) << header;
  const std::string zipped = reply.substr(end + 4);
  // The cached snapshot part and the fresh tail are two gzip members; Prometheus (Go's
  // gzip.Reader) reads them as one stream.
  const std::string plain = GunzipMembers(zipped);
  std::cout << "exposition " << plain.size() << " bytes, gzip " << zipped.size() << " bytes\n";
  EXPECT_LT(zipped.size() * 3, plain.size());
  ExpectPromtoolAccepts(plain);
  EXPECT_TRUE(
      FindSample(ParseExposition(plain), "podstat_http_connections", {{"listener", "web"}}));
}

bool HaveIpv6Loopback() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  return fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// ":port" is every address on one dual-stack socket, as node_exporter's ":9100" is.
TEST(AgentHttpFrontDoorTest, DefaultAddressAnswersIpv6AndIpv4Loopback) {
  PODSTAT_REQUIRE_ROOT();
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "SKIPPED LOUDLY: no IPv6 loopback on this kernel";
  const uint16_t port = FreeTcpPort();
  Agent agent({"--web.listen-address=:" + std::to_string(port)}, port);
  ASSERT_TRUE(agent.WaitHealthy()) << agent.Stderr();  // over 127.0.0.1
  const UniqueFd fd = ConnectLoopback(port, AF_INET6);
  SendAll(fd, "GET /healthz HTTP/1.0\r\n\r\n");
  const std::string reply = ReadAll(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.0 200")) << reply;
  EXPECT_TRUE(reply.ends_with("ok\n")) << reply;
}

}  // namespace
}  // namespace podstat::testing
