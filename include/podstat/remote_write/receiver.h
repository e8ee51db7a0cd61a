// POST /api/v1/write (and /write): the remote_write 1.0 receiver as a pure function from the
// request's headers and body to a status and a short reason, so it is tested without a socket.
// The HTTP layer only has to pass Content-Type, Content-Encoding and the body, and send back
// status and body (text/plain).
//
// Answers, in the order checked:
//   415  Content-Encoding present and not "snappy"; Content-Type not application/x-protobuf, or
//        with a proto= parameter other than prometheus.WriteRequest (remote_write 2.0's
//        io.prometheus.write.v2.Request gets a reason saying 2.0 is unsupported). A missing
//        header of either kind is taken as 1.0 + snappy, as Prometheus's own receiver does, so
//        old senders keep working.
//   413  body longer than max_body_bytes.
//   400  snappy or protobuf malformed, a decode cap exceeded, invalid labels or labels over the
//        SeriesLimits (validate.h), or a sample too far in the future; the reason says which.
//        Nothing from such a request is stored.
//   429  the relay store is full (--receiver.max-series or --receiver.max-bytes) and new series
//        were refused (the rest was applied).
//   204  stored.
// Every answer is counted in the store's podstat_receiver_requests_total{code}, and every refusal
// in podstat_receiver_rejected_requests_total{reason} (reject:: in relay_store.h).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::remote_write {

// Flag: --receiver.max-body-bytes -> max_body_bytes.
struct ReceiverLimits {
  size_t max_body_bytes = 10 * 1024 * 1024;  // compressed, as received (--receiver.max-body-bytes)
  size_t max_decoded_bytes = 64 * 1024 * 1024;  // after snappy: caps a decompression bomb
  DecodeLimits decode;
};

struct ReceiverResponse {
  int status = 204;
  std::string body;         // short reason for an error, empty on 204
  std::string_view reason;  // reject:: category for an error, empty on 204
};

// The header checks alone (415, then 413 by the declared Content-Length when known), for an HTTP
// layer that wants to refuse before reading a large body. nullopt = go on and read the body.
std::optional<ReceiverResponse> CheckWriteHeaders(std::string_view content_type,
                                                  std::string_view content_encoding,
                                                  std::optional<size_t> content_length,
                                                  const ReceiverLimits& limits);

// Buffers one request's decoding needs. Reused across requests they stop the per-request
// allocation of the decompressed body and the decoded view (about 1 MB for 2000 samples), whose
// page faults otherwise cost more than the decoding itself.
struct ReceiverScratch {
  std::string decoded;
  WriteRequestView request;
};

// Handles one write: checks, decodes, ingests into store and counts the answer. scratch may be
// null (then buffers are allocated for this call).
ReceiverResponse HandleWrite(std::string_view content_type, std::string_view content_encoding,
                             std::string_view body, const ReceiverLimits& limits, RelayStore& store,
                             Clock::time_point now, ReceiverScratch* scratch = nullptr);

// What the HTTP layer holds: the store, the limits and a small pool of scratch buffers, one per
// request in flight. Thread-safe; Handle() is HandleWrite with pooled buffers.
class Receiver {
 public:
  Receiver(RelayStore& store, ReceiverLimits limits) : store_(store), limits_(limits) {}
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  ReceiverResponse Handle(std::string_view content_type, std::string_view content_encoding,
                          std::string_view body, Clock::time_point now);
  const ReceiverLimits& limits() const { return limits_; }
  RelayStore& store() { return store_; }

 private:
  RelayStore& store_;
  const ReceiverLimits limits_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<ReceiverScratch>> pool_;
};

}  // namespace podstat::remote_write
