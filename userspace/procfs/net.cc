#include "podstat/procfs/net.h"

#include <algorithm>

#include "podstat/util/strings.h"

namespace podstat::procfs {
namespace {

std::optional<uint64_t> ParseHex(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = value * 16 + static_cast<uint64_t>(digit);
  }
  return value;
}

}  // namespace

std::vector<model::InterfaceStats> ParseNetDev(std::string_view text) {
  std::vector<model::InterfaceStats> interfaces;
  for (std::string_view line : SplitLines(text)) {
    // "  eth0: 1234 ..." (old kernels glue a long name to the first number: "eth0:1234").
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // the two header lines have '|' instead
    const auto name_fields = SplitFields(line.substr(0, colon));
    if (name_fields.size() != 1) continue;
    const auto fields = SplitFields(line.substr(colon + 1));
    if (fields.size() < 16) continue;
    uint64_t values[16];
    bool ok = true;
    for (size_t i = 0; i < 16 && ok; ++i) {
      const auto value = ParseUint64(fields[i]);
      ok = value.has_value();
      if (ok) values[i] = *value;
    }
    if (!ok) continue;
    model::InterfaceStats stats;
    // Any bytes but '/', ':', NUL and whitespace: a process owning a network namespace (an
    // unprivileged user namespace suffices) names its interfaces as it likes.
    stats.name = EscapeInvalidUtf8(name_fields[0]);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets
    // errs drop fifo colls carrier compressed.
    stats.receive_bytes = values[0];
    stats.receive_packets = values[1];
    stats.receive_errors = values[2];
    stats.receive_dropped = values[3];
    stats.transmit_bytes = values[8];
    stats.transmit_packets = values[9];
    stats.transmit_errors = values[10];
    stats.transmit_dropped = values[11];
    // Two names give one label only when one spells \xHH in ASCII where the other has an invalid
    // byte (both have a backslash then): sum them, as one label set must be one series.
    if (stats.name.find('\\') != std::string::npos) {
      const auto same = std::find_if(interfaces.begin(), interfaces.end(),
                                     [&](const auto& other) { return other.name == stats.name; });
      if (same != interfaces.end()) {
        same->receive_bytes += stats.receive_bytes;
        same->receive_packets += stats.receive_packets;
        same->receive_errors += stats.receive_errors;
        same->receive_dropped += stats.receive_dropped;
        same->transmit_bytes += stats.transmit_bytes;
        same->transmit_packets += stats.transmit_packets;
        same->transmit_errors += stats.transmit_errors;
        same->transmit_dropped += stats.transmit_dropped;
        continue;
      }
    }
    interfaces.push_back(std::move(stats));
  }
  return interfaces;
}

SocketTableSummary ParseSocketTable(std::string_view text, bool is_tcp) {
  SocketTableSummary summary;
  bool header = true;
  for (std::string_view line : SplitLines(text)) {
    if (header) {  // "  sl  local_address rem_address   st tx_queue rx_queue ..."
      header = false;
      continue;
    }
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode [ref pointer drops (udp, raw)]
    const auto fields = SplitFields(line);
    if (fields.size() < 10) continue;
    const auto state = ParseHex(fields[3]);
    const size_t queue_colon = fields[4].find(':');
    const auto inode = ParseUint64(fields[9]);
    if (!state || queue_colon == std::string_view::npos || !inode) continue;
    const auto tx = ParseHex(fields[4].substr(0, queue_colon));
    const auto rx = ParseHex(fields[4].substr(queue_colon + 1));
    if (!tx || !rx) continue;
    ++summary.lines;
    if (*state >= 1 && *state <= summary.states.size()) ++summary.states[*state - 1];
    if (is_tcp ? model::IsHeldTcpSocket(static_cast<int>(*state), *inode) : *inode != 0) {
      ++summary.held;
    }
    summary.tx_queue += *tx;
    summary.rx_queue += *rx;
    if (!is_tcp && fields.size() >= 13) {
      if (const auto drops = ParseUint64(fields[12])) summary.drops += *drops;
    }
  }
  return summary;
}

}  // namespace podstat::procfs
