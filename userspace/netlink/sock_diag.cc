#include "podstat/netlink/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "podstat/util/file.h"

namespace podstat::netlink {
namespace {

// A dump walks the kernel's whole socket hash; if the kernel goes quiet for this long something is
// wrong, and the caller (seeding, reconcile) would rather report it than hang.
constexpr int kReceiveTimeoutSeconds = 5;

// The kernel sizes dump datagrams after the largest recv() it has seen, capped near 32 KiB (unless
// an attribute forces a bigger skb); 64 KiB avoids the peek-and-grow path in practice.
constexpr size_t kReceiveBufferBytes = 64 * 1024;

// Larger datagrams than this are not something sock_diag produces; refusing them bounds memory if
// the kernel (or a test) ever claims an absurd length.
constexpr size_t kMaxDatagramBytes = 16 * 1024 * 1024;

// Stale replies of an aborted dump are drained before a new request; this bounds that loop even if
// something keeps feeding the socket.
constexpr int kMaxDrainReceives = 1 << 16;

constexpr size_t Align4(size_t length) { return (length + 3) & ~static_cast<size_t>(3); }

constexpr size_t kHeaderBytes = sizeof(nlmsghdr);
constexpr size_t kDiagMsgBytes = sizeof(inet_diag_msg);
constexpr size_t kAttrHeaderBytes = sizeof(nlattr);

static_assert(kHeaderBytes == 16);
static_assert(kDiagMsgBytes == 72);
static_assert(sizeof(inet_diag_req_v2) == 56);
static_assert(kAttrHeaderBytes == 4);

// Callers guarantee offset + sizeof(T) <= bytes.size(). memcpy because nothing promises a
// recv() buffer (or a span into one) is aligned for T.
template <typename T>
T Load(std::span<const uint8_t> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

void SetError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
}

const char* FamilyName(uint8_t family) {
  switch (family) {
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    default:
      return "unknown family";
  }
}

// Fills socket.cgroup_id from the attributes after struct inet_diag_msg. Returns false (with
// *error) on a malformed attribute.
bool ParseAttributes(std::span<const uint8_t> payload, DiagSocket& socket, std::string* error) {
  size_t offset = Align4(kDiagMsgBytes);
  while (offset < payload.size()) {
    const size_t remaining = payload.size() - offset;
    if (remaining < kAttrHeaderBytes) {
      SetError(error, "truncated netlink attribute header (" + std::to_string(remaining) +
                          " bytes left in the message)");
      return false;
    }
    const auto attr = Load<nlattr>(payload, offset);
    if (attr.nla_len < kAttrHeaderBytes || attr.nla_len > remaining) {
      SetError(error, "netlink attribute length " + std::to_string(attr.nla_len) + " outside the " +
                          std::to_string(remaining) + " bytes left in the message");
      return false;
    }
    // NLA_F_NESTED / NLA_F_NET_BYTEORDER ride in the top bits of the type.
    if ((attr.nla_type & NLA_TYPE_MASK) == INET_DIAG_CGROUP_ID) {
      if (attr.nla_len - kAttrHeaderBytes < sizeof(uint64_t)) {
        SetError(error, "INET_DIAG_CGROUP_ID attribute carries " +
                            std::to_string(attr.nla_len - kAttrHeaderBytes) + " bytes, expected 8");
        return false;
      }
      socket.cgroup_id = Load<uint64_t>(payload, offset + kAttrHeaderBytes);
    }
    // The last attribute of a message may lack its alignment padding.
    offset += std::min(Align4(attr.nla_len), remaining);
  }
  return true;
}

// ParseDumpReply plus what DumpTcp needs and the public API does not expose: messages whose
// sequence differs from expected_sequence (when given) are skipped, so replies to an earlier,
// abandoned request cannot be mistaken for this one; and the kernel's errno of an NLMSG_ERROR or a
// failed NLMSG_DONE is returned in *kernel_errno, so "family not supported" can be told apart.
ParseResult ParseReply(std::span<const uint8_t> buffer, std::optional<uint32_t> expected_sequence,
                       std::vector<DiagSocket>& out, std::string* error, int* kernel_errno) {
  const size_t initial_size = out.size();
  auto fail = [&](std::string message) {
    // Sockets from before a malformed message are suspect too: leave out as it was.
    out.resize(initial_size);
    SetError(error, std::move(message));
    return ParseResult::kError;
  };

  size_t offset = 0;
  while (offset < buffer.size()) {
    const size_t remaining = buffer.size() - offset;
    if (remaining < kHeaderBytes) {
      return fail("truncated netlink header: " + std::to_string(remaining) + " bytes at offset " +
                  std::to_string(offset));
    }
    const auto header = Load<nlmsghdr>(buffer, offset);
    if (header.nlmsg_len < kHeaderBytes) {
      return fail("netlink message at offset " + std::to_string(offset) + " declares length " +
                  std::to_string(header.nlmsg_len) + ", shorter than its header");
    }
    if (header.nlmsg_len > remaining) {
      return fail("netlink message at offset " + std::to_string(offset) + " declares length " +
                  std::to_string(header.nlmsg_len) + " but only " + std::to_string(remaining) +
                  " bytes remain");
    }
    const auto payload = buffer.subspan(offset + kHeaderBytes, header.nlmsg_len - kHeaderBytes);
    const size_t next = offset + std::min(Align4(header.nlmsg_len), remaining);

    if (expected_sequence && header.nlmsg_seq != *expected_sequence) {
      offset = next;
      continue;
    }

    switch (header.nlmsg_type) {
      case NLMSG_DONE: {
        // Since Linux 2.6 the kernel appends the dump's final status; a dump that failed midway
        // (e.g. -ENOBUFS, -EINTR) reports it here rather than in NLMSG_ERROR.
        if (payload.size() >= sizeof(int)) {
          const int status = Load<int>(payload, 0);
          if (status < 0) {
            if (kernel_errno) *kernel_errno = -status;
            return fail("dump ended with error: " + ErrnoMessage(-status));
          }
        }
        return ParseResult::kDone;
      }
      case NLMSG_ERROR: {
        if (payload.size() < sizeof(int)) {
          return fail("NLMSG_ERROR message too short to carry an error code");
        }
        const int code = Load<int>(payload, 0);
        if (code > 0) return fail("NLMSG_ERROR with positive code " + std::to_string(code));
        // Zero is an acknowledgement; a dump only gets one if NLM_F_ACK was asked for.
        if (code < 0) {
          if (kernel_errno) *kernel_errno = -code;
          return fail("kernel answered: " + ErrnoMessage(-code));
        }
        break;
      }
      case SOCK_DIAG_BY_FAMILY:
      case TCPDIAG_GETSOCK: {  // the compat request's replies carry its type
        if (payload.size() < kDiagMsgBytes) {
          return fail("sock_diag message carries " + std::to_string(payload.size()) +
                      " bytes, shorter than struct inet_diag_msg (" +
                      std::to_string(kDiagMsgBytes) + ")");
        }
        const auto msg = Load<inet_diag_msg>(payload, 0);
        DiagSocket socket;
        socket.family = msg.idiag_family;
        socket.state = msg.idiag_state;
        socket.inode = msg.idiag_inode;
        std::string attr_error;
        if (!ParseAttributes(payload, socket, &attr_error)) {
          return fail("sock_diag message at offset " + std::to_string(offset) + ": " + attr_error);
        }
        out.push_back(socket);
        break;
      }
      default:
        // NLMSG_NOOP and anything newer kernels may interleave carry no sockets.
        break;
    }
    offset = next;
  }
  return ParseResult::kMore;
}

UniqueFd CreateDiagSocket(int* error_number) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) *error_number = errno;
  return UniqueFd(fd);
}

bool IsFamilyUnsupported(int kernel_errno) {
  // ENOENT: no sock_diag handler registered for the family (the kernel's answer when IPv6 diag is
  // absent); the others are what a kernel built without the family would plausibly say.
  return kernel_errno == ENOENT || kernel_errno == EAFNOSUPPORT || kernel_errno == EPROTONOSUPPORT;
}

// Receives one whole datagram from the kernel into buffer, growing it when MSG_TRUNC reports the
// datagram is larger: a truncated dump datagram would silently lose sockets. Returns the datagram
// length, or -errno.
ssize_t ReceiveDatagram(int fd, std::vector<uint8_t>& buffer) {
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_length = sizeof(from);
    ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_PEEK | MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (static_cast<size_t>(n) > buffer.size()) {
      if (static_cast<size_t>(n) > kMaxDatagramBytes) return -EMSGSIZE;
      buffer.resize(static_cast<size_t>(n));
      continue;
    }
    n = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                   &from_length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    // Another root process could unicast to our port; only the kernel (port 0) answers dumps.
    if (from.nl_pid != 0) continue;
    return n;
  }
}

}  // namespace

namespace {

// The bytes of a dump request: a netlink header of `type` and then `request`, no padding between
// (both are multiples of 4 bytes).
template <typename Request>
std::vector<uint8_t> DumpRequestBytes(uint16_t type, uint32_t sequence, const Request& request) {
  struct {
    nlmsghdr header;
    Request request;
  } message{};
  static_assert(sizeof(message) == kHeaderBytes + sizeof(Request));
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = sequence;
  message.request = request;
  std::vector<uint8_t> bytes(sizeof(message));
  std::memcpy(bytes.data(), &message, sizeof(message));
  return bytes;
}

}  // namespace

std::vector<uint8_t> BuildDumpRequest(uint8_t protocol, uint8_t family, uint32_t state_mask,
                                      uint32_t sequence) {
  inet_diag_req_v2 request{};
  request.sdiag_family = family;
  request.sdiag_protocol = protocol;
  request.idiag_states = state_mask;
  // No extension bits: INET_DIAG_CGROUP_ID (21) is past what the u8 idiag_ext can express, and
  // inet_diag_msg_attrs_fill() emits it for every full socket regardless (CONFIG_SOCK_CGROUP_DATA).
  // Any bit set here would only add attributes (meminfo, tcp_info...) we do not read.
  request.idiag_ext = 0;
  return DumpRequestBytes(SOCK_DIAG_BY_FAMILY, sequence, request);
}

std::vector<uint8_t> BuildCompatTcpDumpRequest(uint32_t state_mask, uint32_t sequence) {
  inet_diag_req request{};
  // Not a filter: inet_diag_dump_compat() dumps AF_UNSPEC, i.e. both families.
  request.idiag_family = AF_INET;
  request.idiag_states = state_mask;
  request.idiag_ext = 0;  // as above: the cgroup id comes without asking
  return DumpRequestBytes(TCPDIAG_GETSOCK, sequence, request);
}

ParseResult ParseDumpReply(std::span<const uint8_t> buffer, std::vector<DiagSocket>& out,
                           std::string* error) {
  return ParseReply(buffer, std::nullopt, out, error, nullptr);
}

std::optional<SockDiagClient> SockDiagClient::Open(int netns_fd, std::string* error) {
  UniqueFd fd;
  int error_number = 0;
  if (netns_fd < 0) {
    fd = CreateDiagSocket(&error_number);
    if (!fd) {
      SetError(error, "socket(AF_NETLINK, NETLINK_SOCK_DIAG): " + ErrnoMessage(error_number));
      return std::nullopt;
    }
  } else {
    // The network namespace is per thread; a socket keeps the namespace it was created in. So a
    // throwaway thread enters the namespace, creates the socket and dies, and no agent thread ever
    // runs inside a container's namespace.
    const char* failed_call = nullptr;
    try {
      std::thread helper([&] {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
          error_number = errno;
          failed_call = "setns(CLONE_NEWNET)";
          return;
        }
        fd = CreateDiagSocket(&error_number);
        if (!fd) failed_call = "socket(AF_NETLINK, NETLINK_SOCK_DIAG)";
      });
      helper.join();
    } catch (const std::system_error& e) {
      // std::thread reports a failed clone() (EAGAIN under a pids limit) only by throwing.
      SetError(error, std::string("cannot start the netns helper thread: ") + e.what());
      return std::nullopt;
    }
    if (failed_call) {
      SetError(error, std::string(failed_call) + " for netns fd " + std::to_string(netns_fd) +
                          ": " + ErrnoMessage(error_number));
      return std::nullopt;
    }
  }

  const timeval timeout{.tv_sec = kReceiveTimeoutSeconds, .tv_usec = 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    SetError(error, "setsockopt(SO_RCVTIMEO) on the sock_diag socket: " + ErrnoMessage(errno));
    return std::nullopt;
  }
  return SockDiagClient(std::move(fd));
}

namespace {

// One dump request (of one family, or the compat one of both) on an open socket. Appends to out
// only on success. *kernel_errno is set when the failure is the kernel's answer rather than a
// local syscall's.
bool DumpRequest(int fd, const std::vector<uint8_t>& request, uint8_t protocol, uint32_t sequence,
                 std::vector<uint8_t>& buffer, std::vector<DiagSocket>& out, int* kernel_errno,
                 std::string* error) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = ::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    SetError(error, "send: " + ErrnoMessage(errno));
    return false;
  }
  if (static_cast<size_t>(sent) != request.size()) {
    SetError(error, "send: short write of " + std::to_string(sent) + " of " +
                        std::to_string(request.size()) + " bytes");
    return false;
  }

  std::vector<DiagSocket> sockets;
  for (;;) {
    const ssize_t n = ReceiveDatagram(fd, buffer);
    if (n < 0) {
      const int receive_errno = static_cast<int>(-n);
      std::string message = "recv: " + ErrnoMessage(receive_errno);
      if (receive_errno == EAGAIN || receive_errno == EWOULDBLOCK) {
        message += " (no reply within " + std::to_string(kReceiveTimeoutSeconds) + " s)";
      }
      SetError(error, std::move(message));
      return false;
    }
    const std::span<const uint8_t> datagram(buffer.data(), static_cast<size_t>(n));
    switch (ParseReply(datagram, sequence, sockets, error, kernel_errno)) {
      case ParseResult::kMore:
        continue;
      case ParseResult::kDone:
        for (DiagSocket& socket : sockets) socket.protocol = protocol;
        out.insert(out.end(), sockets.begin(), sockets.end());
        return true;
      case ParseResult::kError:
        return false;
    }
  }
}

// Reads and drops whatever an earlier, abandoned dump left queued. Needed beyond the sequence
// check: while a dump is still running on a netlink socket the kernel refuses the next one with
// EBUSY, and each recv() here lets the kernel produce the next part until the old dump finishes.
void DrainStaleReplies(int fd, std::vector<uint8_t>& buffer) {
  for (int i = 0; i < kMaxDrainReceives; ++i) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
  }
}

}  // namespace

bool SockDiagClient::Dump(uint8_t protocol, std::vector<DiagSocket>& out, std::string* error,
                          uint32_t state_mask, bool* unsupported) {
  if (unsupported) *unsupported = false;
  std::vector<uint8_t> buffer(kReceiveBufferBytes);
  DrainStaleReplies(fd_.get(), buffer);

  std::vector<DiagSocket> sockets;
  // TCP both families in one request: a dump walks the whole established hash (262,144 buckets
  // on this 24 GB host) whatever the namespace holds, so two requests walk it twice. The compat
  // TCPDIAG_GETSOCK request (inet_diag_rcv_msg_compat, in every kernel since 2.6) dumps
  // AF_UNSPEC in one walk with the same attributes, INET_DIAG_CGROUP_ID included: 3.6 ms instead
  // of 4.3 + 2.6 ms per namespace here. A kernel that answers it with an error gets the two
  // requests of sock_diag's own interface, which then also say what is unsupported.
  if (protocol == IPPROTO_TCP) {
    last_tcp_dump_in_one_walk_ = false;
    int kernel_errno = 0;
    std::string compat_error;
    const uint32_t sequence = sequence_++;
    if (DumpRequest(fd_.get(), BuildCompatTcpDumpRequest(state_mask, sequence), protocol, sequence,
                    buffer, sockets, &kernel_errno, &compat_error)) {
      last_tcp_dump_in_one_walk_ = true;
      out.insert(out.end(), sockets.begin(), sockets.end());
      return true;
    }
    // A local failure (send, recv, a malformed reply) is not the kernel saying no.
    if (kernel_errno == 0) {
      SetError(error, "sock_diag dump of TCP sockets: " + compat_error);
      return false;
    }
    sockets.clear();
  }
  for (const uint8_t family : std::array<uint8_t, 2>{AF_INET, AF_INET6}) {
    int kernel_errno = 0;
    std::string family_error;
    const uint32_t sequence = sequence_++;
    if (DumpRequest(fd_.get(), BuildDumpRequest(protocol, family, state_mask, sequence), protocol,
                    sequence, buffer, sockets, &kernel_errno, &family_error)) {
      continue;
    }
    // A kernel without IPv6 diag has no IPv6 sockets to report; that is not a failed dump.
    if (family == AF_INET6 && IsFamilyUnsupported(kernel_errno)) continue;
    // No diag handler for the protocol at all (inet_diag answers ENOENT): nothing to dump here.
    if (family == AF_INET && unsupported && IsFamilyUnsupported(kernel_errno)) {
      *unsupported = true;
      return true;
    }
    SetError(error, std::string("sock_diag dump of ") + FamilyName(family) +
                        (protocol == IPPROTO_UDP ? " UDP" : " TCP") + " sockets: " + family_error);
    return false;
  }
  out.insert(out.end(), sockets.begin(), sockets.end());
  return true;
}

}  // namespace podstat::netlink
