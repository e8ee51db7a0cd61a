// Between podstat's exposition (prometheus-cpp metric families) and remote_write: our own
// families become series for the sender, and series relayed by the receiver join the families
// served on /metrics. Pure functions over values.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <vector>

#include "podstat/remote_write/proto.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::app {

// One series per metric of the (counter, gauge, untyped) families, __name__ first then the
// metric's labels, one sample at timestamp_ms. The sender sorts labels and adds external ones.
std::vector<remote_write::TimeSeries> FamiliesToSeries(
    const std::vector<prometheus::MetricFamily>& families, int64_t timestamp_ms);

// Adds relayed series to `families`: into podstat's own family of the same name (a name may be
// exported only once per page), else into a new untyped family. No timestamps: the relay keeps
// only the newest sample and expires series after --receiver.ttl.
void MergeRelayed(std::vector<prometheus::MetricFamily>& families,
                  const std::vector<remote_write::RelayFamily>& relayed);

}  // namespace podstat::app
