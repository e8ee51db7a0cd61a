// /proc/<pid>/net/sockstat and sockstat6: "TCP: inuse 3 orphan 0 tw 5 alloc 4 mem 1".
// Per network namespace: inuse, orphan (TCP), tw. Global to the kernel: sockets used, TCP alloc,
// mem, FRAG memory. Reading it costs ~35 us per namespace (DESIGN.md section 10).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace podstat::procfs {

// protocol ("TCP", "UDP6", "sockets", ...) -> field ("inuse", "tw", ...) -> value.
using Sockstat = std::map<std::string, std::map<std::string, uint64_t>, std::less<>>;

// Lines that do not parse are skipped; a field without a numeric value is dropped.
Sockstat ParseSockstat(std::string_view text);

std::optional<uint64_t> SockstatField(const Sockstat& stat, std::string_view protocol,
                                      std::string_view field);

}  // namespace podstat::procfs
