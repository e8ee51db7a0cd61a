#include "podstat/remote_write/sender.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>

#include "podstat/app/self_metrics.h"
#include "podstat/remote_write/snappy.h"
#include "podstat/util/fd.h"

namespace podstat::remote_write {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// ---- a scripted HTTP/1.1 server on 127.0.0.1:0 ----

struct Received {
  std::string request_line;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct Answer {
  int status = 204;
  std::string extra_headers;           // "Name: value\r\n"...
  std::chrono::milliseconds delay{0};  // before answering
};

class TestHttpServer {
 public:
  TestHttpServer() {
    listen_fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_.get(), 16) != 0 ||
        ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ADD_FAILURE() << "test server: cannot listen";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }
  int port() const { return port_; }

  // Answers for the next requests, in order; after them every request gets 204.
  void Script(std::vector<Answer> answers) {
    std::lock_guard lock(mutex_);
    script_.insert(script_.end(), answers.begin(), answers.end());
  }

  // Waits until at least n requests arrived (or timeout) and returns all received so far.
  std::vector<Received> WaitForRequests(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
    return received_;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd pfd{listen_fd_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) Serve(client.get());
    }
  }

  // Reads one request, answers per script, closes (Connection: close keeps the parser trivial).
  void Serve(int fd) {
    std::string data;
    char buffer[65536];
    size_t header_end = std::string::npos;
    size_t body_length = 0;
    Received request;
    while (!stop_) {
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      data.append(buffer, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        ParseHeaders(data.substr(0, header_end), request);
        body_length = std::stoul(request.headers["content-length"]);
      }
      if (data.size() >= header_end + 4 + body_length) break;
    }
    if (stop_) return;
    request.body = data.substr(header_end + 4, body_length);
    Answer answer;
    {
      std::lock_guard lock(mutex_);
      if (!script_.empty()) {
        answer = script_.front();
        script_.pop_front();
      }
      received_.push_back(std::move(request));
    }
    arrived_.notify_all();
    for (auto waited = 0ms; waited < answer.delay && !stop_; waited += 10ms)
      std::this_thread::sleep_for(10ms);
    const std::string reply = "HTTP/1.1 " + std::to_string(answer.status) +
                              " Scripted\r\nContent-Length: 0\r\nConnection: close\r\n" +
                              answer.extra_headers + "\r\n";
    (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  static void ParseHeaders(const std::string& head, Received& request) {
    size_t start = 0;
    bool first = true;
    while (start < head.size()) {
      size_t end = head.find("\r\n", start);
      if (end == std::string::npos) end = head.size();
      const std::string line = head.substr(start, end - start);
      start = end + 2;
      if (first) {
        request.request_line = line;
        first = false;
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value = colon + 1;
      while (value < line.size() && line[value] == ' ') ++value;
      request.headers[name] = line.substr(value);
    }
  }

  UniqueFd listen_fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Answer> script_;
  std::vector<Received> received_;
  std::thread thread_;
};

// ---- helpers ----

WriteRequest DecodeBody(const std::string& body) {
  std::string error;
  auto raw = SnappyUncompress(body, 1 << 24, &error);
  EXPECT_TRUE(raw) << error;
  WriteRequest request;
  if (raw) {
    EXPECT_TRUE(DecodeWriteRequest(*raw, request, &error)) << error;
  }
  return request;
}

size_t Samples(const WriteRequest& request) {
  size_t n = 0;
  for (const auto& s : request.timeseries) n += s.samples.size();
  return n;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Steady::now() + timeout;
  while (!condition()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TimeSeries Gauge(std::string pod, double value, int64_t ts) {
  return {{{"pod", std::move(pod)}, {"__name__", "container_memory_rss"}}, {{value, ts}}};
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

SenderOptions FastOptions(std::string url) {
  SenderOptions options;
  options.urls = {std::move(url)};
  options.min_backoff = 1ms;
  options.max_backoff = 5ms;
  options.timeout = 5s;
  return options;
}

class RemoteWriteSender : public ::testing::Test {
 protected:
  std::unique_ptr<Sender> Start(SenderOptions options) {
    std::string error;
    auto sender = Sender::Start(std::move(options), logger_, &error);
    EXPECT_TRUE(sender) << error;
    return sender;
  }
  Logger logger_{LogLevel::kError};
  TestHttpServer server_;
};

// ---- the sender against the server ----

TEST_F(RemoteWriteSender, SendsRemoteWrite10HeadersAndADecodableBody) {
  SenderOptions options = FastOptions(server_.url());
  options.bearer_token_file = WriteTempFile("token", "  secret-token \n");
  options.external_labels = {{"cluster", "c1"}, {"pod", "never-wins"}};
  auto sender = Start(options);
  TimeSeries with_empty = Gauge("a", 1.5, 1000);
  with_empty.labels.push_back({"empty", ""});
  sender->Enqueue({with_empty, Gauge("b", 2.5, 1000)});

  const auto requests = server_.WaitForRequests(1);
  ASSERT_EQ(requests.size(), 1u);
  const Received& r = requests[0];
  EXPECT_EQ(r.request_line, "POST /api/v1/write HTTP/1.1");
  EXPECT_EQ(r.headers.at("content-encoding"), "snappy");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.headers.at("x-prometheus-remote-write-version"), "0.1.0");
  EXPECT_TRUE(r.headers.at("user-agent").starts_with("podstat/")) << r.headers.at("user-agent");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer secret-token");

  const WriteRequest body = DecodeBody(r.body);
  ASSERT_EQ(body.timeseries.size(), 2u);
  const std::vector<Label> want = {
      {"__name__", "container_memory_rss"}, {"cluster", "c1"}, {"pod", "a"}};
  EXPECT_EQ(body.timeseries[0].labels, want);
  ASSERT_EQ(body.timeseries[0].samples.size(), 1u);
  EXPECT_EQ(body.timeseries[0].samples[0].value, 1.5);
  EXPECT_EQ(body.timeseries[0].samples[0].timestamp_ms, 1000);
  EXPECT_EQ(body.timeseries[1].labels[2].value, "b");

  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].samples == 2; }));
  const EndpointStats stats = sender->Stats()[0];
  EXPECT_GT(stats.last_success_timestamp_seconds, 1.6e9);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.failed_samples, 0u);
}

TEST_F(RemoteWriteSender, BasicAuthRereadsThePasswordFileForEachRequest) {
  SenderOptions options = FastOptions(server_.url());
  options.basic_auth_username = "user";
  options.basic_auth_password_file = WriteTempFile("password", "pw1\n");
  auto sender = Start(options);
  sender->Enqueue({Gauge("a", 1, 1)});
  ASSERT_EQ(server_.WaitForRequests(1).size(), 1u);
  WriteTempFile("password", "pw2");
  sender->Enqueue({Gauge("a", 2, 2)});
  const auto requests = server_.WaitForRequests(2);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("authorization"), "Basic dXNlcjpwdzE=");  // user:pw1
  EXPECT_EQ(requests[1].headers.at("authorization"), "Basic dXNlcjpwdzI=");  // user:pw2
}

TEST_F(RemoteWriteSender, RetriesServerErrorsAndTooManyRequestsThenDelivers) {
  server_.Script({{500, "", 0ms}, {429, "Retry-After: 0\r\n", 0ms}, {503, "", 0ms}});
  auto sender = Start(FastOptions(server_.url()));
  sender->Enqueue({Gauge("a", 1, 1), Gauge("b", 2, 1)});
  const auto requests = server_.WaitForRequests(4);
  ASSERT_EQ(requests.size(), 4u);
  for (const Received& r : requests) EXPECT_EQ(r.body, requests[0].body) << "retry changed body";
  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].samples == 2; }));
  const EndpointStats stats = sender->Stats()[0];
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.failed_samples, 0u);
  EXPECT_EQ(stats.dropped_samples, 0u);
}

TEST_F(RemoteWriteSender, HonoursRetryAfter) {
  server_.Script({{429, "Retry-After: 1\r\n", 0ms}});
  SenderOptions options = FastOptions(server_.url());
  auto sender = Start(options);
  const auto start = Steady::now();
  sender->Enqueue({Gauge("a", 1, 1)});
  ASSERT_EQ(server_.WaitForRequests(2).size(), 2u);
  EXPECT_GE(Steady::now() - start, 900ms) << "Retry-After: 1 not honoured (backoff is 1-5 ms)";
}

TEST_F(RemoteWriteSender, DropsOnOtherClientErrorsWithoutRetrying) {
  server_.Script({{400, "", 0ms}});
  auto sender = Start(FastOptions(server_.url()));
  sender->Enqueue({Gauge("a", 1, 1), Gauge("b", 1, 1), Gauge("c", 1, 1)});
  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].failed_samples == 3; }));
  sender->Enqueue({Gauge("a", 2, 2)});
  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].samples == 1; }));
  EXPECT_EQ(server_.WaitForRequests(2).size(), 2u) << "the 400 batch was retried";
  EXPECT_EQ(sender->Stats()[0].retries, 0u);
}

TEST_F(RemoteWriteSender, BatchesAtMostMaxSamplesPerRequestInOrder) {
  SenderOptions options = FastOptions(server_.url());
  options.max_samples_per_request = 2;
  // Hold the first request so all five samples are queued before batching starts.
  server_.Script({{204, "", 200ms}});
  auto sender = Start(options);
  sender->Enqueue({Gauge("p0", 0, 0)});
  ASSERT_EQ(server_.WaitForRequests(1).size(), 1u);
  std::vector<TimeSeries> series;
  for (int i = 1; i <= 5; ++i) series.push_back(Gauge("p" + std::to_string(i), i, i));
  sender->Enqueue(series);
  const auto requests = server_.WaitForRequests(4);
  ASSERT_EQ(requests.size(), 4u);
  std::vector<size_t> sizes;
  std::vector<double> values;
  for (size_t i = 1; i < requests.size(); ++i) {
    const WriteRequest body = DecodeBody(requests[i].body);
    sizes.push_back(Samples(body));
    for (const auto& s : body.timeseries) values.push_back(s.samples[0].value);
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_EQ(values, (std::vector<double>{1, 2, 3, 4, 5}));
}

// A port with nothing listening: connections are refused at once.
int ClosedPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &length);
  return ntohs(addr.sin_port);
}

TEST_F(RemoteWriteSender, FullQueueDropsOldestAndStopIsPromptDuringBackoff) {
  SenderOptions options =
      FastOptions("http://127.0.0.1:" + std::to_string(ClosedPort()) + "/api/v1/write");
  options.queue_capacity = 4;
  options.min_backoff = 10s;  // the worker sits in backoff for the rest of the test
  options.max_backoff = 10s;
  auto sender = Start(options);
  sender->Enqueue({Gauge("first", 0, 0)});
  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].retries == 1; }));
  std::vector<TimeSeries> series;
  for (int i = 0; i < 10; ++i) {
    std::string name = "p";  // appended: "p" + ... trips GCC 12's -Wrestrict (PR 105329)
    name += std::to_string(i);
    series.push_back(Gauge(std::move(name), i, i));
  }
  sender->Enqueue(series);
  EndpointStats stats = sender->Stats()[0];
  EXPECT_EQ(stats.dropped_samples, 6u);
  EXPECT_EQ(stats.queue_length, 4u);
  EXPECT_NE(app::RenderSelfFamilies({nullptr, sender->Stats(), {}})
                .find("podstat_remote_write_queue_length{url=\"" + options.urls[0] + "\"} 4\n"),
            std::string::npos);

  const auto start = Steady::now();
  sender->Stop();
  EXPECT_LT(Steady::now() - start, 1s);
  stats = sender->Stats()[0];
  EXPECT_EQ(stats.dropped_samples, 6u + 4u + 1u);  // + the queue + the batch in backoff
  EXPECT_EQ(stats.queue_length, 0u);
  EXPECT_EQ(stats.samples, 0u);
}

TEST_F(RemoteWriteSender, StopAbortsARequestInFlight) {
  server_.Script({{204, "", 20s}});  // a server that does not answer
  SenderOptions options = FastOptions(server_.url());
  options.timeout = 30s;
  auto sender = Start(options);
  sender->Enqueue({Gauge("a", 1, 1)});
  ASSERT_EQ(server_.WaitForRequests(1).size(), 1u);
  const auto start = Steady::now();
  sender->Stop();
  EXPECT_LT(Steady::now() - start, 2500ms);
  EXPECT_EQ(sender->Stats()[0].dropped_samples, 1u);
  sender->Enqueue({Gauge("late", 1, 1)});  // after Stop: counted, never sent
  EXPECT_EQ(sender->Stats()[0].dropped_samples, 2u);
}

TEST_F(RemoteWriteSender, RoundsSendStaleMarkersForSeriesThatEnded) {
  auto sender = Start(FastOptions(server_.url()));
  sender->EnqueueRound({Gauge("a", 1, 1000), Gauge("b", 1, 1000)}, 1000);
  ASSERT_EQ(server_.WaitForRequests(1).size(), 1u);
  sender->EnqueueRound({Gauge("a", 2, 2000)}, 2000);
  const auto requests = server_.WaitForRequests(2);
  ASSERT_EQ(requests.size(), 2u);
  const WriteRequest second = DecodeBody(requests[1].body);
  ASSERT_EQ(second.timeseries.size(), 2u);
  EXPECT_EQ(second.timeseries[0].labels[1].value, "a");
  EXPECT_EQ(second.timeseries[0].samples[0].value, 2);
  EXPECT_EQ(second.timeseries[1].labels[1].value, "b");
  EXPECT_TRUE(IsStaleMarker(second.timeseries[1].samples[0].value));
  EXPECT_EQ(second.timeseries[1].samples[0].timestamp_ms, 2000);
}

TEST_F(RemoteWriteSender, TwoUrlsEachGetEverySample) {
  TestHttpServer other;
  SenderOptions options = FastOptions(server_.url());
  options.urls.push_back(other.url());
  auto sender = Start(options);
  sender->Enqueue({Gauge("a", 1, 1)});
  ASSERT_EQ(server_.WaitForRequests(1).size(), 1u);
  ASSERT_EQ(other.WaitForRequests(1).size(), 1u);
  ASSERT_TRUE(WaitUntil([&] {
    const auto stats = sender->Stats();
    return stats[0].samples == 1 && stats[1].samples == 1;
  }));
}

TEST_F(RemoteWriteSender, MetricsCarryTheRedactedUrlAndPassPromtool) {
  SenderOptions options = FastOptions("http://user:pw@127.0.0.1:" + std::to_string(server_.port()) +
                                      "/api/v1/write?key=s3cr3t");
  auto sender = Start(options);
  sender->Enqueue({Gauge("a", 1, 1)});
  ASSERT_TRUE(WaitUntil([&] { return sender->Stats()[0].samples == 1; }));
  const std::string text = app::RenderSelfFamilies({nullptr, sender->Stats(), {}});
  EXPECT_EQ(text.find("pw"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  const std::string label =
      "{url=\"http://127.0.0.1:" + std::to_string(server_.port()) + "/api/v1/write\"}";
  for (const std::string name :
       {"samples_total", "failed_samples_total", "dropped_samples_total", "retries_total",
        "queue_length", "last_success_timestamp_seconds"}) {
    EXPECT_NE(text.find("podstat_remote_write_" + name + label + " "), std::string::npos)
        << name << "\n"
        << text;
  }
  EXPECT_NE(text.find("podstat_remote_write_samples_total" + label + " 1\n"), std::string::npos);

  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  const std::string path = WriteTempFile("sender_metrics.txt", text);
  EXPECT_EQ(std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str()), 0)
      << text;
}

TEST(RemoteWriteSenderStart, RejectsBadOptions) {
  Logger logger(LogLevel::kError);
  std::string error;
  SenderOptions options;
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  options.urls = {"ftp://x/"};
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  options.urls = {"http://x/"};
  options.max_samples_per_request = 0;
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  options.max_samples_per_request = 1;
  options.queue_capacity = 0;
  EXPECT_FALSE(Sender::Start(options, logger, &error));
}

// libcurl would only find a missing TLS file when it connects, as a retried network error on
// every push; Start says so at once.
TEST(RemoteWriteSenderStart, RejectsUnreadableTlsFilesAndACertWithoutItsKey) {
  Logger logger(LogLevel::kError);
  std::string error;
  SenderOptions options;
  options.urls = {"https://x/"};
  const std::string pem = WriteTempFile("tls.pem", "not checked here: curl parses it\n");
  options.tls.ca_file = "/nonexistent/ca.crt";
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  EXPECT_NE(error.find("cannot read the TLS CA file /nonexistent/ca.crt"), std::string::npos)
      << error;
  options.tls.ca_file = pem;
  options.tls.cert_file = pem;
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  EXPECT_NE(error.find("needs its key"), std::string::npos) << error;
  options.tls.key_file = "/nonexistent/client.key";
  EXPECT_FALSE(Sender::Start(options, logger, &error));
  EXPECT_NE(error.find("TLS client key"), std::string::npos) << error;
  options.tls.key_file = pem;
  auto sender = Sender::Start(options, logger, &error);
  EXPECT_TRUE(sender) << error;
}

// ---- the pure parts ----

TEST(RemoteWriteSenderParts, RedactUrl) {
  EXPECT_EQ(RedactUrl("http://user:pass@host:9090/api/v1/write"), "http://host:9090/api/v1/write");
  EXPECT_EQ(RedactUrl("https://host/write?token=abc#frag"), "https://host/write");
  EXPECT_EQ(RedactUrl("http://a@b@host"), "http://host");
  EXPECT_EQ(RedactUrl("http://host/p@th"), "http://host/p@th");
}

TEST(RemoteWriteSenderParts, PrepareLabelsSortsAddsExternalAndDropsEmpty) {
  const auto labels = PrepareLabels({{"zeta", "z"}, {"__name__", "m"}, {"Alpha", "a"}, {"e", ""}},
                                    {{"cluster", "c"}, {"zeta", "ext"}, {"blank", ""}});
  const std::vector<Label> want = {
      {"Alpha", "a"}, {"__name__", "m"}, {"cluster", "c"}, {"zeta", "z"}};
  EXPECT_EQ(labels, want);
}

TEST(RemoteWriteSenderParts, StalenessTracker) {
  StalenessTracker tracker;
  EXPECT_TRUE(tracker.Update({Gauge("a", 1, 1), Gauge("b", 1, 1)}, 10).empty());
  const auto markers = tracker.Update({Gauge("a", 1, 2)}, 20);
  ASSERT_EQ(markers.size(), 1u);
  EXPECT_EQ(markers[0].labels, Gauge("b", 0, 0).labels);
  ASSERT_EQ(markers[0].samples.size(), 1u);
  EXPECT_TRUE(IsStaleMarker(markers[0].samples[0].value));
  EXPECT_EQ(markers[0].samples[0].timestamp_ms, 20);
  // b is reported once, not again in later rounds.
  EXPECT_TRUE(tracker.Update({Gauge("a", 1, 3)}, 30).empty());
  EXPECT_EQ(tracker.Update({}, 40).size(), 1u);
}

TEST(RemoteWriteSenderParts, SeriesQueueDropsOldestAndSplitsBatches) {
  SeriesQueue queue(5);
  TimeSeries many{{{"__name__", "m"}}, {{1, 1}, {2, 2}, {3, 3}}};
  EXPECT_EQ(queue.Push({many, Gauge("x", 4, 4), TimeSeries{{{"__name__", "empty"}}, {}}}), 0u);
  EXPECT_EQ(queue.samples(), 4u);
  // Two more: one over capacity, the oldest sample (value 1) goes.
  EXPECT_EQ(queue.Push({Gauge("y", 5, 5), Gauge("z", 6, 6)}), 1u);
  EXPECT_EQ(queue.samples(), 5u);
  WriteRequest first = queue.Pop(1);
  ASSERT_EQ(first.timeseries.size(), 1u);
  ASSERT_EQ(first.timeseries[0].samples.size(), 1u);
  EXPECT_EQ(first.timeseries[0].samples[0].value, 2);  // split off the front series
  WriteRequest second = queue.Pop(3);
  ASSERT_EQ(second.timeseries.size(), 3u);
  EXPECT_EQ(second.timeseries[0].samples[0].value, 3);
  EXPECT_EQ(second.timeseries[0].labels, many.labels);
  EXPECT_EQ(second.timeseries[2].samples[0].value, 5);
  EXPECT_EQ(queue.samples(), 1u);
  EXPECT_EQ(queue.Clear(), 1u);
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(queue.Pop(10).timeseries.empty());
  // A single push bigger than the queue keeps its newest samples.
  SeriesQueue small(2);
  EXPECT_EQ(small.Push({many}), 1u);
  EXPECT_EQ(small.Pop(10).timeseries[0].samples[0].value, 2);
}

}  // namespace
}  // namespace podstat::remote_write
