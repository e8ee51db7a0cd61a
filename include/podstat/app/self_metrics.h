// The relay's, the sender's and the HTTP listeners' own families, through the exposition writer
// (metrics/exposition.h) like every other family: names, types and HELP from the catalogue.
// Fresh at every scrape: their counters move between snapshots.
#pragma once

#include <string>
#include <vector>

#include "podstat/http/server.h"
#include "podstat/metrics/exposition.h"
#include "podstat/remote_write/relay_store.h"
#include "podstat/remote_write/sender.h"

namespace podstat::app {

struct SelfMetricsInput {
  const remote_write::RelayStats* relay = nullptr;   // null without --receiver.enable
  std::vector<remote_write::EndpointStats> senders;  // one per --remote-write.url
  std::vector<http::ServerStats> servers;            // one per listener
};

void WriteSelfFamilies(const SelfMetricsInput& input, metrics::SeriesSink& sink);

// WriteSelfFamilies as exposition text.
std::string RenderSelfFamilies(const SelfMetricsInput& input);

}  // namespace podstat::app
