// Per-network-namespace files under /proc/<pid>/net: interface counters (dev) and the socket
// tables (tcp, tcp6, udp, udp6, udplite, udplite6, raw, raw6). Pure parsers over the files' text.
//
// Costs differ a lot (DESIGN.md section 10): dev and sockstat are ~35 us per namespace, fine per
// sample; a socket table read walks the kernel's whole hash table (~1 ms per namespace even when it
// holds 10 sockets), so tables are read only when BPF does not count sockets.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "podstat/model/snapshot.h"

namespace podstat::procfs {

// /proc/<pid>/net/dev: one entry per interface, in file order. Lines that do not parse are skipped.
// Names are label values, so invalid UTF-8 in them is escaped (EscapeInvalidUtf8); two interfaces
// whose escaped names are equal are summed into the first.
std::vector<model::InterfaceStats> ParseNetDev(std::string_view text);

// A socket table summed up: what the fallback needs from /proc/<pid>/net/{tcp,udp,raw}{,6}.
struct SocketTableSummary {
  uint64_t lines = 0;              // sockets listed (TCP: time_wait and request sockets included)
  uint64_t held = 0;               // sockets a process holds open (model::IsHeldTcpSocket for TCP)
  model::TcpStateCounts states{};  // by the "st" column (TCP tables; UDP uses 1 and 7 too)
  uint64_t tx_queue = 0;           // bytes, summed
  uint64_t rx_queue = 0;
  uint64_t drops = 0;  // UDP and raw tables' last column
};

// is_tcp: apply model::IsHeldTcpSocket (else every socket with an inode is held).
SocketTableSummary ParseSocketTable(std::string_view text, bool is_tcp);

}  // namespace podstat::procfs
