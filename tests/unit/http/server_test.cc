// The HTTP listener on real loopback sockets: routing, checks before the body, deadlines,
// connection limits, keep-alive, HEAD, 100-continue, gzip and IPv6.
#include "podstat/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "common/gunzip.h"
#include "podstat/util/fd.h"

namespace podstat::http {
namespace {

using namespace std::chrono_literals;

UniqueFd Connect(int port, int family = AF_INET) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket");
  const timeval timeout{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int rc;
  if (family == AF_INET6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_loopback;
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0) throw std::runtime_error("connect failed");
  return fd;
}

void Send(const UniqueFd& fd, const std::string& data) {
  ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
}

// Reads until the server closes (or 10 s pass): everything it sent.
std::string ReadToClose(const UniqueFd& fd) {
  std::string reply;
  char buffer[65536];
  ssize_t n;
  while ((n = ::recv(fd.get(), buffer, sizeof(buffer), 0)) > 0) {
    reply.append(buffer, static_cast<size_t>(n));
  }
  return reply;
}

// Reads one response: its header, then Content-Length bytes of body (none for HEAD).
std::string ReadResponse(const UniqueFd& fd, bool head = false) {
  std::string reply;
  char c;
  while (reply.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd.get(), &c, 1, 0) != 1) return reply;
    reply += c;
  }
  std::string lower = reply;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const size_t at = lower.find("content-length: ");
  size_t length = at == std::string::npos ? 0 : std::stoul(lower.substr(at + 16));
  if (head) length = 0;
  std::string body(length, '\0');
  size_t got = 0;
  while (got < length) {
    const ssize_t n = ::recv(fd.get(), body.data() + got, length - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return reply + body.substr(0, got);
}

std::string Fetch(int port, const std::string& request, int family = AF_INET) {
  const UniqueFd fd = Connect(port, family);
  Send(fd, request);
  return ReadToClose(fd);
}

// true once the server has closed the connection (recv sees EOF or a reset) within 10 s.
bool ClosedByServer(const UniqueFd& fd) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

std::string BigBody() {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "series_" + std::to_string(i) + "{a=\"b\"} 1\n";
  return body;
}

std::vector<Route> TestRoutes() {
  Route echo{"/echo",
             "POST",
             [](const Request& r) {
               return Response{
                   201, "text/plain", r.body + "|" + r.headers.at("x-test"), {{"X-Reply", "yes"}}};
             },
             {}};
  echo.body.max_bytes = 1000;
  echo.body.precheck = [](const Request& head) -> std::optional<Response> {
    const auto it = head.headers.find("content-type");
    if (it != head.headers.end() && it->second == "application/bad") {
      return Response{415, "text/plain", "bad type\n", {}};
    }
    return std::nullopt;
  };
  return {
      {"/metrics",
       "GET",
       [](const Request&) {
         return Response{200, "text/plain", "m 1\n", {}};
       },
       {}},
      {"/big",
       "GET",
       [](const Request&) {
         return Response{200, "text/plain", BigBody(), {}};
       },
       {}},
      // A cached page handed out without a copy, and a fresh tail.
      {"/prefixed",
       "GET",
       [](const Request&) {
         static const auto page = std::make_shared<const std::string>(BigBody());
         return Response{200, "text/plain", "tail 1\n", {}, page};
       },
       {}},
      std::move(echo),
      {"/throws",
       "GET",
       [](const Request&) -> Response { throw std::runtime_error("handler bug"); },
       {}},
  };
}

std::unique_ptr<Server> StartServer(ServerOptions options, std::string address = "127.0.0.1:0") {
  static Logger logger{LogLevel::kError};
  options.listen_address = std::move(address);
  std::string error;
  auto server = Server::Start(options, TestRoutes(), logger, &error);
  if (!server) throw std::runtime_error(error);
  return server;
}

template <typename Predicate>
bool WaitFor(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer({});
    ASSERT_GT(server_->port(), 0);
  }
  std::unique_ptr<Server> server_;
};

// Before: the exception escaped into civetweb's worker and std::terminate ended the agent.
TEST_F(ServerTest, HandlerExceptionIs500AndTheServerKeepsServing) {
  const auto failed = Fetch(server_->port(), "GET /throws HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(failed.starts_with("HTTP/1.0 500")) << failed;
  const auto get = Fetch(server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.0 200")) << get;
}

TEST_F(ServerTest, CheckListenAddressRefusesNonsenseAndATakenPort) {
  std::string error;
  EXPECT_FALSE(CheckListenAddress("localhost", &error));
  EXPECT_NE(error.find("invalid --web.listen-address"), std::string::npos) << error;
  EXPECT_FALSE(CheckListenAddress("127.0.0.1:" + std::to_string(server_->port()), &error));
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  EXPECT_TRUE(CheckListenAddress("127.0.0.1:0", &error)) << error;
  EXPECT_FALSE(CheckListenAddress("::1:80", &error, "--receiver.listen-address"));
  EXPECT_NE(error.find("--receiver.listen-address"), std::string::npos) << error;
}

TEST_F(ServerTest, RoutesGetAndPost) {
  const auto get = Fetch(server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.ends_with("\r\n\r\nm 1\n")) << get;
  const auto post = Fetch(server_->port(),
                          "POST /echo HTTP/1.0\r\nX-Test: hdr\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(post.starts_with("HTTP/1.0 201")) << post;
  EXPECT_NE(post.find("X-Reply: yes"), std::string::npos) << post;
  EXPECT_TRUE(post.ends_with("hello|hdr")) << post;
  const auto chunked = Fetch(server_->port(),
                             "POST /echo HTTP/1.1\r\nConnection: close\r\nX-Test: c\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_TRUE(chunked.ends_with("abcde|c")) << chunked;
}

TEST_F(ServerTest, UnknownPathAndWrongMethod) {
  EXPECT_TRUE(Fetch(server_->port(), "GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
  const auto wrong = Fetch(server_->port(), "DELETE /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(wrong.starts_with("HTTP/1.0 405")) << wrong;
  EXPECT_NE(wrong.find("Allow: GET, HEAD"), std::string::npos) << wrong;
}

// The client declares a big body and sends none of it: each answer comes from the header alone
// (a server that read the body first would wait, and the 10 s receive timeout would fail this).
// Before: civetweb read every POST body (up to 64 MiB) before routing.
TEST_F(ServerTest, RefusesFromTheHeaderWithoutReadingTheBody) {
  struct Case {
    std::string request;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"POST /metrics HTTP/1.1\r\nContent-Length: 66060288\r\n\r\n", "405"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 66060288\r\n\r\n", "413"},
      {"POST /echo HTTP/1.1\r\nContent-Type: application/bad\r\nContent-Length: 10\r\n\r\n", "415"},
      {"POST /nope HTTP/1.1\r\nContent-Length: 66060288\r\n\r\n", "404"},
  };
  for (const Case& c : cases) {
    const UniqueFd fd = Connect(server_->port());
    Send(fd, c.request);
    const auto reply = ReadResponse(fd);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 " + c.status)) << c.request << " -> " << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  }
}

TEST_F(ServerTest, ChunkedBodyOverTheCapIs413) {
  const std::string chunk(600, 'x');
  const auto reply = Fetch(server_->port(),
                           "POST /echo HTTP/1.1\r\nX-Test: c\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "258\r\n" +
                               chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply.substr(0, 200);
}

TEST_F(ServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  const UniqueFd fd = Connect(server_->port());
  Send(fd, "POST /echo HTTP/1.1\r\nX-Test: e\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  const auto interim = ReadResponse(fd);
  EXPECT_TRUE(interim.starts_with("HTTP/1.1 100 Continue")) << interim;
  Send(fd, "ok");
  const auto reply = ReadResponse(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 201")) << reply;
  EXPECT_TRUE(reply.ends_with("ok|e")) << reply;
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const UniqueFd fd = Connect(server_->port());
  for (int i = 0; i < 3; ++i) {
    Send(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto reply = ReadResponse(fd);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << i << ": " << reply;
    EXPECT_TRUE(reply.ends_with("m 1\n")) << reply;
  }
}

TEST_F(ServerTest, HeadHasTheLengthAndNoBody) {
  const auto reply = Fetch(server_->port(), "HEAD /big HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.0 200")) << reply;
  EXPECT_NE(reply.find("Content-Length: " + std::to_string(BigBody().size())), std::string::npos)
      << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\n")) << reply;
}

// The prefix goes out from where it is, then the body: one Content-Length for both, keep-alive
// intact, HEAD without either, and no gzip of our own on top (the prefix is sent as it is).
TEST_F(ServerTest, SharedPrefixThenBody) {
  const std::string want = BigBody() + "tail 1\n";
  const UniqueFd fd = Connect(server_->port());
  for (int i = 0; i < 2; ++i) {
    Send(fd, "GET /prefixed HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    const auto reply = ReadResponse(fd);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << i << ": " << reply.substr(0, 200);
    EXPECT_NE(reply.find("Content-Length: " + std::to_string(want.size())), std::string::npos);
    EXPECT_EQ(reply.find("Content-Encoding"), std::string::npos);
    EXPECT_TRUE(reply.ends_with("\r\n\r\n" + want)) << i;
  }
  const auto head = Fetch(server_->port(), "HEAD /prefixed HTTP/1.0\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: " + std::to_string(want.size())), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head.substr(0, 300);
}

TEST_F(ServerTest, GzipWhenAccepted) {
  const auto zipped =
      Fetch(server_->port(), "GET /big HTTP/1.0\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
  const size_t end = zipped.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(zipped.find("Content-Encoding: gzip"), std::string::npos) << zipped.substr(0, end);
  const std::string body = zipped.substr(end + 4);
  EXPECT_LT(body.size(), BigBody().size() / 4);
  EXPECT_EQ(testing::Gunzip(body), BigBody());
  const auto plain =
      Fetch(server_->port(), "GET /big HTTP/1.0\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
  EXPECT_EQ(plain.find("Content-Encoding"), std::string::npos);
  EXPECT_TRUE(plain.ends_with(BigBody()));
}

// Before (civetweb, 4 workers): four silent connections and nothing else was answered.
TEST_F(ServerTest, IdleConnectionsDoNotStarveOthers) {
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(Connect(server_->port()));
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().connections_open == 200; }));
  const auto get = Fetch(server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.0 200")) << get;
}

TEST(ServerDeadlines, HeaderAndBodyAreCutOffAtTheirDeadlineHoweverSlowlyBytesArrive) {
  ServerOptions options;
  options.header_timeout = 400ms;
  options.body_timeout = 400ms;
  auto server = StartServer(options);
  // One byte every 100 ms: never silent for long, so only a fixed deadline stops it.
  auto trickle = [](const UniqueFd& fd, const std::string& text) {
    for (char c : text) {
      if (::send(fd.get(), &c, 1, MSG_NOSIGNAL) != 1) return;
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) return;  // the server answered or closed
    }
  };
  {
    const UniqueFd fd = Connect(server->port());
    trickle(fd, "GET /metrics HTTP/1.1\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n");
    EXPECT_TRUE(ClosedByServer(fd));
    // The socket closes as the deadline fires; the count follows on the I/O thread.
    EXPECT_TRUE(WaitFor([&] { return server->Stats().timeouts_header == 1; }));
  }
  {
    const UniqueFd fd = Connect(server->port());
    Send(fd, "POST /echo HTTP/1.1\r\nX-Test: s\r\nContent-Length: 200\r\n\r\n");
    trickle(fd, std::string(200, 'b'));
    EXPECT_TRUE(ClosedByServer(fd));
    EXPECT_TRUE(WaitFor([&] { return server->Stats().timeouts_body == 1; }));
  }
  const auto get = Fetch(server->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.0 200")) << get;
}

// A kept-alive connection may sit silent for the idle timeout, but its next header gets only the
// header deadline once it starts.
TEST(ServerDeadlines, KeepAliveNextHeaderHasTheHeaderDeadlineNotTheIdleOne) {
  ServerOptions options;
  options.header_timeout = 400ms;
  options.idle_timeout = 60s;
  auto server = StartServer(options);
  const UniqueFd fd = Connect(server->port());
  Send(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(ReadResponse(fd).ends_with("m 1\n"));
  const std::string next = "GET /metrics HTTP/1.1\r\nX-Slow: " + std::string(100, 'a');
  for (char c : next) {
    if (::send(fd.get(), &c, 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) break;  // closed by the server
  }
  EXPECT_TRUE(ClosedByServer(fd));
  EXPECT_TRUE(WaitFor([&] { return server->Stats().timeouts_header == 1; }));
}

TEST(ServerLimits, PerClientConnectionLimit) {
  ServerOptions options;
  options.max_connections_per_client = 3;
  auto server = StartServer(options);
  std::vector<UniqueFd> held;
  for (int i = 0; i < 3; ++i) held.push_back(Connect(server->port()));
  ASSERT_TRUE(WaitFor([&] { return server->Stats().connections_open == 3; }));
  const UniqueFd refused = Connect(server->port());
  EXPECT_TRUE(ClosedByServer(refused));
  EXPECT_EQ(server->Stats().refused_max_connections_per_client, 1u);
  held.pop_back();
  ASSERT_TRUE(WaitFor([&] { return server->Stats().connections_open == 2; }));
  const auto get = Fetch(server->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.0 200")) << get;
}

TEST(ServerLimits, GlobalConnectionLimit) {
  ServerOptions options;
  options.max_connections = 2;
  auto server = StartServer(options);
  std::vector<UniqueFd> held;
  for (int i = 0; i < 2; ++i) held.push_back(Connect(server->port()));
  ASSERT_TRUE(WaitFor([&] { return server->Stats().connections_open == 2; }));
  const UniqueFd refused = Connect(server->port());
  EXPECT_TRUE(ClosedByServer(refused));
  EXPECT_EQ(server->Stats().refused_max_connections, 1u);
}

TEST(ServerLimits, BodiesInFlightBeyondTheBudgetGet503Unread) {
  ServerOptions options;
  options.max_body_bytes_in_flight = 1000;
  auto server = StartServer(options);
  const UniqueFd first = Connect(server->port());
  Send(first, "POST /echo HTTP/1.1\r\nX-Test: a\r\nContent-Length: 600\r\n\r\n");
  // The first body is being read (600 bytes reserved); a second 600 would exceed 1000.
  ASSERT_TRUE(WaitFor([&] { return server->Stats().body_bytes_in_flight == 600; }));
  const std::string second =
      Fetch(server->port(), "POST /echo HTTP/1.1\r\nX-Test: b\r\nContent-Length: 600\r\n\r\n");
  EXPECT_TRUE(second.starts_with("HTTP/1.1 503")) << second;
  EXPECT_NE(second.find("Retry-After: 1"), std::string::npos) << second;
  Send(first, std::string(600, 'x'));
  const auto reply = ReadResponse(first);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 201")) << reply;
  EXPECT_GE(server->Stats().refused_body_budget, 1u);
}

bool HaveIpv6Loopback() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  return fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

TEST(ServerIpv6, LoopbackAndDualStack) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "SKIPPED: this kernel has no IPv6 loopback";
  auto v6 = StartServer({}, "[::1]:0");
  EXPECT_TRUE(Fetch(v6->port(), "GET /metrics HTTP/1.0\r\n\r\n", AF_INET6).ends_with("m 1\n"));
  // ":port" is every address: one dual-stack socket answers IPv4 and IPv6.
  auto any = StartServer({}, ":0");
  EXPECT_TRUE(Fetch(any->port(), "GET /metrics HTTP/1.0\r\n\r\n", AF_INET6).ends_with("m 1\n"));
  EXPECT_TRUE(Fetch(any->port(), "GET /metrics HTTP/1.0\r\n\r\n", AF_INET).ends_with("m 1\n"));
}

TEST(ServerStart, TakenPortIsAClearError) {
  auto first = StartServer({});
  ServerOptions options;
  options.listen_address = "127.0.0.1:" + std::to_string(first->port());
  Logger logger(LogLevel::kError);
  std::string error;
  EXPECT_EQ(Server::Start(options, {}, logger, &error), nullptr);
  EXPECT_NE(error.find(options.listen_address), std::string::npos) << error;
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
}

TEST(ListenAddress, Forms) {
  EXPECT_EQ(ParseListenAddress(":9560")->port, 9560);
  EXPECT_EQ(ParseListenAddress(":9560")->host, "");
  EXPECT_EQ(ParseListenAddress("[::1]:80")->host, "::1");
  EXPECT_EQ(ParseListenAddress("[::]:80")->host, "::");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:0")->port, 0);
  EXPECT_FALSE(ParseListenAddress("9560"));
  EXPECT_FALSE(ParseListenAddress(":99999"));
  EXPECT_FALSE(ParseListenAddress("host:port"));
  EXPECT_FALSE(ParseListenAddress("::1:80"));
}

}  // namespace
}  // namespace podstat::http
