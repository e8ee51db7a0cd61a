#include "podstat/app/self_metrics.h"

#include <array>
#include <map>

#include "podstat/metrics/catalogue.h"

namespace podstat::app {
namespace {

using metrics::Label;
using metrics::MetricSpec;

// One family's BeginFamily/EndFamily around the series written by `write`.
template <typename Write>
void Family(metrics::SeriesSink& sink, const MetricSpec& spec, Write write) {
  sink.BeginFamily(spec.name,
                   spec.kind == metrics::Kind::kCounter ? metrics::FamilyType::kCounter
                                                        : metrics::FamilyType::kGauge,
                   spec.help, /*keep_when_empty=*/false);
  write();
  sink.EndFamily();
}

void WriteRelay(const remote_write::RelayStats& stats, metrics::SeriesSink& sink) {
  auto one = [&](const Label& label, double value) {
    sink.Series(nullptr, std::span<const Label>(&label, 1), value);
  };
  Family(sink, metrics::kReceiverRequests, [&] {
    std::map<int, uint64_t> requests = stats.requests;
    for (int code : {204, 400, 413, 415, 429}) requests.emplace(code, 0);  // there from the start
    for (const auto& [code, count] : requests) {
      const std::string text = std::to_string(code);
      one({"code", text}, static_cast<double>(count));
    }
  });
  Family(sink, metrics::kReceiverRejectedRequests, [&] {
    std::map<std::string, uint64_t, std::less<>> rejected = stats.rejected_requests;
    for (std::string_view reason : remote_write::reject::kAll) rejected.emplace(reason, 0);
    for (const auto& [reason, count] : rejected)
      one({"reason", reason}, static_cast<double>(count));
  });
  Family(sink, metrics::kReceiverSamples, [&] {
    one({"result", "accepted"}, static_cast<double>(stats.samples_accepted));
    one({"result", "filtered"}, static_cast<double>(stats.samples_filtered));
    one({"result", "out_of_order"}, static_cast<double>(stats.samples_out_of_order));
    one({"result", "rejected"}, static_cast<double>(stats.samples_rejected));
  });
  Family(sink, metrics::kReceiverSeries,
         [&] { sink.Series(nullptr, {}, static_cast<double>(stats.series)); });
  Family(sink, metrics::kReceiverStoreBytes,
         [&] { sink.Series(nullptr, {}, static_cast<double>(stats.bytes)); });
  Family(sink, metrics::kReceiverSeriesLimitRejections,
         [&] { sink.Series(nullptr, {}, static_cast<double>(stats.series_limit_rejections)); });
}

void WriteSenders(const std::vector<remote_write::EndpointStats>& senders,
                  metrics::SeriesSink& sink) {
  using Stats = remote_write::EndpointStats;
  static constexpr std::pair<const MetricSpec*, double (*)(const Stats&)> kFamilies[] = {
      {&metrics::kRemoteWriteSamples,
       [](const Stats& s) { return static_cast<double>(s.samples); }},
      {&metrics::kRemoteWriteFailedSamples,
       [](const Stats& s) { return static_cast<double>(s.failed_samples); }},
      {&metrics::kRemoteWriteDroppedSamples,
       [](const Stats& s) { return static_cast<double>(s.dropped_samples); }},
      {&metrics::kRemoteWriteRetries,
       [](const Stats& s) { return static_cast<double>(s.retries); }},
      {&metrics::kRemoteWriteQueueLength,
       [](const Stats& s) { return static_cast<double>(s.queue_length); }},
      {&metrics::kRemoteWriteLastSuccess,
       [](const Stats& s) { return s.last_success_timestamp_seconds; }},
  };
  if (senders.empty()) return;
  for (const auto& [spec, value] : kFamilies) {
    Family(sink, *spec, [&] {
      for (const Stats& s : senders) {
        const Label url{"url", s.url};
        sink.Series(nullptr, std::span<const Label>(&url, 1), value(s));
      }
    });
  }
}

void WriteServers(const std::vector<http::ServerStats>& servers, metrics::SeriesSink& sink) {
  if (servers.empty()) return;
  using Stats = http::ServerStats;
  // Each listener's series: {listener} alone, or with one more label.
  auto per_listener = [&](const MetricSpec& spec, auto write) {
    Family(sink, spec, [&] {
      for (const Stats& s : servers) {
        auto add = [&](double value, const Label* extra = nullptr) {
          std::array<Label, 2> labels = {Label{"listener", s.name}, Label{}};
          size_t count = 1;
          if (extra) labels[count++] = *extra;
          sink.Series(nullptr, std::span<const Label>(labels.data(), count), value);
        };
        write(s, add);
      }
    });
  };
  auto value = [](auto field) {
    return [field](const Stats& s, auto add) { add(static_cast<double>(s.*field)); };
  };
  per_listener(metrics::kHttpConnections, value(&Stats::connections_open));
  per_listener(metrics::kHttpConnectionsAccepted, value(&Stats::connections_accepted));
  per_listener(metrics::kHttpRefused, [](const Stats& s, auto add) {
    for (const auto& [reason, count] :
         {std::pair{"max_connections", s.refused_max_connections},
          std::pair{"max_connections_per_client", s.refused_max_connections_per_client},
          std::pair{"body_budget", s.refused_body_budget}}) {
      const Label label{"reason", reason};
      add(static_cast<double>(count), &label);
    }
  });
  per_listener(metrics::kHttpTimeouts, [](const Stats& s, auto add) {
    for (const auto& [phase, count] :
         {std::pair{"header", s.timeouts_header}, std::pair{"body", s.timeouts_body},
          std::pair{"write", s.timeouts_write}}) {
      const Label label{"phase", phase};
      add(static_cast<double>(count), &label);
    }
  });
  per_listener(metrics::kHttpTlsHandshakeFailures, value(&Stats::tls_handshake_failures));
  per_listener(metrics::kHttpAuthFailures, value(&Stats::auth_failures));
  per_listener(metrics::kHttpResponses, [](const Stats& s, auto add) {
    for (const auto& [code, count] : s.responses) {
      const std::string text = std::to_string(code);
      const Label label{"code", text};
      add(static_cast<double>(count), &label);
    }
  });
  per_listener(metrics::kHttpWebConfigReloadFailures, value(&Stats::web_config_reload_failures));
  per_listener(metrics::kHttpWebConfigLastReloadOk,
               [](const Stats& s, auto add) { add(s.web_config_last_reload_ok ? 1 : 0); });
}

}  // namespace

void WriteSelfFamilies(const SelfMetricsInput& input, metrics::SeriesSink& sink) {
  if (input.relay) WriteRelay(*input.relay, sink);
  WriteSenders(input.senders, sink);
  WriteServers(input.servers, sink);
}

std::string RenderSelfFamilies(const SelfMetricsInput& input) {
  std::string text;
  metrics::TextSink sink(text);
  WriteSelfFamilies(input, sink);
  return text;
}

}  // namespace podstat::app
