#include "podstat/remote_write/sender.h"

#include <algorithm>
#include <random>

#include "podstat/remote_write/relay_store.h"
#include "podstat/remote_write/retry.h"
#include "podstat/remote_write/snappy.h"
#include "podstat/util/build_info.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::remote_write {

struct Sender::Endpoint {
  Endpoint(std::string u, size_t capacity)
      : url(std::move(u)), label(RedactUrl(url)), queue(capacity) {}
  const std::string url;
  const std::string label;
  std::mutex mutex;  // guards queue
  std::condition_variable wake;
  SeriesQueue queue;
  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<size_t> queue_length{0};  // mirror of queue.samples() readable without the lock
  std::atomic<double> last_success{0};
  // Used by the worker only: backoff jitter, and encode buffers reused from batch to batch.
  std::mt19937_64 rng{std::random_device{}()};
  std::string raw;
  std::string body;
  std::thread thread;
};

namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A secret from a file, trimmed. A secret with a line break inside would let the file inject
// headers, so it is refused.
bool ReadSecret(const std::string& path, std::string* secret, std::string* error) {
  int error_number = 0;
  const auto text = ReadFile(path, &error_number);
  if (!text) {
    *error = "cannot read " + path + ": " + ErrnoMessage(error_number);
    return false;
  }
  const std::string_view trimmed = Trim(*text);
  if (trimmed.find_first_of("\r\n") != std::string_view::npos) {
    *error = path + " holds more than one line";
    return false;
  }
  *secret = std::string(trimmed);
  return true;
}

std::string SeriesKey(const std::vector<Label>& labels) {
  std::string key;
  for (const Label& label : labels) {
    key += label.name;
    key += '\xff';
    key += label.value;
    key += '\xff';
  }
  return key;
}

size_t CountSamples(const WriteRequest& request) {
  size_t n = 0;
  for (const TimeSeries& series : request.timeseries) n += series.samples.size();
  return n;
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t authority_end = url.find_first_of("/?#", start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(start, authority_end - start);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view rest = url.substr(authority_end);
  rest = rest.substr(0, rest.find_first_of("?#"));
  std::string out(url.substr(0, start));
  out += authority;
  out += rest;
  return out;
}

std::vector<Label> PrepareLabels(std::vector<Label> labels, const std::vector<Label>& external) {
  std::erase_if(labels, [](const Label& label) { return label.value.empty(); });
  const auto by_name = [](const Label& a, const Label& b) { return a.name < b.name; };
  std::sort(labels.begin(), labels.end(), by_name);
  const size_t own = labels.size();
  for (const Label& extra : external) {
    if (extra.value.empty()) continue;
    const auto it =
        std::lower_bound(labels.begin(), labels.begin() + static_cast<long>(own), extra, by_name);
    if (it == labels.begin() + static_cast<long>(own) || it->name != extra.name)
      labels.push_back(extra);
  }
  if (labels.size() != own) std::sort(labels.begin(), labels.end(), by_name);
  return labels;
}

std::vector<TimeSeries> StalenessTracker::Update(const std::vector<TimeSeries>& round,
                                                 int64_t timestamp_ms) {
  std::map<std::string, std::vector<Label>> current;
  for (const TimeSeries& series : round) current.emplace(SeriesKey(series.labels), series.labels);
  std::vector<TimeSeries> markers;
  for (auto& [key, labels] : previous_) {
    if (!current.contains(key))
      markers.push_back({std::move(labels), {{StaleMarker(), timestamp_ms}}});
  }
  previous_ = std::move(current);
  return markers;
}

size_t SeriesQueue::Push(std::vector<TimeSeries> series) {
  for (TimeSeries& s : series) {
    if (s.samples.empty()) continue;
    samples_ += s.samples.size();
    series_.push_back(std::move(s));
  }
  return samples_ > capacity_ ? DropOldest(samples_ - capacity_) : 0;
}

size_t SeriesQueue::DropOldest(size_t count) {
  size_t dropped = 0;
  while (count > 0 && !series_.empty()) {
    std::vector<Sample>& front = series_.front().samples;
    const size_t n = std::min(count, front.size());
    if (n == front.size()) {
      series_.pop_front();
    } else {
      front.erase(front.begin(), front.begin() + static_cast<long>(n));
    }
    count -= n;
    dropped += n;
    samples_ -= n;
  }
  return dropped;
}

WriteRequest SeriesQueue::Pop(size_t max_samples) {
  WriteRequest request;
  size_t taken = 0;
  while (!series_.empty() && taken < max_samples) {
    TimeSeries& front = series_.front();
    const size_t room = max_samples - taken;
    if (front.samples.size() <= room) {
      taken += front.samples.size();
      request.timeseries.push_back(std::move(front));
      series_.pop_front();
    } else {
      TimeSeries part{front.labels,
                      {front.samples.begin(), front.samples.begin() + static_cast<long>(room)}};
      front.samples.erase(front.samples.begin(), front.samples.begin() + static_cast<long>(room));
      taken += room;
      request.timeseries.push_back(std::move(part));
    }
  }
  samples_ -= taken;
  return request;
}

size_t SeriesQueue::Clear() {
  const size_t cleared = samples_;
  series_.clear();
  samples_ = 0;
  return cleared;
}

Sender::Sender(SenderOptions options, Logger& logger)
    : options_(std::move(options)), logger_(logger) {}

std::unique_ptr<Sender> Sender::Start(SenderOptions options, Logger& logger, std::string* error) {
  auto fail = [&](std::string reason) {
    if (error) *error = std::move(reason);
    return nullptr;
  };
  if (options.urls.empty()) return fail("no remote write URL");
  for (const std::string& url : options.urls) {
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return fail("remote write URL must be http:// or https://: " + RedactUrl(url));
  }
  if (options.max_samples_per_request == 0) return fail("max samples per request must be > 0");
  if (options.queue_capacity == 0) return fail("queue capacity must be > 0");
  // libcurl reads these only when it connects: a typo would otherwise surface as a retried
  // network error on every push, long after start.
  const TlsClientOptions& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty())
    return fail("a TLS client certificate needs its key, and a key its certificate");
  for (const auto& [what, path] :
       {std::pair{"TLS CA file", &tls.ca_file}, std::pair{"TLS client certificate", &tls.cert_file},
        std::pair{"TLS client key", &tls.key_file}}) {
    if (path->empty()) continue;
    int error_number = 0;
    if (!ReadFile(*path, &error_number))
      return fail(std::string("cannot read the ") + what + " " + *path + ": " +
                  ErrnoMessage(error_number));
  }
  if (options.user_agent.empty())
    options.user_agent = std::string("podstat/") + build_info::kVersion;

  std::unique_ptr<Sender> sender(new Sender(std::move(options), logger));
  if (!sender->curl_global_.ok()) return fail("curl_global_init failed");
  for (const std::string& url : sender->options_.urls)
    sender->endpoints_.push_back(std::make_unique<Endpoint>(url, sender->options_.queue_capacity));
  for (auto& endpoint : sender->endpoints_) {
    Endpoint* e = endpoint.get();
    e->thread = std::thread([s = sender.get(), e] { s->Run(*e); });
  }
  return sender;
}

Sender::~Sender() { Stop(); }

void Sender::Stop() {
  stopping_ = true;
  for (auto& endpoint : endpoints_) {
    { std::lock_guard lock(endpoint->mutex); }  // a worker between its check and its wait sees it
    endpoint->wake.notify_all();
  }
  for (auto& endpoint : endpoints_) {
    if (endpoint->thread.joinable()) endpoint->thread.join();
  }
}

void Sender::EnqueueRound(std::vector<TimeSeries> series, int64_t timestamp_ms) {
  for (TimeSeries& s : series)
    s.labels = PrepareLabels(std::move(s.labels), options_.external_labels);
  std::vector<TimeSeries> markers;
  {
    std::lock_guard lock(round_mutex_);
    markers = tracker_.Update(series, timestamp_ms);
  }
  std::move(markers.begin(), markers.end(), std::back_inserter(series));
  EnqueuePrepared(std::move(series));
}

void Sender::Enqueue(std::vector<TimeSeries> series) {
  for (TimeSeries& s : series)
    s.labels = PrepareLabels(std::move(s.labels), options_.external_labels);
  EnqueuePrepared(std::move(series));
}

void Sender::EnqueuePrepared(std::vector<TimeSeries> series) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& endpoint = *endpoints_[i];
    // The last endpoint takes the batch itself; the others get copies.
    std::vector<TimeSeries> copy = i + 1 == endpoints_.size() ? std::move(series) : series;
    size_t dropped = 0;
    {
      std::lock_guard lock(endpoint.mutex);
      if (stopping_) {
        for (const TimeSeries& s : copy) dropped += s.samples.size();
      } else {
        dropped = endpoint.queue.Push(std::move(copy));
      }
      endpoint.queue_length = endpoint.queue.samples();
    }
    if (dropped > 0) {
      endpoint.dropped += dropped;
      logger_.Warn("remote_write", "queue full, dropped ", dropped, " oldest samples for ",
                   endpoint.label);
    }
    endpoint.wake.notify_one();
  }
}

void Sender::Run(Endpoint& endpoint) {
  HttpPoster poster;
  for (;;) {
    WriteRequest batch;
    {
      std::unique_lock lock(endpoint.mutex);
      endpoint.wake.wait(lock, [&] { return stopping_ || !endpoint.queue.empty(); });
      if (stopping_) break;
      batch = endpoint.queue.Pop(options_.max_samples_per_request);
      endpoint.queue_length = endpoint.queue.samples();
    }
    Deliver(endpoint, poster, batch, CountSamples(batch));
  }
  std::lock_guard lock(endpoint.mutex);
  endpoint.dropped += endpoint.queue.Clear();
  endpoint.queue_length = 0;
}

bool Sender::BuildHeaders(std::vector<std::string>& headers, std::string* error) const {
  headers = {"Content-Encoding: snappy", "Content-Type: application/x-protobuf",
             "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: " + options_.user_agent};
  if (!options_.basic_auth_username.empty()) {
    std::string password;
    if (!options_.basic_auth_password_file.empty() &&
        !ReadSecret(options_.basic_auth_password_file, &password, error))
      return false;
    headers.push_back("Authorization: Basic " +
                      Base64(options_.basic_auth_username + ":" + password));
  } else if (!options_.bearer_token_file.empty()) {
    std::string token;
    if (!ReadSecret(options_.bearer_token_file, &token, error)) return false;
    headers.push_back("Authorization: Bearer " + token);
  }
  return true;
}

bool Sender::WaitFor(Endpoint& endpoint, std::chrono::milliseconds delay) {
  std::unique_lock lock(endpoint.mutex);
  return !endpoint.wake.wait_for(lock, delay, [&] { return stopping_.load(); });
}

bool Sender::Deliver(Endpoint& endpoint, HttpPoster& poster, const WriteRequest& batch,
                     size_t samples) {
  EncodeWriteRequest(batch, endpoint.raw);
  SnappyCompress(endpoint.raw, endpoint.body);
  const std::string& body = endpoint.body;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::string> headers;
  for (int attempt = 0;; ++attempt) {
    PostResult result;
    if (!BuildHeaders(headers, &result.error)) {
      result.status = 0;  // a local problem; retry: the file may come back
    } else {
      result = poster.Post(endpoint.url, headers, body, options_.timeout, &stopping_, options_.tls);
    }
    if (stopping_) {
      endpoint.dropped += samples;
      return false;
    }
    const RetryDecision decision =
        Classify(result.status, result.retry_after, std::chrono::system_clock::now());
    if (decision.action == RetryAction::kDone) {
      endpoint.samples += samples;
      endpoint.last_success = UnixSeconds(std::chrono::system_clock::now());
      return true;
    }
    const std::string what =
        result.status == 0 ? result.error : "HTTP " + std::to_string(result.status);
    if (decision.action == RetryAction::kDrop) {
      endpoint.failed += samples;
      logger_.Warn("remote_write", "dropped ", samples, " samples: ", endpoint.label, " answered ",
                   what);
      return false;
    }
    ++endpoint.retries;
    const auto delay =
        decision.retry_after
            ? std::min(*decision.retry_after, options_.max_retry_after)
            : Backoff(attempt, options_.min_backoff, options_.max_backoff, unit(endpoint.rng));
    if (attempt == 0) {
      logger_.Warn("remote_write", "send to ", endpoint.label, " failed (", what,
                   "), retrying with backoff");
    } else {
      logger_.Debug("remote_write", "retry ", attempt, " to ", endpoint.label, " failed (", what,
                    "), next in ", delay.count(), "ms");
    }
    if (!WaitFor(endpoint, delay)) {
      endpoint.dropped += samples;
      return false;
    }
  }
}

std::vector<EndpointStats> Sender::Stats() const {
  std::vector<EndpointStats> stats;
  for (const auto& endpoint : endpoints_) {
    stats.push_back({endpoint->label, endpoint->samples.load(), endpoint->failed.load(),
                     endpoint->dropped.load(), endpoint->retries.load(),
                     endpoint->queue_length.load(), endpoint->last_success.load()});
  }
  return stats;
}

}  // namespace podstat::remote_write
