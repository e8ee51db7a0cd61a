// Snapshot -> Prometheus metric families -> text exposition. Pure: no I/O, no clock, no state.
// Series are built fresh from each snapshot, so a departed cgroup's series vanish at once.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <string>
#include <vector>

#include "podstat/model/snapshot.h"

namespace podstat::metrics {

struct BuildContext {
  std::string kernel_release;                   // for podstat_build_info
  std::chrono::system_clock::time_point now{};  // for podstat_snapshot_age_seconds
  bool compat_cadvisor = false;                 // also cAdvisor's names (--compat=cadvisor)
};

std::vector<prometheus::MetricFamily> BuildFamilies(const model::Snapshot& snapshot,
                                                    const BuildContext& context);

// Text exposition format 0.0.4.
std::string Serialize(const std::vector<prometheus::MetricFamily>& families);

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace podstat::metrics
