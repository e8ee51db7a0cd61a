// The remote_write sender: podstat's own series pushed to one or more --remote-write.url.
//
// The caller (the app's timer, every --remote-write.interval) hands over one round of series with
// EnqueueRound; the sender adds staleness markers for series that disappeared since the previous
// round, the external labels, sorts labels by name, and appends the samples to a bounded queue per
// URL. One worker thread per URL takes batches of at most max_samples_per_request samples,
// encodes them (protobuf + snappy) and POSTs them with the remote_write 1.0 headers.
//
// Delivery: 2xx done; 5xx, 429 and network errors retried with exponential backoff and jitter
// (Retry-After honoured, capped by max_retry_after) until delivered or Stop(); any other status
// drops the batch (failed_samples_total). A full queue drops its oldest samples
// (dropped_samples_total): newer readings are worth more than old ones, and the caller must never
// block. Samples still queued at Stop() are counted as dropped too.
//
// Self-metrics per URL (credentials, query and fragment stripped from the url label):
//   podstat_remote_write_{samples_total,failed_samples_total,dropped_samples_total,retries_total,
//   queue_length,last_success_timestamp_seconds}.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "podstat/remote_write/http_post.h"
#include "podstat/remote_write/proto.h"
#include "podstat/util/log.h"

namespace podstat::remote_write {

// Flags: --remote-write.url (repeatable) -> urls. --remote-write.interval is the caller's timer:
// it calls EnqueueRound once per interval with the current snapshot's series, timestamped in ms.
struct SenderOptions {
  std::vector<std::string> urls;
  size_t max_samples_per_request = 2000;  // Prometheus's default
  size_t queue_capacity = 10'000;         // samples per URL
  std::chrono::milliseconds min_backoff{30};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds timeout{30'000};  // per request
  std::chrono::milliseconds max_retry_after{std::chrono::minutes(5)};
  // Credentials are read from their files before every request (trimmed), so a rotated secret
  // takes effect without a restart. Basic auth when basic_auth_username is set, else a bearer
  // token when bearer_token_file is set.
  std::string basic_auth_username;
  std::string basic_auth_password_file;
  std::string bearer_token_file;
  // TLS for https:// URLs (--remote-write.tls.*). Unlike the credentials these are read by
  // libcurl when it connects; Start checks that each named file can be read, and that a client
  // certificate comes with its key.
  TlsClientOptions tls;
  std::vector<Label> external_labels;  // added to every series that lacks them
  std::string user_agent;              // empty = "podstat/<version>"
};

// The URL without user:password@, query or fragment: safe for a label or a log line.
std::string RedactUrl(std::string_view url);

// Labels as the spec wants them on the wire: external labels added where missing (the series'
// own value wins), empty values dropped, sorted by name in byte order.
std::vector<Label> PrepareLabels(std::vector<Label> labels, const std::vector<Label>& external);

// Remembers the label sets of the previous round; Update returns a stale-marker series (one
// sample, value StaleMarker(), at timestamp_ms) for each one missing from this round.
class StalenessTracker {
 public:
  std::vector<TimeSeries> Update(const std::vector<TimeSeries>& round, int64_t timestamp_ms);

 private:
  std::map<std::string, std::vector<Label>> previous_;
};

// FIFO of series bounded in samples; full = the oldest samples go.
class SeriesQueue {
 public:
  explicit SeriesQueue(size_t capacity) : capacity_(capacity) {}
  // Appends (series without samples are ignored); returns how many old samples were dropped.
  size_t Push(std::vector<TimeSeries> series);
  // Takes up to max_samples samples from the front as one request, in order; a series longer
  // than the room left is split across requests.
  WriteRequest Pop(size_t max_samples);
  // Empties the queue; returns the samples it held.
  size_t Clear();
  size_t samples() const { return samples_; }
  bool empty() const { return samples_ == 0; }

 private:
  size_t DropOldest(size_t count);
  size_t capacity_;
  std::deque<TimeSeries> series_;
  size_t samples_ = 0;
};

struct EndpointStats {
  std::string url;  // redacted
  uint64_t samples = 0;
  uint64_t failed_samples = 0;
  uint64_t dropped_samples = 0;
  uint64_t retries = 0;
  size_t queue_length = 0;
  double last_success_timestamp_seconds = 0;  // Unix time, 0 = never
};

class Sender {
 public:
  // Starts one worker per URL. Fails (nullptr, reason in *error) without URLs, on a URL that is
  // not http(s)://, a zero batch size or capacity, a TLS file that cannot be read, or a client
  // certificate without its key (or the reverse).
  static std::unique_ptr<Sender> Start(SenderOptions options, Logger& logger, std::string* error);
  ~Sender();  // Stop()
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // One complete round: every series podstat exports now. Series of the previous round missing
  // from this one get a stale marker at timestamp_ms.
  void EnqueueRound(std::vector<TimeSeries> series, int64_t timestamp_ms);
  // Queues series as they are (after PrepareLabels), without staleness tracking.
  void Enqueue(std::vector<TimeSeries> series);

  // Stops the workers: waits are interrupted, a request in flight is aborted (within about a
  // second: curl polls the abort flag), queued samples are counted dropped. Idempotent.
  void Stop();

  std::vector<EndpointStats> Stats() const;

 private:
  struct Endpoint;
  Sender(SenderOptions options, Logger& logger);
  void EnqueuePrepared(std::vector<TimeSeries> series);
  void Run(Endpoint& endpoint);
  bool Deliver(Endpoint& endpoint, HttpPoster& poster, const WriteRequest& batch, size_t samples);
  bool BuildHeaders(std::vector<std::string>& headers, std::string* error) const;
  // Sleeps up to delay; false when Stop() interrupted it.
  bool WaitFor(Endpoint& endpoint, std::chrono::milliseconds delay);

  const SenderOptions options_;
  Logger& logger_;
  CurlGlobal curl_global_;
  std::atomic<bool> stopping_{false};
  std::mutex round_mutex_;  // guards tracker_
  StalenessTracker tracker_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace podstat::remote_write
