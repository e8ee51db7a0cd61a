// What both receiver fuzz targets do with one body: the whole /api/v1/write path (snappy,
// protobuf, validation, the allow-list, ingest), then the store's exposition. Every answer must be
// one of the documented codes, with a body and a counted reason for each refusal.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/remote_write/receiver.h"

namespace podstat::fuzz {

// `allow_metrics` empty: the default list (plain names, matched through a hash set).
inline void FuzzOneWrite(std::string_view body, const std::vector<std::string>& allow_metrics) {
  namespace rw = podstat::remote_write;
  rw::RelayOptions options;
  if (!allow_metrics.empty()) options.allow_metrics = allow_metrics;
  options.max_series = 100;
  options.max_bytes = 1 << 20;
  auto store = rw::RelayStore::Create(options, nullptr);
  if (!store) std::abort();
  rw::ReceiverLimits limits;
  limits.max_body_bytes = 1 << 20;
  limits.max_decoded_bytes = 4 << 20;
  limits.decode.max_series = 5000;
  limits.decode.max_samples = 20'000;
  limits.decode.max_labels = 50'000;
  const rw::ReceiverResponse response =
      rw::HandleWrite("application/x-protobuf", "snappy", body, limits, *store, rw::Clock::now());
  switch (response.status) {
    case 204:
      if (!response.body.empty() || !response.reason.empty()) std::abort();
      break;
    case 400:
    case 413:
    case 429:
      if (response.body.empty() || response.reason.empty()) std::abort();
      break;
    default:
      std::abort();
  }
  (void)store->RenderExposition(rw::Clock::now());
  // The relay's self-metrics come from Stats() through app/self_metrics.cc (fixed labels).
  (void)store->Stats();
}

}  // namespace podstat::fuzz
