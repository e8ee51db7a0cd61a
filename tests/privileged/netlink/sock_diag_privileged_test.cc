// sock_diag against the real kernel: sockets made here must come back from a dump with the right
// state and cgroup id, and a client opened in another network namespace must see that namespace's
// sockets and nothing else.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "podstat/netlink/sock_diag.h"
#include "podstat/util/fd.h"
#include "podstat/util/file.h"
#include "support/privileges.h"

namespace podstat::netlink {
namespace {

constexpr uint8_t kEstablished = 1;
constexpr uint8_t kListen = 10;

// The cgroup v2 mount: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on unified ones.
std::optional<std::string> CgroupV2Mount() {
  for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs fs = {};
    if (::statfs(candidate, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return candidate;
  }
  return std::nullopt;
}

// The cgroup id of this process: the inode of its cgroup v2 directory.
std::optional<uint64_t> OwnCgroupId(std::string* why) {
  const auto mount = CgroupV2Mount();
  if (!mount) {
    *why = "no cgroup2 mount";
    return std::nullopt;
  }
  const auto content = ReadFile("/proc/self/cgroup");
  if (!content) {
    *why = "cannot read /proc/self/cgroup";
    return std::nullopt;
  }
  size_t start = 0;
  while (start < content->size()) {
    size_t end = content->find('\n', start);
    if (end == std::string::npos) end = content->size();
    const std::string line = content->substr(start, end - start);
    if (line.rfind("0::", 0) == 0) {
      const std::string path = *mount + line.substr(3);
      struct stat st = {};
      if (::stat(path.c_str(), &st) != 0) {
        *why = "stat " + path + ": " + ErrnoMessage(errno);
        return std::nullopt;
      }
      return st.st_ino;
    }
    start = end + 1;
  }
  *why = "no 0:: line in /proc/self/cgroup";
  return std::nullopt;
}

uint32_t InodeOf(int fd) {
  struct stat st = {};
  if (::fstat(fd, &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

std::vector<DiagSocket> DumpOrFail(SockDiagClient& client) {
  std::vector<DiagSocket> sockets;
  std::string error;
  EXPECT_TRUE(client.DumpTcp(sockets, &error)) << error;
  return sockets;
}

std::map<uint32_t, DiagSocket> ByInode(const std::vector<DiagSocket>& sockets) {
  std::map<uint32_t, DiagSocket> by_inode;
  for (const DiagSocket& socket : sockets) {
    if (socket.inode != 0) by_inode[socket.inode] = socket;
  }
  return by_inode;
}

// Kills and reaps a forked child whatever way the test leaves.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// Removes a directory (a cgroup) on scope exit; declared before the ChildGuard of the child in it
// so the child is reaped first and the cgroup is empty by then.
class DirectoryGuard {
 public:
  explicit DirectoryGuard(std::string path) : path_(std::move(path)) {}
  DirectoryGuard(const DirectoryGuard&) = delete;
  DirectoryGuard& operator=(const DirectoryGuard&) = delete;
  ~DirectoryGuard() { ::rmdir(path_.c_str()); }

 private:
  std::string path_;
};

// What a child reports through its pipe. Plain data: the child writes it with one write(), which
// pipes keep atomic below PIPE_BUF.
struct ChildReport {
  int status = 0;  // 0 ok, else the errno of the failed step
  char step[48] = {};
  uint32_t count = 0;
  uint32_t inodes[400] = {};
};
static_assert(sizeof(ChildReport) < 4096);

// Child side; never returns. Only raw syscalls: the child of a forked test process must not touch
// gtest or anything that allocates.
[[noreturn]] void ChildFail(int report_fd, ChildReport& report, const char* step) {
  report.status = errno != 0 ? errno : EIO;
  std::strncpy(report.step, step, sizeof(report.step) - 1);
  (void)!::write(report_fd, &report, sizeof(report));
  ::_exit(1);
}

bool BringLoopbackUp() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  ::close(fd);
  return ok;
}

// A listener on the loopback address of the family, on an ephemeral port; -1 on failure.
int LoopbackListener(int family) {
  const int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int result;
  if (family == AF_INET) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    result = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  } else {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    result = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  }
  if (result != 0 || ::listen(fd, 8) != 0) return -1;
  return fd;
}

// Forks a child that (optionally) enters a new network namespace, waits for one byte on go_fd
// when go_fd >= 0, opens the listeners and reports their inodes, then sleeps until killed.
pid_t SpawnListenerChild(bool new_netns, int ipv4, int ipv6, int report_fd, int go_fd) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;

  ChildReport report;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (new_netns) {
    if (::unshare(CLONE_NEWNET) != 0) ChildFail(report_fd, report, "unshare(CLONE_NEWNET)");
    if (!BringLoopbackUp()) ChildFail(report_fd, report, "bring lo up");
  }
  if (go_fd >= 0) {
    char go;
    if (::read(go_fd, &go, 1) != 1) ChildFail(report_fd, report, "wait for go");
  }
  for (int i = 0; i < ipv4 + ipv6; ++i) {
    const int fd = LoopbackListener(i < ipv4 ? AF_INET : AF_INET6);
    if (fd < 0) ChildFail(report_fd, report, i < ipv4 ? "listen on 127.0.0.1" : "listen on ::1");
    report.inodes[report.count++] = InodeOf(fd);
  }
  if (::write(report_fd, &report, sizeof(report)) != sizeof(report)) ::_exit(1);
  for (;;) ::pause();
}

// Reads the child's report; returns an error text, empty on success.
std::string ReadReport(int fd, ChildReport& report) {
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&report);
  while (got < sizeof(report)) {
    const ssize_t n = ::read(fd, bytes + got, sizeof(report) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "child exited without reporting";
    got += static_cast<size_t>(n);
  }
  if (report.status != 0) {
    return std::string("child failed at ") + report.step + ": " + ErrnoMessage(report.status);
  }
  return {};
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe MakePipe() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(SockDiagPrivilegedTest, DumpsOwnSocketsWithStateAndCgroup) {
  PODSTAT_REQUIRE_PRIVILEGES();
  std::string why;
  const std::optional<uint64_t> cgroup_id = OwnCgroupId(&why);
  ASSERT_TRUE(cgroup_id) << why;

  UniqueFd listener(LoopbackListener(AF_INET));
  ASSERT_TRUE(listener) << ErrnoMessage(errno);
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(client);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << ErrnoMessage(errno);
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server) << ErrnoMessage(errno);

  std::string error;
  std::optional<SockDiagClient> diag = SockDiagClient::Open(-1, &error);
  ASSERT_TRUE(diag) << error;
  const auto sockets = ByInode(DumpOrFail(*diag));

  const struct {
    const char* name;
    int fd;
    uint8_t state;
  } expected[] = {
      {"listener", listener.get(), kListen},
      {"client", client.get(), kEstablished},
      {"server", server.get(), kEstablished},
  };
  for (const auto& want : expected) {
    SCOPED_TRACE(want.name);
    const auto found = sockets.find(InodeOf(want.fd));
    ASSERT_NE(found, sockets.end()) << "inode " << InodeOf(want.fd) << " missing from the dump";
    EXPECT_EQ(found->second.family, AF_INET);
    EXPECT_EQ(found->second.state, want.state);
    EXPECT_EQ(found->second.cgroup_id, *cgroup_id);
  }
}

TEST(SockDiagPrivilegedTest, SocketCarriesTheCgroupItWasCreatedIn) {
  // The test process may sit in the root cgroup (id 1), where the previous test cannot tell a
  // right answer from a default; a fresh child cgroup has an id nothing else has.
  PODSTAT_REQUIRE_PRIVILEGES();
  const auto mount = CgroupV2Mount();
  ASSERT_TRUE(mount) << "no cgroup2 mount";
  const std::string cgroup = *mount + "/podstat-test-sockdiag-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << cgroup << ": " << ErrnoMessage(errno);
  DirectoryGuard remove_cgroup(cgroup);
  struct stat cgroup_stat = {};
  ASSERT_EQ(::stat(cgroup.c_str(), &cgroup_stat), 0);

  Pipe report_pipe = MakePipe();
  Pipe go_pipe = MakePipe();
  ASSERT_TRUE(report_pipe.read && go_pipe.read);
  ChildGuard child(SpawnListenerChild(false, 1, 0, report_pipe.write.get(), go_pipe.read.get()));
  ASSERT_GT(child.pid(), 0) << ErrnoMessage(errno);
  report_pipe.write.Reset();

  // Moved before it makes the socket: the socket takes its creator's cgroup at creation.
  const std::string procs = cgroup + "/cgroup.procs";
  const std::string pid_text = std::to_string(child.pid());
  {
    UniqueFd procs_fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(procs_fd) << procs << ": " << ErrnoMessage(errno);
    ASSERT_EQ(::write(procs_fd.get(), pid_text.data(), pid_text.size()),
              static_cast<ssize_t>(pid_text.size()))
        << ErrnoMessage(errno);
  }
  ASSERT_EQ(::write(go_pipe.write.get(), "g", 1), 1);
  ChildReport report;
  const std::string child_error = ReadReport(report_pipe.read.get(), report);
  ASSERT_TRUE(child_error.empty()) << child_error;
  ASSERT_EQ(report.count, 1u);

  std::string error;
  std::optional<SockDiagClient> diag = SockDiagClient::Open(-1, &error);
  ASSERT_TRUE(diag) << error;
  const auto sockets = ByInode(DumpOrFail(*diag));
  const auto found = sockets.find(report.inodes[0]);
  ASSERT_NE(found, sockets.end());
  EXPECT_EQ(found->second.state, kListen);
  EXPECT_EQ(found->second.cgroup_id, cgroup_stat.st_ino);
  EXPECT_NE(found->second.cgroup_id, 1u);
}

TEST(SockDiagPrivilegedTest, ClientOpenedInAnotherNetnsSeesOnlyThatNetns) {
  PODSTAT_REQUIRE_PRIVILEGES();
  Pipe report_pipe = MakePipe();
  ASSERT_TRUE(report_pipe.read);
  ChildGuard child(SpawnListenerChild(true, 3, 2, report_pipe.write.get(), -1));
  ASSERT_GT(child.pid(), 0) << ErrnoMessage(errno);
  report_pipe.write.Reset();
  ChildReport report;
  const std::string child_error = ReadReport(report_pipe.read.get(), report);
  ASSERT_TRUE(child_error.empty()) << child_error;
  ASSERT_EQ(report.count, 5u);
  const std::set<uint32_t> child_inodes(report.inodes, report.inodes + report.count);

  const std::string netns_path = "/proc/" + std::to_string(child.pid()) + "/ns/net";
  UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(netns) << netns_path << ": " << ErrnoMessage(errno);
  std::string error;
  std::optional<SockDiagClient> in_child = SockDiagClient::Open(netns.get(), &error);
  ASSERT_TRUE(in_child) << error;

  const std::vector<DiagSocket> sockets = DumpOrFail(*in_child);
  // Both families from one walk of the kernel's TCP hash: every kernel podstat supports (5.10+)
  // answers the compat request.
  EXPECT_TRUE(in_child->last_tcp_dump_in_one_walk());
  int ipv4_listeners = 0;
  int ipv6_listeners = 0;
  std::set<uint32_t> seen;
  for (const DiagSocket& socket : sockets) {
    EXPECT_EQ(socket.state, kListen) << "inode " << socket.inode;
    if (socket.family == AF_INET) ++ipv4_listeners;
    if (socket.family == AF_INET6) ++ipv6_listeners;
    seen.insert(socket.inode);
  }
  EXPECT_EQ(sockets.size(), 5u);
  EXPECT_EQ(ipv4_listeners, 3);
  EXPECT_EQ(ipv6_listeners, 2);
  EXPECT_EQ(seen, child_inodes);

  // The socket stays bound to the child's namespace: a second dump sees the same.
  EXPECT_EQ(DumpOrFail(*in_child).size(), 5u);

  std::optional<SockDiagClient> in_host = SockDiagClient::Open(-1, &error);
  ASSERT_TRUE(in_host) << error;
  for (const DiagSocket& socket : DumpOrFail(*in_host)) {
    EXPECT_EQ(child_inodes.count(socket.inode), 0u)
        << "host dump shows inode " << socket.inode << " of the child's namespace";
  }
}

TEST(SockDiagPrivilegedTest, DumpSpanningManyDatagrams) {
  // ~125 bytes per socket: 400 sockets need several ~32 KiB datagrams, and NLMSG_DONE arrives
  // after the last of them.
  PODSTAT_REQUIRE_PRIVILEGES();
  constexpr int kSockets = 400;
  Pipe report_pipe = MakePipe();
  ASSERT_TRUE(report_pipe.read);
  ChildGuard child(SpawnListenerChild(true, kSockets, 0, report_pipe.write.get(), -1));
  ASSERT_GT(child.pid(), 0) << ErrnoMessage(errno);
  report_pipe.write.Reset();
  ChildReport report;
  const std::string child_error = ReadReport(report_pipe.read.get(), report);
  ASSERT_TRUE(child_error.empty()) << child_error;

  const std::string netns_path = "/proc/" + std::to_string(child.pid()) + "/ns/net";
  UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(netns);
  std::string error;
  std::optional<SockDiagClient> diag = SockDiagClient::Open(netns.get(), &error);
  ASSERT_TRUE(diag) << error;
  const auto sockets = ByInode(DumpOrFail(*diag));
  EXPECT_EQ(sockets.size(), static_cast<size_t>(kSockets));
  for (uint32_t i = 0; i < report.count; ++i) {
    EXPECT_EQ(sockets.count(report.inodes[i]), 1u) << "inode " << report.inodes[i];
  }
}

}  // namespace
}  // namespace podstat::netlink
