// NETLINK_SOCK_DIAG (INET_DIAG) dumps of TCP sockets, with each socket's cgroup v2 id
// (INET_DIAG_CGROUP_ID, kernel 5.7+). Used to seed the BPF state gauges with sockets that existed
// before the agent started and to reconcile them periodically -- never on the scrape path: a dump
// walks the whole established hash (DESIGN.md section 10).
//
// The request builder and the reply parser are pure functions over bytes; SockDiagClient does the
// I/O. A netlink socket is bound to the network namespace it was created in, so one client is
// opened per namespace (Open) and kept while that namespace lives.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "podstat/util/fd.h"

namespace podstat::netlink {

// States 1 (ESTABLISHED) .. 12 (NEW_SYN_RECV). Bit 13 (TCP_BOUND_INACTIVE, 6.6+) is left out on
// purpose: it makes the kernel also list bound-but-unconnected sockets, reported as CLOSE.
inline constexpr uint32_t kAllTcpStates = 0x1ffe;

// One socket from a dump.
struct DiagSocket {
  uint8_t family = 0;      // AF_INET or AF_INET6
  uint8_t state = 0;       // kernel TCP state number (1 = ESTABLISHED ... 12 = NEW_SYN_RECV)
  uint64_t cgroup_id = 0;  // cgroup v2 id; 0 when the kernel sent none (timewait, request socks)
  uint32_t inode = 0;      // socket inode (0 for timewait sockets and sockets no process holds)
  uint8_t protocol = 6;    // IPPROTO_TCP or IPPROTO_UDP: which dump it came from
};

// Bytes of one inet_diag_req_v2 dump request for sockets of one protocol (IPPROTO_TCP,
// IPPROTO_UDP) and family in the given states (bit n = state n; ~0u = all), asking for
// INET_DIAG_CGROUP_ID.
std::vector<uint8_t> BuildDumpRequest(uint8_t protocol, uint8_t family, uint32_t state_mask,
                                      uint32_t sequence);
inline std::vector<uint8_t> BuildTcpDumpRequest(uint8_t family, uint32_t state_mask,
                                                uint32_t sequence) {
  return BuildDumpRequest(6 /* IPPROTO_TCP */, family, state_mask, sequence);
}

// Bytes of the compat TCPDIAG_GETSOCK dump request (struct inet_diag_req): TCP sockets of both
// families in the given states, in one walk of the kernel's hash (Dump() prefers it for TCP).
std::vector<uint8_t> BuildCompatTcpDumpRequest(uint32_t state_mask, uint32_t sequence);

enum class ParseResult { kMore, kDone, kError };

// Parses one recv() worth of netlink messages from a dump reply, appending sockets to out.
// kDone on NLMSG_DONE, kError on NLMSG_ERROR or malformed input (reason in *error), else kMore.
// Never reads outside buffer, whatever the declared lengths say.
ParseResult ParseDumpReply(std::span<const uint8_t> buffer, std::vector<DiagSocket>& out,
                           std::string* error);

class SockDiagClient {
 public:
  // Opens a NETLINK_SOCK_DIAG socket inside the network namespace referred to by netns_fd (an fd of
  // /proc/<pid>/ns/net), or in the caller's namespace when netns_fd < 0. The setns() happens on a
  // short-lived helper thread, so no thread of the agent ever changes namespace.
  static std::optional<SockDiagClient> Open(int netns_fd, std::string* error);

  // Dumps the sockets of one protocol (IPPROTO_TCP, IPPROTO_UDP), IPv4 and IPv6, in the states
  // of state_mask (bit n = state n). Returns false with *error on failure; out then holds nothing
  // new. *unsupported is set (and true returned) when the kernel has no diag module for the
  // protocol (UDP diag is a module of its own, CONFIG_INET_UDP_DIAG).
  bool Dump(uint8_t protocol, std::vector<DiagSocket>& out, std::string* error,
            uint32_t state_mask = ~0u, bool* unsupported = nullptr);
  bool DumpTcp(std::vector<DiagSocket>& out, std::string* error,
               uint32_t state_mask = kAllTcpStates) {
    return Dump(6 /* IPPROTO_TCP */, out, error, state_mask);
  }
  // Whether the last TCP Dump() took one request for both families (the compat one) rather
  // than one per family: how many walks of the kernel's hash a namespace costs.
  bool last_tcp_dump_in_one_walk() const { return last_tcp_dump_in_one_walk_; }

 private:
  explicit SockDiagClient(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  uint32_t sequence_ = 1;
  bool last_tcp_dump_in_one_walk_ = false;
};

}  // namespace podstat::netlink
