#include "podstat/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace podstat::http {
namespace {

// A plain HTTP/1.0 request over a TCP socket: status line and body.
std::string Fetch(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, request.data(), request.size(), 0);
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0)
    reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Route> routes = {
        {"/metrics", "GET",
         [](const Request&) {
           return Response{200, "text/plain", "m 1\n", {}};
         }},
        {"/echo", "POST",
         [](const Request& r) {
           return Response{
               201, "text/plain", r.body + "|" + r.headers.at("x-test"), {{"X-Reply", "yes"}}};
         }},
        {"/throws", "GET",
         [](const Request&) -> Response { throw std::runtime_error("handler bug"); }},
    };
    std::string error;
    server_ = Server::Start("127.0.0.1:0", std::move(routes), logger_, &error);
    ASSERT_TRUE(server_) << error;
    ASSERT_GT(server_->port(), 0);
  }
  Logger logger_{LogLevel::kError};
  std::unique_ptr<Server> server_;
};

// Before: the exception escaped into civetweb's worker and std::terminate ended the agent.
TEST_F(ServerTest, HandlerExceptionIs500AndTheServerKeepsServing) {
  const auto failed = Fetch(server_->port(), "GET /throws HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(failed.starts_with("HTTP/1.1 500")) << failed;
  const auto again = Fetch(server_->port(), "GET /throws HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(again.starts_with("HTTP/1.1 500")) << again;
  const auto get = Fetch(server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.1 200")) << get;
}

TEST_F(ServerTest, CheckListenAddressRefusesNonsenseAndATakenPort) {
  std::string error;
  EXPECT_FALSE(CheckListenAddress("localhost", &error));
  EXPECT_NE(error.find("invalid --web.listen-address"), std::string::npos) << error;
  EXPECT_FALSE(CheckListenAddress("127.0.0.1:" + std::to_string(server_->port()), &error));
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  EXPECT_TRUE(CheckListenAddress("127.0.0.1:0", &error)) << error;
}

TEST_F(ServerTest, RoutesGetAndPost) {
  const auto get = Fetch(server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(get.starts_with("HTTP/1.1 200")) << get;
  EXPECT_TRUE(get.ends_with("\r\n\r\nm 1\n")) << get;
  const auto post = Fetch(server_->port(),
                          "POST /echo HTTP/1.0\r\nX-Test: hdr\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 201")) << post;
  EXPECT_NE(post.find("X-Reply: yes"), std::string::npos) << post;
  EXPECT_TRUE(post.ends_with("hello|hdr")) << post;
}

TEST_F(ServerTest, UnknownPathAndWrongMethod) {
  EXPECT_TRUE(Fetch(server_->port(), "GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(Fetch(server_->port(), "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
                  .starts_with("HTTP/1.1 405"));
}

TEST_F(ServerTest, TakenPortIsAClearError) {
  Logger logger(LogLevel::kError);
  std::string error;
  const std::string address = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(Server::Start(address, {}, logger, &error), nullptr);
  EXPECT_NE(error.find(address), std::string::npos) << error;
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
}

TEST(ListenAddress, Forms) {
  EXPECT_EQ(ParseListenAddress(":9560")->port, 9560);
  EXPECT_EQ(ParseListenAddress(":9560")->host, "");
  EXPECT_EQ(ParseListenAddress("[::1]:80")->host, "::1");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:0")->port, 0);
  EXPECT_FALSE(ParseListenAddress("9560"));
  EXPECT_FALSE(ParseListenAddress(":99999"));
  EXPECT_FALSE(ParseListenAddress("host:port"));
}

}  // namespace
}  // namespace podstat::http
