#include "podstat/netlink/sock_diag.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "podstat/util/fd.h"
#include "podstat/util/file.h"

namespace podstat::netlink {
namespace {

// Kernel TCP state numbers (include/net/tcp_states.h).
constexpr uint8_t kEstablished = 1;
constexpr uint8_t kTimeWait = 6;
constexpr uint8_t kListen = 10;

template <typename T>
T ReadAt(const std::vector<uint8_t>& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T>
void WriteAt(std::vector<uint8_t>& bytes, size_t offset, const T& value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
void Append(std::vector<uint8_t>& bytes, const T& value) {
  const auto* raw = reinterpret_cast<const uint8_t*>(&value);
  bytes.insert(bytes.end(), raw, raw + sizeof(T));
}

void PadTo4(std::vector<uint8_t>& bytes) {
  while (bytes.size() % 4 != 0) bytes.push_back(0);
}

// Appends one netlink attribute the way the kernel's nla_put() lays it out.
template <typename T>
void AppendAttribute(std::vector<uint8_t>& bytes, uint16_t type, const T& value) {
  nlattr attr{};
  attr.nla_len = static_cast<uint16_t>(sizeof(nlattr) + sizeof(T));
  attr.nla_type = type;
  Append(bytes, attr);
  Append(bytes, value);
  PadTo4(bytes);
}

// Builds reply buffers from the kernel's UAPI structs, independently of the parser under test.
class ReplyBuilder {
 public:
  // Appends one netlink message; returns the offset of its header.
  size_t AddMessage(uint16_t type, const std::vector<uint8_t>& payload, uint32_t sequence = 1) {
    const size_t offset = bytes_.size();
    nlmsghdr header{};
    header.nlmsg_len = static_cast<uint32_t>(sizeof(nlmsghdr) + payload.size());
    header.nlmsg_type = type;
    header.nlmsg_flags = NLM_F_MULTI;
    header.nlmsg_seq = sequence;
    header.nlmsg_pid = 4242;
    Append(bytes_, header);
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    PadTo4(bytes_);
    return offset;
  }

  // A full socket carries several attributes; the cgroup id is deliberately not the first, and
  // lands at an offset that is not 8-byte aligned, as on a real x86_64 kernel.
  size_t AddSocket(uint8_t family, uint8_t state, uint32_t inode, std::optional<uint64_t> cgroup,
                   uint32_t sequence = 1, uint16_t type = SOCK_DIAG_BY_FAMILY) {
    std::vector<uint8_t> payload;
    inet_diag_msg msg{};
    msg.idiag_family = family;
    msg.idiag_state = state;
    msg.id.idiag_sport = htons(8080);
    msg.idiag_uid = 1000;
    msg.idiag_inode = inode;
    Append(payload, msg);
    AppendAttribute(payload, INET_DIAG_SHUTDOWN, uint8_t{0});
    AppendAttribute(payload, INET_DIAG_MARK, uint32_t{0});
    if (cgroup) AppendAttribute(payload, INET_DIAG_CGROUP_ID, *cgroup);
    AppendAttribute(payload, INET_DIAG_SOCKOPT, uint16_t{0});
    return AddMessage(type, payload, sequence);
  }

  size_t AddDone(int status = 0) {
    std::vector<uint8_t> payload;
    Append(payload, status);
    return AddMessage(NLMSG_DONE, payload);
  }

  size_t AddError(int code) {
    std::vector<uint8_t> payload;
    nlmsgerr error{};
    error.error = code;
    error.msg.nlmsg_len = 72;
    error.msg.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    Append(payload, error);
    return AddMessage(NLMSG_ERROR, payload);
  }

  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Offset of the first attribute inside a message built by AddSocket.
constexpr size_t kFirstAttribute = sizeof(nlmsghdr) + sizeof(inet_diag_msg);

// The compat request dumps TCP of both families in one walk of the kernel's hash: nlmsghdr then
// struct inet_diag_req (family, src_len, dst_len, ext, 48-byte sockid, states, dbs).
TEST(SockDiagRequestTest, EncodesTheCompatTcpRequest) {
  const std::vector<uint8_t> bytes = BuildCompatTcpDumpRequest(0x0fbfu, 9);
  ASSERT_EQ(bytes.size(), 16u + 60u);
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 0), 76u);                          // nlmsg_len
  EXPECT_EQ(ReadAt<uint16_t>(bytes, 4), 18u);                          // TCPDIAG_GETSOCK
  EXPECT_EQ(ReadAt<uint16_t>(bytes, 6), 0x0001u | 0x0100u | 0x0200u);  // REQUEST|ROOT|MATCH
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 8), 9u);                           // nlmsg_seq
  EXPECT_EQ(bytes[16], AF_INET);  // ignored for a dump: inet_diag_dump_compat() dumps AF_UNSPEC
  EXPECT_EQ(bytes[19], 0u);       // idiag_ext
  for (size_t i = 20; i < 68; ++i) EXPECT_EQ(bytes[i], 0u) << "inet_diag_sockid byte " << i;
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 68), 0x0fbfu);  // idiag_states
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 72), 0u);       // idiag_dbs
  const auto request = ReadAt<inet_diag_req>(bytes, sizeof(nlmsghdr));
  EXPECT_EQ(request.idiag_states, 0x0fbfu);
}

TEST(SockDiagRequestTest, EncodesHeaderAndInetDiagReqV2) {
  const std::vector<uint8_t> bytes = BuildTcpDumpRequest(AF_INET6, 0x0fffu, 77);

  // Offsets fixed by the UAPI: nlmsghdr (16 bytes) then inet_diag_req_v2 (56 bytes).
  ASSERT_EQ(bytes.size(), 72u);
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 0), 72u);                          // nlmsg_len
  EXPECT_EQ(ReadAt<uint16_t>(bytes, 4), 20u);                          // SOCK_DIAG_BY_FAMILY
  EXPECT_EQ(ReadAt<uint16_t>(bytes, 6), 0x0001u | 0x0100u | 0x0200u);  // REQUEST|ROOT|MATCH
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 8), 77u);                          // nlmsg_seq
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 12), 0u);                          // nlmsg_pid: kernel fills
  EXPECT_EQ(bytes[16], AF_INET6);                                      // sdiag_family
  EXPECT_EQ(bytes[17], 6u);                                            // sdiag_protocol = TCP
  EXPECT_EQ(bytes[18], 0u);  // idiag_ext: the cgroup id needs no extension bit
  EXPECT_EQ(bytes[19], 0u);  // pad
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 20), 0x0fffu);  // idiag_states
  for (size_t i = 24; i < bytes.size(); ++i) {
    EXPECT_EQ(bytes[i], 0u) << "inet_diag_sockid byte " << i << " must be zero for a dump";
  }

  // The same through the UAPI structs.
  const auto header = ReadAt<nlmsghdr>(bytes, 0);
  EXPECT_EQ(header.nlmsg_type, SOCK_DIAG_BY_FAMILY);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  const auto request = ReadAt<inet_diag_req_v2>(bytes, sizeof(nlmsghdr));
  EXPECT_EQ(request.sdiag_family, AF_INET6);
  EXPECT_EQ(request.sdiag_protocol, IPPROTO_TCP);
  EXPECT_EQ(request.idiag_states, 0x0fffu);
}

TEST(SockDiagRequestTest, AllStatesMaskAndIpv4) {
  const std::vector<uint8_t> bytes = BuildTcpDumpRequest(AF_INET, ~0u, 1);
  ASSERT_EQ(bytes.size(), 72u);
  EXPECT_EQ(bytes[16], AF_INET);
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 20), 0xffffffffu);
  EXPECT_EQ(ReadAt<uint32_t>(bytes, 8), 1u);
}

// The compat request's replies carry its type, TCPDIAG_GETSOCK, and sockets of both families.
TEST(SockDiagParseTest, CompatRepliesAreSocketsToo) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 31, 5, 1, TCPDIAG_GETSOCK);
  reply.AddSocket(AF_INET6, kEstablished, 32, 6, 1, TCPDIAG_GETSOCK);
  reply.AddDone();
  std::vector<DiagSocket> out;
  std::string error;
  ASSERT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kDone) << error;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].family, AF_INET);
  EXPECT_EQ(out[0].cgroup_id, 5u);
  EXPECT_EQ(out[1].family, AF_INET6);
  EXPECT_EQ(out[1].inode, 32u);
}

TEST(SockDiagParseTest, SocketsWithAndWithoutCgroupThenDone) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1111, 44);
  reply.AddSocket(AF_INET6, kEstablished, 2222, 0x1122334455667788ull);
  reply.AddSocket(AF_INET, kTimeWait, 0, std::nullopt);
  reply.AddDone();

  std::vector<DiagSocket> out;
  std::string error;
  ASSERT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kDone) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].family, AF_INET);
  EXPECT_EQ(out[0].state, kListen);
  EXPECT_EQ(out[0].inode, 1111u);
  EXPECT_EQ(out[0].cgroup_id, 44u);
  EXPECT_EQ(out[1].family, AF_INET6);
  EXPECT_EQ(out[1].state, kEstablished);
  EXPECT_EQ(out[1].inode, 2222u);
  EXPECT_EQ(out[1].cgroup_id, 0x1122334455667788ull);
  EXPECT_EQ(out[2].state, kTimeWait);
  EXPECT_EQ(out[2].inode, 0u);
  EXPECT_EQ(out[2].cgroup_id, 0u);
}

TEST(SockDiagParseTest, WithoutDoneAsksForMoreAndAppends) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 7, 1);
  std::vector<DiagSocket> out(1);  // Existing content must survive.
  std::string error;
  ASSERT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kMore) << error;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].inode, 7u);
}

TEST(SockDiagParseTest, EmptyBufferAsksForMore) {
  std::vector<DiagSocket> out;
  EXPECT_EQ(ParseDumpReply({}, out, nullptr), ParseResult::kMore);
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParseTest, DoneWithoutStatusPayloadIsSuccess) {
  ReplyBuilder reply;
  reply.AddMessage(NLMSG_DONE, {});
  std::vector<DiagSocket> out;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, nullptr), ParseResult::kDone);
}

TEST(SockDiagParseTest, DoneCarryingAnErrorFails) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 7, 1);
  reply.AddDone(-EINTR);
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_NE(error.find(ErrnoMessage(EINTR)), std::string::npos) << error;
  EXPECT_TRUE(out.empty()) << "sockets of a failed dump must not be appended";
}

TEST(SockDiagParseTest, ErrorMessageReportsErrno) {
  ReplyBuilder reply;
  reply.AddError(-EPERM);
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_NE(error.find("Operation not permitted"), std::string::npos) << error;
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParseTest, AckIsNotAnError) {
  ReplyBuilder reply;
  reply.AddError(0);
  reply.AddSocket(AF_INET, kListen, 7, 1);
  std::vector<DiagSocket> out;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, nullptr), ParseResult::kMore);
  EXPECT_EQ(out.size(), 1u);
}

TEST(SockDiagParseTest, ShortErrorMessageIsMalformed) {
  ReplyBuilder reply;
  reply.AddMessage(NLMSG_ERROR, {0xff, 0xff});
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_FALSE(error.empty());
}

TEST(SockDiagParseTest, NoopAndUnknownTypesAreSkipped) {
  ReplyBuilder reply;
  reply.AddMessage(NLMSG_NOOP, {});
  reply.AddMessage(0x1234, {1, 2, 3, 4});
  reply.AddSocket(AF_INET, kListen, 9, 3);
  reply.AddDone();
  std::vector<DiagSocket> out;
  std::string error;
  ASSERT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kDone) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].cgroup_id, 3u);
}

TEST(SockDiagParseTest, LastMessageWithoutTrailingPadding) {
  // A message whose length is not a multiple of 4, ending the buffer unpadded.
  std::vector<uint8_t> payload;
  inet_diag_msg msg{};
  msg.idiag_family = AF_INET;
  msg.idiag_state = kListen;
  msg.idiag_inode = 5;
  Append(payload, msg);
  nlattr attr{};
  attr.nla_len = sizeof(nlattr) + 1;
  attr.nla_type = INET_DIAG_SHUTDOWN;
  Append(payload, attr);
  payload.push_back(0);
  ReplyBuilder reply;
  reply.AddMessage(SOCK_DIAG_BY_FAMILY, payload);
  reply.bytes().resize(sizeof(nlmsghdr) + payload.size());  // drop the padding
  ASSERT_EQ(reply.bytes().size() % 4, 1u);
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kMore) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].inode, 5u);
}

TEST(SockDiagParseTest, EveryTruncationIsRejectedOrStopsAtABoundary) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1, 44);
  const size_t second = reply.AddSocket(AF_INET6, kEstablished, 2, 45);
  const size_t third = reply.AddSocket(AF_INET, kTimeWait, 0, std::nullopt);
  const std::vector<uint8_t> full = reply.bytes();

  for (size_t length = 1; length < full.size(); ++length) {
    // An exactly sized copy, so that a sanitizer build catches any read past the end.
    const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<long>(length));
    std::vector<DiagSocket> out;
    std::string error;
    const ParseResult result = ParseDumpReply(prefix, out, &error);
    if (length == second || length == third) {
      // Cut exactly between messages: what came before is whole.
      EXPECT_EQ(result, ParseResult::kMore) << "prefix of " << length << " bytes";
      EXPECT_EQ(out.size(), length == second ? 1u : 2u);
    } else {
      EXPECT_EQ(result, ParseResult::kError) << "prefix of " << length << " bytes";
      EXPECT_TRUE(out.empty()) << "prefix of " << length << " bytes";
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(SockDiagParseTest, MessageLengthBeyondBufferIsRejected) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1, 44);
  WriteAt<uint32_t>(reply.bytes(), 0, static_cast<uint32_t>(reply.bytes().size() + 4));
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_TRUE(out.empty());

  WriteAt<uint32_t>(reply.bytes(), 0, 0xffffffffu);
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParseTest, MessageLengthBelowHeaderIsRejected) {
  for (const uint32_t bad_length : {0u, 1u, 15u}) {
    ReplyBuilder reply;
    reply.AddSocket(AF_INET, kListen, 1, 44);
    WriteAt<uint32_t>(reply.bytes(), 0, bad_length);
    std::vector<DiagSocket> out;
    std::string error;
    EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError) << bad_length;
    EXPECT_TRUE(out.empty());
  }
}

TEST(SockDiagParseTest, SocketMessageShorterThanInetDiagMsgIsRejected) {
  ReplyBuilder reply;
  reply.AddMessage(SOCK_DIAG_BY_FAMILY, std::vector<uint8_t>(sizeof(inet_diag_msg) - 4, 0));
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParseTest, AttributeRunningPastItsMessageIsRejected) {
  // The attribute overruns its own message but not the buffer (a second message follows): the
  // parser must bound attributes by the message, not by the buffer.
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1, 44);
  reply.AddSocket(AF_INET, kListen, 2, 45);
  const auto message_length = ReadAt<uint32_t>(reply.bytes(), 0);
  const auto attr_length =
      static_cast<uint16_t>(message_length - kFirstAttribute + 8);  // 8 bytes too long
  WriteAt<uint16_t>(reply.bytes(), kFirstAttribute, attr_length);
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(error.empty());
}

TEST(SockDiagParseTest, AttributeLengthBelowHeaderIsRejected) {
  for (const uint16_t bad_length : {uint16_t{0}, uint16_t{3}}) {
    ReplyBuilder reply;
    reply.AddSocket(AF_INET, kListen, 1, 44);
    WriteAt<uint16_t>(reply.bytes(), kFirstAttribute, bad_length);
    std::vector<DiagSocket> out;
    std::string error;
    EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError) << bad_length;
    EXPECT_TRUE(out.empty());
  }
}

TEST(SockDiagParseTest, CgroupAttributeTooShortIsRejected) {
  std::vector<uint8_t> payload;
  inet_diag_msg msg{};
  msg.idiag_family = AF_INET;
  msg.idiag_state = kListen;
  Append(payload, msg);
  AppendAttribute(payload, INET_DIAG_CGROUP_ID, uint32_t{44});
  ReplyBuilder reply;
  reply.AddMessage(SOCK_DIAG_BY_FAMILY, payload);
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_NE(error.find("INET_DIAG_CGROUP_ID"), std::string::npos) << error;
}

TEST(SockDiagParseTest, TrailingBytesShorterThanAHeaderAreRejected) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1, 44);
  reply.bytes().insert(reply.bytes().end(), {0, 0, 0, 0, 0, 0, 0, 0});
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kError);
  EXPECT_TRUE(out.empty());
}

TEST(SockDiagParseTest, MalformedMessageAfterGoodOnesLeavesOutUntouched) {
  ReplyBuilder reply;
  reply.AddSocket(AF_INET, kListen, 1, 44);
  const size_t bad = reply.AddSocket(AF_INET, kListen, 2, 45);
  WriteAt<uint32_t>(reply.bytes(), bad, 4);
  std::vector<DiagSocket> out(2);
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, nullptr), ParseResult::kError);
  EXPECT_EQ(out.size(), 2u);
}

// One real recv() from Linux 6.18; tests/fixtures/netlink/README.txt says how it was made.
TEST(SockDiagParseTest, RealKernelReplyFixture) {
  const std::string path = std::string(PODSTAT_FIXTURES_DIR) + "/netlink/inet_diag_tcp_dump.bin";
  int read_errno = 0;
  const std::optional<std::string> content = ReadFile(path, &read_errno);
  ASSERT_TRUE(content) << path << ": " << ErrnoMessage(read_errno);
  ASSERT_EQ(content->size(), 840u);
  const std::vector<uint8_t> bytes(content->begin(), content->end());

  std::vector<DiagSocket> out;
  std::string error;
  // The kernel sends NLMSG_DONE in a datagram of its own, so one recv() ends with kMore.
  ASSERT_EQ(ParseDumpReply(bytes, out, &error), ParseResult::kMore) << error;

  struct Expected {
    uint8_t state;
    uint64_t cgroup_id;
    uint32_t inode;
  };
  const Expected expected[] = {
      {kListen, 44, 8635},      {kListen, 1, 9607},       {kEstablished, 1, 8639},
      {kEstablished, 44, 8638}, {kEstablished, 44, 8637}, {kEstablished, 44, 8636},
      {kTimeWait, 0, 0},
  };
  ASSERT_EQ(out.size(), std::size(expected));
  for (size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE("socket " + std::to_string(i));
    EXPECT_EQ(out[i].family, AF_INET);
    EXPECT_EQ(out[i].state, expected[i].state);
    EXPECT_EQ(out[i].cgroup_id, expected[i].cgroup_id);
    EXPECT_EQ(out[i].inode, expected[i].inode);
  }
}

TEST(SockDiagParseTest, RealKernelReplyFollowedByDone) {
  const std::string path = std::string(PODSTAT_FIXTURES_DIR) + "/netlink/inet_diag_tcp_dump.bin";
  const std::optional<std::string> content = ReadFile(path);
  ASSERT_TRUE(content);
  ReplyBuilder reply;
  reply.bytes().assign(content->begin(), content->end());
  reply.AddDone();
  std::vector<DiagSocket> out;
  std::string error;
  EXPECT_EQ(ParseDumpReply(reply.bytes(), out, &error), ParseResult::kDone) << error;
  EXPECT_EQ(out.size(), 7u);
}

TEST(SockDiagClientTest, OpenRejectsAnFdThatIsNotANetworkNamespace) {
  // setns() checks the fd's type before any privilege, so this needs no root.
  UniqueFd not_a_netns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(not_a_netns);
  std::string error;
  EXPECT_FALSE(SockDiagClient::Open(not_a_netns.get(), &error).has_value());
  EXPECT_NE(error.find("setns"), std::string::npos) << error;
  EXPECT_NE(error.find(ErrnoMessage(EINVAL)), std::string::npos) << error;
}

}  // namespace
}  // namespace podstat::netlink
