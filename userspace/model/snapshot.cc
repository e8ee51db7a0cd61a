#include "podstat/model/snapshot.h"

#include <algorithm>
#include <iterator>

namespace podstat::model {
namespace {

void AddCounts(std::optional<TcpStateCounts>& into, const std::optional<TcpStateCounts>& more) {
  if (!more) return;
  if (!into) into.emplace();
  for (size_t i = 0; i < more->size(); ++i) (*into)[i] += (*more)[i];
}

}  // namespace

void AddInto(CgroupCpu& into, const CgroupCpu& more) {
  into.usage_ns += more.usage_ns;
  into.user_ns += more.user_ns;
  into.system_ns += more.system_ns;
  if (more.runqueue_wait_ns)
    into.runqueue_wait_ns = into.runqueue_wait_ns.value_or(0) + *more.runqueue_wait_ns;
}

void AddInto(CgroupMemory& into, const CgroupMemory& more) {
  into.usage_bytes += more.usage_bytes;
  into.working_set_bytes += more.working_set_bytes;
  into.rss_bytes += more.rss_bytes;
  into.cache_bytes += more.cache_bytes;
  into.inactive_file_bytes += more.inactive_file_bytes;
  // Unlimited if either is: the sum of what both may use has no bound then.
  into.limit_bytes = into.limit_bytes && more.limit_bytes
                         ? std::optional<uint64_t>(*into.limit_bytes + *more.limit_bytes)
                         : std::nullopt;
  into.oom_kills += more.oom_kills;
}

void MergeInto(CgroupStats& into, CgroupStats&& more) {
  AddCounts(into.tcp, more.tcp);
  AddCounts(into.tcp_inet6, more.tcp_inet6);
  if (more.sockets) {
    if (!into.sockets) into.sockets.emplace();
    for (size_t family = 0; family < more.sockets->size(); ++family) {
      for (size_t kind = 0; kind < (*more.sockets)[family].size(); ++kind) {
        (*into.sockets)[family][kind] += (*more.sockets)[family][kind];
      }
    }
  }
  if (more.tcp_events) {
    if (!into.tcp_events) into.tcp_events.emplace();
    into.tcp_events->retransmits += more.tcp_events->retransmits;
    into.tcp_events->connect_failures += more.tcp_events->connect_failures;
    into.tcp_events->resets_sent += more.tcp_events->resets_sent;
    into.tcp_events->resets_received += more.tcp_events->resets_received;
  }
  // A namespace is reported once: the first of the cgroups folded into one label set keeps it.
  if (more.network && !into.network) into.network = std::move(more.network);
  if (more.cpu) {
    if (into.cpu) {
      AddInto(*into.cpu, *more.cpu);
    } else {
      into.cpu = more.cpu;
    }
  }
  if (more.memory) {
    if (into.memory) {
      AddInto(*into.memory, *more.memory);
    } else {
      into.memory = more.memory;
    }
  }
  // Generic samples of one (spec, labels) add up, like every other value of one label set.
  for (Sample& sample : more.samples) {
    const auto same = std::find_if(into.samples.begin(), into.samples.end(), [&](const Sample& s) {
      return s.spec == sample.spec && s.labels == sample.labels;
    });
    if (same != into.samples.end()) {
      same->value += sample.value;
    } else {
      into.samples.push_back(std::move(sample));
    }
  }
  into.processes.insert(into.processes.end(), std::make_move_iterator(more.processes.begin()),
                        std::make_move_iterator(more.processes.end()));
}

}  // namespace podstat::model
