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
// ParseHttpReply

TEST(ParseHttpReplyTest, ContentLengthWithRealDockerdHeaders) {
  const std::string body = Fixture();
  std::string error;
  const std::optional<HttpReply> reply = ParseHttpReply(WithContentLength(body), &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, body);
}

TEST(ParseHttpReplyTest, ContentLengthIgnoresBytesAfterTheBody) {
  std::string error;
  const auto reply = ParseHttpReply("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->body, "abc");
}

TEST(ParseHttpReplyTest, ChunkedMultiChunkWithExtensionAndTrailers) {
  const std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;name=value\r\nWiki\r\n"
      "5 ; quoted=\"a;b\"\r\npedia\r\n"
      "E\r\n in\r\n\r\nchunks.\r\n"
      "0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n";
  std::string error;
  const auto reply = ParseHttpReply(raw, &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "Wikipedia in\r\n\r\nchunks.");
}

TEST(ParseHttpReplyTest, ChunkedFixtureRoundTrips) {
  const std::string body = Fixture();
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{100}, size_t{4096}}) {
    std::string error;
    const auto reply = ParseHttpReply(Chunked(body, chunk), &error);
    ASSERT_TRUE(reply) << "chunk " << chunk << ": " << error;
    EXPECT_EQ(reply->body, body) << "chunk " << chunk;
  }
}

TEST(ParseHttpReplyTest, HeaderNamesAndChunkedAreCaseInsensitive) {
  std::string error;
  auto reply = ParseHttpReply("HTTP/1.1 200 OK\r\ncontent-LENGTH:2\r\n\r\nhi", &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->body, "hi");
  reply = ParseHttpReply(
      "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING:  Chunked \r\n\r\nA\r\n0123456789\r\na\r\n"
      "abcdefghij\r\n0\r\n\r\n",
      &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->body, "0123456789abcdefghij");
}

TEST(ParseHttpReplyTest, TransferEncodingOverridesContentLength) {
  std::string error;
  const auto reply = ParseHttpReply(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
      &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->body, "abc");
}

TEST(ParseHttpReplyTest, BodyWithoutLengthRunsToEndOfInput) {
  std::string error;
  const auto reply = ParseHttpReply("HTTP/1.0 404 Not Found\r\nX: y\r\n\r\nno such thing", &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body, "no such thing");
}

TEST(ParseHttpReplyTest, BareLineFeedsAndNoReasonPhrase) {
  std::string error;
  const auto reply = ParseHttpReply("HTTP/1.1 200\nContent-Length: 2\n\nok", &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ok");
}

TEST(ParseHttpReplyTest, NoBodyStatusesAndInterimResponses) {
  std::string error;
  auto reply = ParseHttpReply("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 204);
  EXPECT_EQ(reply->body, "");
  reply = ParseHttpReply(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "");
}

TEST(ParseHttpReplyTest, EveryTruncationIsAnError) {
  const std::string body = Fixture().substr(0, 300);
  for (const std::string& raw : {WithContentLength(body), Chunked(body, 64)}) {
    ASSERT_TRUE(ParseHttpReply(raw, nullptr));
    for (size_t length = 0; length < raw.size(); ++length) {
      std::string error;
      const auto reply = ParseHttpReply(std::string_view(raw).substr(0, length), &error);
      ASSERT_FALSE(reply) << "prefix of " << length << " bytes parsed: " << raw.substr(0, length);
      EXPECT_TRUE(error.find("truncated") != std::string::npos ||
                  error.find("empty") != std::string::npos)
          << length << ": " << error;
    }
  }
}

TEST(ParseHttpReplyTest, TruncatedVariantsSayTruncated) {
  const char* const cases[] = {
      "HTTP/1.1 200 OK",                                                     // status line cut
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",                           // headers cut
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",                  // body short
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",               // no chunk at all
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",        // chunk data short
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab",        // chunk CRLF missing
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",    // last chunk missing
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",          // final CRLF missing
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n",  // trailers cut
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n",
  };
  for (const char* raw : cases) {
    std::string error;
    EXPECT_FALSE(ParseHttpReply(raw, &error)) << raw;
    EXPECT_NE(error.find("truncated"), std::string::npos) << raw << " -> " << error;
  }
}

TEST(ParseHttpReplyTest, GarbageIsAnError) {
  const std::string cases[] = {
      "",
      "garbage\r\n\r\n",
      "SSH-2.0-OpenSSH_9.2\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 abc OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 099 Low\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nab\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\nab\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
      std::string("\0\xff\x01HTTP/1.1 200 OK\r\n\r\n", 22),
  };
  for (const std::string& raw : cases) {
    std::string error;
    EXPECT_FALSE(ParseHttpReply(raw, &error)) << raw;
    EXPECT_FALSE(error.empty()) << raw;
  }
}

// Not a proof, but cheap: corrupting a valid reply byte by byte must never crash or read out of
// bounds (run under ASan to make the latter visible).
TEST(ParseHttpReplyTest, CorruptedRepliesNeverCrash) {
  const std::string original = Chunked(Fixture().substr(0, 200), 16);
  uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  const char alphabet[] = "0123456789abcdefABCDEF;:\r\n \t-xHTTP/";
  for (int i = 0; i < 5000; ++i) {
    std::string raw = original;
    for (int flips = 1 + static_cast<int>(next() % 4); flips > 0; --flips) {
      raw[next() % raw.size()] = alphabet[next() % (sizeof(alphabet) - 1)];
    }
    raw.resize(next() % (raw.size() + 1));
    std::string error;
    const auto reply = ParseHttpReply(raw, &error);
    if (reply) {
      EXPECT_LE(reply->body.size(), raw.size());
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
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

}  // namespace
}  // namespace podstat::metadata
