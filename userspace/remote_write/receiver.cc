#include "podstat/remote_write/receiver.h"

#include <algorithm>
#include <cctype>

#include "podstat/remote_write/snappy.h"
#include "podstat/util/strings.h"

namespace podstat::remote_write {
namespace {

constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kProtoV1 = "prometheus.WriteRequest";
constexpr std::string_view kProtoV2 = "io.prometheus.write.v2.Request";

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
template <TemporaryString T>
std::string_view TrimSpace(T&& s) = delete;  // a view into a temporary (see TemporaryString)

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

ReceiverResponse Answer(int status, std::string_view category, std::string reason) {
  return {status, std::move(reason), category};
}

// "application/x-protobuf;proto=prometheus.WriteRequest" -> nullopt when acceptable, else a 415.
std::optional<ReceiverResponse> CheckContentType(std::string_view content_type) {
  content_type = TrimSpace(content_type);
  if (content_type.empty()) return std::nullopt;
  const size_t semicolon = content_type.find(';');
  if (!EqualsIgnoreCase(TrimSpace(content_type.substr(0, semicolon)), kProtobufType))
    return Answer(415, reject::kUnsupportedMediaType,
                  "Content-Type must be application/x-protobuf");
  std::string_view params =
      semicolon == std::string_view::npos ? std::string_view() : content_type.substr(semicolon + 1);
  while (!params.empty()) {
    const size_t next = params.find(';');
    const std::string_view param = TrimSpace(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    const size_t equals = param.find('=');
    if (equals == std::string_view::npos) continue;
    if (!EqualsIgnoreCase(TrimSpace(param.substr(0, equals)), "proto")) continue;
    std::string_view proto = TrimSpace(param.substr(equals + 1));
    if (proto.size() >= 2 && proto.front() == '"' && proto.back() == '"')
      proto = proto.substr(1, proto.size() - 2);
    if (proto == kProtoV2)
      return Answer(415, reject::kUnsupportedMediaType,
                    "remote write 2.0 (io.prometheus.write.v2.Request) is not supported; send "
                    "1.0 (prometheus.WriteRequest)");
    if (proto != kProtoV1)
      return Answer(415, reject::kUnsupportedMediaType,
                    "unsupported proto; only prometheus.WriteRequest");
  }
  return std::nullopt;
}

ReceiverResponse Process(std::string_view content_type, std::string_view content_encoding,
                         std::string_view body, const ReceiverLimits& limits, RelayStore& store,
                         Clock::time_point now, ReceiverScratch& scratch) {
  if (auto refused = CheckWriteHeaders(content_type, content_encoding, body.size(), limits))
    return *refused;
  std::string error;
  if (!SnappyUncompress(body, limits.max_decoded_bytes, scratch.decoded, &error))
    return Answer(400, reject::kMalformed, "snappy: " + error);
  if (!DecodeWriteRequest(scratch.decoded, scratch.request, &error, limits.decode))
    return Answer(400, reject::kMalformed, "protobuf: " + error);
  IngestResult result = store.Ingest(scratch.request, now);
  switch (result.status) {
    case IngestStatus::kInvalid:
      return Answer(400, result.reason, "invalid series: " + result.error);
    case IngestStatus::kTooManySeries:
      return Answer(429, result.reason,
                    std::string(result.reason == reject::kMaxBytes ? "store bytes" : "series") +
                        " limit reached: " + std::to_string(result.refused_series) +
                        " new series refused");
    case IngestStatus::kOk:
      break;
  }
  return Answer(204, {}, "");
}

// Pooled buffers that grew past this after a big request are freed rather than kept.
constexpr size_t kMaxPooledBytes = 8 * 1024 * 1024;
constexpr size_t kMaxPooled = 8;

}  // namespace

std::optional<ReceiverResponse> CheckWriteHeaders(std::string_view content_type,
                                                  std::string_view content_encoding,
                                                  std::optional<size_t> content_length,
                                                  const ReceiverLimits& limits) {
  const std::string_view encoding = TrimSpace(content_encoding);
  if (!encoding.empty() && !EqualsIgnoreCase(encoding, "snappy"))
    return Answer(415, reject::kUnsupportedMediaType, "Content-Encoding must be snappy");
  if (auto refused = CheckContentType(content_type)) return refused;
  if (content_length && *content_length > limits.max_body_bytes)
    return Answer(413, reject::kBodyTooLarge,
                  "body over " + std::to_string(limits.max_body_bytes) + " bytes");
  return std::nullopt;
}

ReceiverResponse HandleWrite(std::string_view content_type, std::string_view content_encoding,
                             std::string_view body, const ReceiverLimits& limits, RelayStore& store,
                             Clock::time_point now, ReceiverScratch* scratch) {
  ReceiverScratch local;
  ReceiverResponse response = Process(content_type, content_encoding, body, limits, store, now,
                                      scratch != nullptr ? *scratch : local);
  store.CountRequest(response.status, response.reason);
  return response;
}

ReceiverResponse Receiver::Handle(std::string_view content_type, std::string_view content_encoding,
                                  std::string_view body, Clock::time_point now) {
  std::unique_ptr<ReceiverScratch> scratch;
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      scratch = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!scratch) scratch = std::make_unique<ReceiverScratch>();
  ReceiverResponse response =
      HandleWrite(content_type, content_encoding, body, limits_, store_, now, scratch.get());
  const size_t held = scratch->decoded.capacity() +
                      scratch->request.labels.capacity() * sizeof(LabelRef) +
                      scratch->request.samples.capacity() * sizeof(Sample) +
                      scratch->request.series.capacity() * sizeof(SeriesRef);
  if (held <= kMaxPooledBytes) {
    std::lock_guard lock(pool_mutex_);
    if (pool_.size() < kMaxPooled) pool_.push_back(std::move(scratch));
  }
  return response;
}

}  // namespace podstat::remote_write
