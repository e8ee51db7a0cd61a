#include "podstat/metadata/docker_client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::metadata {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Ids of the two containers in the captured fixture (see tests/fixtures/docker/README.md).
constexpr char kK8sId[] = "5ae302e75c6fc8727710cc5280547d5803c08e3f917368f4c3445e34fceeade8";
constexpr char kPlainId[] = "6d6fefc743f5a96aa9ece7e94f978a9325ceaf67b3796de75a0c5314c5a98465";

// The header block dockerd 20.10.24 sent for GET /containers/json with Connection: close,
// captured verbatim; only Content-Length is filled in per test.
constexpr char kDockerdHeaders[] =
    "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
    "Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n"
    "Date: Mon, 23 Nov 2026 10:54:10 GMT\r\n";

std::string Fixture() {
  const std::string path = std::string(PODSTAT_FIXTURES_DIR) + "/docker/containers_json.json";
  std::optional<std::string> text = ReadFile(path);
  EXPECT_TRUE(text) << path;
  return text.value_or("");
}

std::string WithContentLength(const std::string& body) {
  return std::string(kDockerdHeaders) + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// Chunked framing the way Go's net/http produces it for large bodies, plus a chunk extension on
// the first chunk to exercise that part of the grammar.
std::string Chunked(const std::string& body, size_t chunk_size) {
  std::string raw =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  char hex[32];
  for (size_t pos = 0; pos < body.size(); pos += chunk_size) {
    const size_t n = std::min(chunk_size, body.size() - pos);
    snprintf(hex, sizeof(hex), "%zx", n);
    raw += hex;
    if (pos == 0) raw += ";podstat=test";
    raw += "\r\n" + body.substr(pos, n) + "\r\n";
  }
  return raw + "0\r\n\r\n";
}

// ---------------------------------------------------------------------------------------------
// ParseContainerList

TEST(ParseContainerListTest, RealDockerdBody) {
  std::string error;
  const auto containers = ParseContainerList(Fixture(), &error);
  ASSERT_TRUE(containers) << error;
  ASSERT_EQ(containers->size(), 2u);

  const DockerContainer& k8s = (*containers)[0];
  EXPECT_EQ(k8s.id, kK8sId);
  EXPECT_EQ(k8s.info.name, "k8s_web_web-0_shop_1234");
  EXPECT_EQ(k8s.info.image, "podstat-busybox:test");
  EXPECT_EQ(k8s.info.pod, "web-0");
  EXPECT_EQ(k8s.info.namespace_, "shop");
  EXPECT_EQ(k8s.info.container, "web");
  EXPECT_EQ(k8s.info.pod_uid, "0e5f6a5c-1d2b-4c3d-9e8f-0123456789ab");
  EXPECT_EQ(k8s.info.labels.size(), 4u);
  EXPECT_EQ(k8s.info.labels.at("io.kubernetes.pod.namespace"), "shop");

  const DockerContainer& plain = (*containers)[1];
  ContainerInfo expected;
  expected.name = "plain";
  expected.image = "podstat-busybox:test";
  EXPECT_EQ(plain.id, kPlainId);
  EXPECT_EQ(plain.info, expected);
}

TEST(ParseContainerListTest, PodSandboxIsKeptAsGiven) {
  const std::string json = R"([{
    "Id": "aaaa",
    "Names": ["/k8s_POD_web-0_shop_0e5f6a5c_0"],
    "Image": "registry.k8s.io/pause:3.9",
    "Labels": {
      "io.kubernetes.docker.type": "podsandbox",
      "io.kubernetes.container.name": "POD",
      "io.kubernetes.pod.name": "web-0",
      "io.kubernetes.pod.namespace": "shop",
      "io.kubernetes.pod.uid": "0e5f6a5c"
    }
  }])";
  std::string error;
  const auto containers = ParseContainerList(json, &error);
  ASSERT_TRUE(containers) << error;
  ASSERT_EQ(containers->size(), 1u);
  const ContainerInfo& info = (*containers)[0].info;
  EXPECT_EQ(info.name, "k8s_POD_web-0_shop_0e5f6a5c_0");
  EXPECT_EQ(info.container, "POD");
  EXPECT_EQ(info.pod, "web-0");
  EXPECT_EQ(info.labels.at("io.kubernetes.docker.type"), "podsandbox");
}

// Docker's names, images and labels are valid UTF-8 by the time they are label values: Go's
// encoding/json writes an invalid byte as U+FFFD, which is kept; JSON with a raw invalid byte (no
// dockerd writes it) is refused as a whole by nlohmann::json, so none can reach a label.
TEST(ParseContainerListTest, NamesAreValidUtf8) {
  const std::string valid =
      "[{\"Id\": \"aaaa\", \"Names\": [\"/x-\\ufffd\"], \"Image\": \"img\xef\xbf\xbd:1\",\n"
      "  \"Labels\": {\"io.kubernetes.pod.name\": \"p\\\"\\\\\\n\xc3\xbc\"}}]";
  std::string error;
  const auto containers = ParseContainerList(valid, &error);
  ASSERT_TRUE(containers) << error;
  ASSERT_EQ(containers->size(), 1u);
  EXPECT_EQ((*containers)[0].info.name, "x-\xef\xbf\xbd");
  EXPECT_EQ((*containers)[0].info.image, "img\xef\xbf\xbd:1");
  EXPECT_EQ((*containers)[0].info.pod, "p\"\\\n\xc3\xbc");
  for (const std::string raw : {"[{\"Id\": \"aaaa\", \"Names\": [\"/x-\xff\"]}]",
                                "[{\"Id\": \"aaaa\", \"Image\": \"\\udcff\"}]"}) {
    EXPECT_FALSE(ParseContainerList(raw, &error)) << raw;
  }
}

TEST(ParseContainerListTest, EmptyList) {
  std::string error;
  const auto containers = ParseContainerList(" [ ]\n", &error);
  ASSERT_TRUE(containers) << error;
  EXPECT_TRUE(containers->empty());
}

TEST(ParseContainerListTest, MalformedJsonIsAnError) {
  const std::string cases[] = {
      "",
      "   ",
      "[",
      "[{\"Id\":",
      "not json",
      "[1,2",
      "[{\"Id\": \"a\"}] trailing",
      "[\"\xff\xfe\"]",  // invalid UTF-8
      "[{'Id': 'a'}]",
  };
  for (const std::string& json : cases) {
    std::string error;
    EXPECT_FALSE(ParseContainerList(json, &error)) << json;
    EXPECT_NE(error.find("malformed JSON"), std::string::npos) << json << " -> " << error;
  }
}

TEST(ParseContainerListTest, TopLevelNotAnArrayIsAnError) {
  for (const char* json : {R"({"message": "page not found"})", "null", "42", R"("x")"}) {
    std::string error;
    EXPECT_FALSE(ParseContainerList(json, &error)) << json;
    EXPECT_NE(error.find("expected an array"), std::string::npos) << error;
  }
}

TEST(ParseContainerListTest, WrongTypesAreSkippedNotFatal) {
  const std::string json = R"([
    {"Names": ["/no-id"], "Image": "x"},
    {"Id": 123, "Names": ["/numeric-id"]},
    {"Id": "", "Names": ["/empty-id"]},
    {"Id": null},
    null, 5, "string", [1, 2], true,
    {"Id": "names-string", "Names": "/x", "Image": 5, "Labels": ["a", "b"]},
    {"Id": "names-number", "Names": [42, "/second"], "Labels": null},
    {"Id": "names-empty", "Names": [], "Labels": {}},
    {"Id": "labels-mixed", "Names": ["/"], "Labels": {
      "a": 1, "b": "x", "c": null, "d": {"e": "f"}, "g": ["h"], "i": true,
      "io.kubernetes.pod.name": 7, "io.kubernetes.pod.namespace": "ns"}},
    {"Id": "no-slash", "Names": ["bare", "/other"], "Image": "img", "Labels": "k=v"}
  ])";
  std::string error;
  const auto containers = ParseContainerList(json, &error);
  ASSERT_TRUE(containers) << error;
  ASSERT_EQ(containers->size(), 5u);

  EXPECT_EQ((*containers)[0].id, "names-string");
  EXPECT_EQ((*containers)[0].info, ContainerInfo{});

  EXPECT_EQ((*containers)[1].id, "names-number");
  EXPECT_EQ((*containers)[1].info.name, "");  // only the first name counts, and it is no string

  EXPECT_EQ((*containers)[2].id, "names-empty");
  EXPECT_EQ((*containers)[2].info, ContainerInfo{});

  const ContainerInfo& mixed = (*containers)[3].info;
  EXPECT_EQ((*containers)[3].id, "labels-mixed");
  EXPECT_EQ(mixed.name, "");
  const std::map<std::string, std::string> expected_labels = {
      {"b", "x"}, {"io.kubernetes.pod.namespace", "ns"}};
  EXPECT_EQ(mixed.labels, expected_labels);
  EXPECT_EQ(mixed.pod, "");
  EXPECT_EQ(mixed.namespace_, "ns");

  EXPECT_EQ((*containers)[4].id, "no-slash");
  EXPECT_EQ((*containers)[4].info.name, "bare");
  EXPECT_EQ((*containers)[4].info.image, "img");
  EXPECT_TRUE((*containers)[4].info.labels.empty());
}

TEST(ParseContainerListTest, DeepNestingDoesNotOverflowTheStack) {
  const size_t depth = 200000;
  const std::string json = "[" + std::string(depth, '[') + std::string(depth, ']') + "]";
  std::string error;
  const auto containers = ParseContainerList(json, &error);
  ASSERT_TRUE(containers) << error;
  EXPECT_TRUE(containers->empty());
}

TEST(ParseContainerListTest, EveryPrefixOfTheFixtureIsHandled) {
  const std::string body = Fixture();
  const auto full = ParseContainerList(body, nullptr);
  ASSERT_TRUE(full);
  for (size_t length = 0; length < body.size(); ++length) {
    const auto partial = ParseContainerList(std::string_view(body).substr(0, length), nullptr);
    // The only valid proper prefix drops the final newline dockerd's encoder appends.
    if (partial) {
      ASSERT_EQ(partial->size(), full->size()) << length;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DockerClient against an in-process server on a unix socket.

// Listens on <tempdir>/docker.sock and serves one connection on its own thread: reads the request
// head, then hands the connection to the handler. The handler also gets a stop fd that becomes
// readable when the test is over, so a server that "hangs" can still be joined.
class UnixServer {
 public:
  using Handler = std::function<void(int client, int stop)>;

  explicit UnixServer(Handler handler, bool accept_connection = true) {
    char dir_template[] = "/tmp/podstat-docker-test-XXXXXX";
    const char* created = ::mkdtemp(dir_template);
    EXPECT_NE(created, nullptr) << ErrnoMessage(errno);
    if (created == nullptr) return;
    dir_ = created;
    path_ = dir_ + "/docker.sock";
    int pipe_fds[2];
    EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    stop_read_.Reset(pipe_fds[0]);
    stop_write_.Reset(pipe_fds[1]);
    listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::copy(path_.begin(), path_.end(), address.sun_path);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
        << ErrnoMessage(errno);
    EXPECT_EQ(::listen(listener_.get(), 4), 0);
    if (accept_connection) {
      thread_ = std::thread([this, handler = std::move(handler)] { Serve(handler); });
    }
  }

  ~UnixServer() {
    Stop();
    listener_.Reset();
    if (!path_.empty()) ::unlink(path_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  UnixServer(const UnixServer&) = delete;
  UnixServer& operator=(const UnixServer&) = delete;

  const std::string& path() const { return path_; }

  // Joins the server thread; request() is valid afterwards.
  void Stop() {
    if (stop_write_) {
      const char byte = 1;
      EXPECT_EQ(::write(stop_write_.get(), &byte, 1), 1);
      stop_write_.Reset();
    }
    if (thread_.joinable()) thread_.join();
  }

  const std::string& request() const { return request_; }

 private:
  // Waits until fd is readable or the test is over. true when fd is readable.
  bool WaitReadable(int fd) const {
    pollfd fds[2] = {{.fd = fd, .events = POLLIN, .revents = 0},
                     {.fd = stop_read_.get(), .events = POLLIN, .revents = 0}};
    while (::poll(fds, 2, -1) < 0) {
      if (errno != EINTR) return false;
    }
    return fds[1].revents == 0;
  }

  void Serve(const Handler& handler) {
    if (!WaitReadable(listener_.get())) return;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return;
    char buffer[4096];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      if (!WaitReadable(client.get())) return;
      const ssize_t n = ::recv(client.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      request_.append(buffer, static_cast<size_t>(n));
    }
    handler(client.get(), stop_read_.get());
  }

  std::string dir_;
  std::string path_;
  UniqueFd listener_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  std::string request_;
  std::thread thread_;
};

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Sends a reply in pieces with pauses in between, so the client sees several partial reads.
UnixServer::Handler ReplyInPieces(std::string raw, size_t piece) {
  return [raw = std::move(raw), piece](int client, int) {
    for (size_t pos = 0; pos < raw.size(); pos += piece) {
      if (!SendAll(client, std::string_view(raw).substr(pos, piece))) return;
      std::this_thread::sleep_for(milliseconds(1));
    }
  };
}

UnixServer::Handler Reply(std::string raw) {
  return [raw = std::move(raw)](int client, int) { SendAll(client, raw); };
}

// Holds the connection open without a byte until the test ends.
void Hang(int, int stop) {
  pollfd pfd{.fd = stop, .events = POLLIN, .revents = 0};
  while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
}

std::string NonexistentPath() {
  return "/tmp/podstat-docker-test-does-not-exist-" + std::to_string(::getpid()) + "/docker.sock";
}

TEST(DockerClientTest, ListsContainersFromChunkedReply) {
  const std::string body = Fixture();
  UnixServer server(ReplyInPieces(Chunked(body, 256), 300));
  DockerClient client(server.path(), milliseconds(5000));
  std::string error;
  const auto containers = client.ListContainers(&error);
  server.Stop();
  ASSERT_TRUE(containers) << error;
  ASSERT_EQ(containers->size(), 2u);
  EXPECT_EQ((*containers)[0].id, kK8sId);
  EXPECT_EQ((*containers)[0].info.pod, "web-0");
  EXPECT_EQ((*containers)[1].id, kPlainId);
  EXPECT_EQ((*containers)[1].info.name, "plain");
  EXPECT_EQ(server.request(),
            "GET /containers/json HTTP/1.1\r\nHost: docker\r\nUser-Agent: podstat\r\n"
            "Connection: close\r\n\r\n");
}

TEST(DockerClientTest, GetReturnsStatusAndBody) {
  UnixServer server(Reply(WithContentLength("{\"ApiVersion\":\"1.41\"}")));
  DockerClient client(server.path(), milliseconds(5000));
  std::string error;
  const auto reply = client.Get("/version", &error);
  server.Stop();
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "{\"ApiVersion\":\"1.41\"}");
  EXPECT_EQ(server.request().rfind("GET /version HTTP/1.1\r\n", 0), 0u) << server.request();
}

TEST(DockerClientTest, ServerThatNeverRepliesTimesOut) {
  UnixServer server(Hang);
  DockerClient client(server.path(), milliseconds(200));
  std::string error;
  const Clock::time_point start = Clock::now();
  const auto containers = client.ListContainers(&error);
  const auto elapsed = Clock::now() - start;
  EXPECT_FALSE(containers);
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_NE(error.find(server.path()), std::string::npos) << error;
  EXPECT_GE(elapsed, milliseconds(190));
  EXPECT_LT(elapsed, milliseconds(1000));
}

TEST(DockerClientTest, ServerThatNeverAcceptsTimesOut) {
  UnixServer server(Hang, /*accept_connection=*/false);
  DockerClient client(server.path(), milliseconds(200));
  std::string error;
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(client.ListContainers(&error));
  const auto elapsed = Clock::now() - start;
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_LT(elapsed, milliseconds(1000));
}

// The deadline covers the whole request, not each read: a daemon dripping a byte every 20 ms
// must not keep us waiting forever.
TEST(DockerClientTest, TricklingServerHitsTheOverallDeadline) {
  UnixServer server([](int client, int stop) {
    const std::string raw = WithContentLength(std::string(1000, 'x'));
    pollfd pfd{.fd = stop, .events = POLLIN, .revents = 0};
    for (char c : raw) {
      if (!SendAll(client, std::string_view(&c, 1))) return;
      if (::poll(&pfd, 1, 20) != 0) return;
    }
  });
  DockerClient client(server.path(), milliseconds(200));
  std::string error;
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(client.Get("/containers/json", &error));
  const auto elapsed = Clock::now() - start;
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_GE(elapsed, milliseconds(190));
  EXPECT_LT(elapsed, milliseconds(1000));
}

TEST(DockerClientTest, NonexistentSocketFailsFastWithThePath) {
  const std::string path = NonexistentPath();
  DockerClient client(path, milliseconds(5000));
  std::string error;
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(client.ListContainers(&error));
  EXPECT_LT(Clock::now() - start, milliseconds(100));
  EXPECT_EQ(error, "docker socket " + path + ": No such file or directory");
}

TEST(DockerClientTest, SocketWithoutListenerIsRefused) {
  char dir_template[] = "/tmp/podstat-docker-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/docker.sock";
  {
    // Bound but never listening: what a crashed daemon leaves behind.
    UniqueFd bound(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::copy(path.begin(), path.end(), address.sun_path);
    ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    DockerClient client(path, milliseconds(5000));
    std::string error;
    EXPECT_FALSE(client.ListContainers(&error));
    EXPECT_EQ(error, "docker socket " + path + ": Connection refused");
  }
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

TEST(DockerClientTest, OverlongSocketPathIsAnError) {
  DockerClient client("/tmp/" + std::string(200, 'a'), milliseconds(100));
  std::string error;
  EXPECT_FALSE(client.Get("/", &error));
  EXPECT_NE(error.find("longer than"), std::string::npos) << error;
}

TEST(DockerClientTest, NonOkStatusCarriesStatusAndBodyExcerpt) {
  const std::string body = "{\"message\":\"boom\"}" + std::string(400, 'z') + "\n";
  UnixServer server(Reply(
      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body));
  DockerClient client(server.path(), milliseconds(5000));
  std::string error;
  EXPECT_FALSE(client.ListContainers(&error));
  EXPECT_NE(error.find("HTTP 500"), std::string::npos) << error;
  EXPECT_NE(error.find("boom"), std::string::npos) << error;
  EXPECT_NE(error.find(server.path()), std::string::npos) << error;
  // The excerpt is 200 bytes of the body. Count its z's without the socket path, whose random
  // temp-file suffix may hold a 'z' of its own (which made this test flaky).
  std::string excerpt = error;
  for (size_t at; (at = excerpt.find(server.path())) != std::string::npos;) {
    excerpt.erase(at, server.path().size());
  }
  EXPECT_EQ(static_cast<size_t>(std::count(excerpt.begin(), excerpt.end(), 'z')), 200u - 18u);
}

TEST(DockerClientTest, BadJsonAndBadHttpAreErrors) {
  {
    UnixServer server(Reply(WithContentLength("<html>not json</html>")));
    std::string error;
    EXPECT_FALSE(DockerClient(server.path(), milliseconds(5000)).ListContainers(&error));
    EXPECT_NE(error.find("malformed JSON"), std::string::npos) << error;
  }
  {
    UnixServer server(Reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[]"));
    std::string error;
    EXPECT_FALSE(DockerClient(server.path(), milliseconds(5000)).ListContainers(&error));
    EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  }
}

TEST(DockerClientTest, RepliesOver64MiBAreRefused) {
  UnixServer server([](int client, int) {
    if (!SendAll(client, "HTTP/1.1 200 OK\r\n\r\n")) return;
    const std::string block(1 << 20, ' ');
    for (int i = 0; i < 80; ++i) {
      if (!SendAll(client, block)) return;  // the client hangs up once it has seen enough
    }
  });
  DockerClient client(server.path(), milliseconds(10000));
  std::string error;
  EXPECT_FALSE(client.Get("/containers/json", &error));
  EXPECT_NE(error.find("64 MiB"), std::string::npos) << error;
}

// What the hand-written HTTP parser was tested on, now on the wire through libcurl: the framings a
// daemon may use all give the same status and body.
TEST(DockerClientTest, EveryValidFramingGivesStatusAndBody) {
  struct Case {
    const char* raw;
    int status;
    const char* body;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "4;name=value\r\nWiki\r\n5 ; quoted=\"a;b\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
       "0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n",
       200, "Wikipedia in\r\n\r\nchunks."},
      {"HTTP/1.1 200 OK\r\ncontent-LENGTH:2\r\n\r\nhi", 200, "hi"},
      {"HTTP/1.1 200 OK\r\nTRANSFER-ENCODING:  Chunked \r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 200,
       "0123456789"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", 200, "abc"},
      {"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\nno such thing", 404, "no such thing"},
      {"HTTP/1.1 200\nContent-Length: 2\n\nok", 200, "ok"},
      {"HTTP/1.1 204 No Content\r\n\r\n", 204, ""},
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok"},
  };
  for (const Case& c : cases) {
    UnixServer server(Reply(c.raw));
    std::string error;
    const auto reply = DockerClient(server.path(), milliseconds(5000)).Get("/x", &error);
    server.Stop();
    ASSERT_TRUE(reply) << c.raw << " -> " << error;
    EXPECT_EQ(reply->status, c.status) << c.raw;
    EXPECT_EQ(reply->body, c.body) << c.raw;
  }
}

// A reply cut off anywhere (the daemon died mid-reply) is an error, never a shorter container list
// taken for the whole. The one lenient cut: a chunked reply missing only the CRLF after its last
// chunk carries the whole body, and libcurl takes it.
TEST(DockerClientTest, EveryTruncatedReplyIsAnError) {
  const std::string body = Fixture().substr(0, 300);
  struct Framing {
    std::string raw;
    size_t whole_from;  // the shortest prefix that holds the whole body
  };
  const std::string chunked = Chunked(body, 64);
  for (const Framing& framing : {Framing{WithContentLength(body), WithContentLength(body).size()},
                                 Framing{chunked, chunked.size() - 2}}) {
    const std::string& raw = framing.raw;
    // Every cut inside the body and its framing, and a few inside the head.
    for (size_t length = 0; length < raw.size(); length += length < 40 ? 7 : 1) {
      UnixServer server(Reply(raw.substr(0, length)));
      std::string error;
      const auto reply =
          DockerClient(server.path(), milliseconds(5000)).Get("/containers/json", &error);
      server.Stop();
      if (reply && length >= framing.whole_from) {
        EXPECT_EQ(reply->body, body);
        continue;
      }
      ASSERT_FALSE(reply) << "prefix of " << length << " bytes accepted: " << raw.substr(0, length);
      EXPECT_NE(error.find("GET /containers/json: "), std::string::npos) << length << ": " << error;
    }
  }
}

// A daemon that accepts the connection and then says nothing: the request ends at the deadline,
// and the error says where it waited.
TEST(DockerClientTest, SilentDaemonTimesOutWaitingForTheReply) {
  UnixServer server(Hang);
  DockerClient client(server.path(), milliseconds(300));
  std::string error;
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(client.Get("/containers/json", &error));
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(error,
            "docker socket " + server.path() + ": timed out after 300 ms waiting for the reply");
  EXPECT_GE(elapsed, milliseconds(290));
  EXPECT_LT(elapsed, milliseconds(1000));
}

// A missing directory, not just a missing socket file: still the bare reason, at once.
TEST(DockerClientTest, SocketInMissingDirectoryFailsFast) {
  const std::string path = NonexistentPath();
  DockerClient client(path, milliseconds(5000));
  std::string error;
  const Clock::time_point start = Clock::now();
  EXPECT_FALSE(client.Get("/_ping", &error));
  EXPECT_LT(Clock::now() - start, milliseconds(100));
  EXPECT_EQ(error, "docker socket " + path + ": No such file or directory");
}

// Streams `header` and then up to 1 GiB of `block` until the client hangs up; *sent counts the
// body bytes the kernel took, which bounds what the client can have buffered.
UnixServer::Handler Flood(std::string header, std::string block, std::atomic<uint64_t>* sent) {
  return [header = std::move(header), block = std::move(block), sent](int client, int) {
    if (!SendAll(client, header)) return;
    for (uint64_t total = 0; total < (uint64_t{1} << 30); total += block.size()) {
      if (!SendAll(client, block)) return;
      sent->fetch_add(block.size());
    }
  };
}

// A declared Content-Length over the cap is refused from the headers, before the body is read.
TEST(DockerClientTest, DeclaredLengthOverTheCapIsRefusedBeforeTheBody) {
  std::atomic<uint64_t> sent{0};
  UnixServer server(Flood("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
                          std::string(1 << 16, ' '), &sent));
  std::string error;
  EXPECT_FALSE(DockerClient(server.path(), milliseconds(10000)).Get("/containers/json", &error));
  server.Stop();
  EXPECT_EQ(error, "docker socket " + server.path() +
                       ": reply to GET /containers/json larger "
                       "than 64 MiB, refused");
  // What the socket buffers took before the client hung up, nowhere near the cap.
  EXPECT_LT(sent.load(), uint64_t{8} << 20);
}

// A chunked body declares no size: the cap is counted as it arrives, and the client stops reading
// once it is crossed, so memory stays bounded whatever the daemon sends.
TEST(DockerClientTest, ChunkedBodyOverTheCapStopsAtTheCap) {
  std::atomic<uint64_t> sent{0};
  std::string chunk = "100000\r\n" + std::string(1 << 20, '[') + "\r\n";
  UnixServer server(
      Flood("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", std::move(chunk), &sent));
  std::string error;
  EXPECT_FALSE(DockerClient(server.path(), milliseconds(10000)).Get("/containers/json", &error));
  server.Stop();
  EXPECT_NE(error.find("larger than 64 MiB, refused"), std::string::npos) << error;
  EXPECT_LT(sent.load(), uint64_t{72} << 20);
}

// A proxy in the agent's environment (set for remote_write, say) must not capture the daemon's
// requests: the socket is local, whatever http_proxy says. libcurl 7.88 already skips proxies for
// a unix socket; the client's CURLOPT_NOPROXY "*" keeps that true should a later libcurl differ.
TEST(DockerClientTest, ProxyEnvironmentIsIgnored) {
  const std::string body = "{\"ApiVersion\":\"1.41\"}";
  UnixServer server(Reply(WithContentLength(body)));
  for (const char* name : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) {
    ASSERT_EQ(::setenv(name, "http://127.0.0.1:9", 1), 0);
  }
  std::string error;
  const auto reply = DockerClient(server.path(), milliseconds(5000)).Get("/version", &error);
  for (const char* name : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) ::unsetenv(name);
  server.Stop();
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->body, body);
  EXPECT_EQ(server.request().rfind("GET /version HTTP/1.1\r\n", 0), 0u) << server.request();
}

}  // namespace
}  // namespace podstat::metadata
