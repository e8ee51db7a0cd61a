#include "podstat/procfs/sockstat.h"

#include "podstat/util/strings.h"

namespace podstat::procfs {

Sockstat ParseSockstat(std::string_view text) {
  Sockstat stat;
  for (std::string_view line : SplitLines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    auto& fields = stat[std::string(line.substr(0, colon))];
    const auto words = SplitFields(line.substr(colon + 1));
    for (size_t i = 0; i + 1 < words.size(); i += 2) {
      if (const auto value = ParseUint64(words[i + 1])) fields[std::string(words[i])] = *value;
    }
  }
  return stat;
}

std::optional<uint64_t> SockstatField(const Sockstat& stat, std::string_view protocol,
                                      std::string_view field) {
  const auto proto = stat.find(protocol);
  if (proto == stat.end()) return std::nullopt;
  const auto value = proto->second.find(std::string(field));
  if (value == proto->second.end()) return std::nullopt;
  return value->second;
}

}  // namespace podstat::procfs
