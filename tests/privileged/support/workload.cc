#include "support/workload.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef PODSTAT_BINARY
#error "PODSTAT_BINARY must name the podstat binary under test"
#endif

namespace podstat::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Closes a file descriptor when the scope ends, whatever way it ends.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowErrno("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool WriteFile(const std::string& path, std::string_view data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  return ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

std::vector<std::string> SplitWhitespace(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string field; in >> field;) out.push_back(field);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string octal(field.substr(i + 1, 3));
      if (octal.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(octal, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

bool IsSingleThreaded() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return false;
  int threads = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++threads;
  }
  ::closedir(dir);
  return threads == 1;
}

uint64_t NetnsInode(pid_t pid) {
  struct stat st {};
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  if (::stat(path.c_str(), &st) != 0) ThrowErrno("stat " + path);
  return st.st_ino;
}

// Waits for one SEQPACKET message. Returns nullopt on EOF (the peer is gone); throws on timeout.
std::optional<std::string> ReceiveMessage(int fd, milliseconds timeout, const std::string& what) {
  pollfd pfd{fd, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) ThrowErrno("poll while waiting for " + what);
  if (ready == 0) {
    throw std::runtime_error("timed out after " + std::to_string(timeout.count()) +
                             " ms waiting for " + what);
  }
  char buffer[4096];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n < 0) ThrowErrno("recv while waiting for " + what);
  if (n == 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

// ---------------------------------------------------------------------------------------------
// The workload child. It runs after fork() in a copy of the (single-threaded) test process, so
// ordinary C++ is safe; it never returns into gtest, only _exit()s.

int FamilyNumber(Family family) { return family == Family::kInet ? 4 : 6; }

class WorkloadChild {
 public:
  explicit WorkloadChild(int fd) : fd_(fd) {}

  [[noreturn]] void Serve() {
    for (;;) {
      char buffer[256];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer - 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(0);  // the parent is gone or done with us
      std::string reply = "ok";
      try {
        Execute(std::string(buffer, static_cast<size_t>(n)));
      } catch (const std::exception& e) {
        reply = std::string("error: ") + e.what();
      }
      if (::send(fd_, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) ::_exit(1);
    }
  }

 private:
  struct Pair {
    int client;
    int server;
    bool client_shut_down;  // CloseWait: the client already sent its FIN
  };

  void Execute(const std::string& command) {
    // "comm <bytes>": everything after the space, taken as is (it may hold spaces and newlines).
    if (command.rfind("comm ", 0) == 0) {
      const std::string name = command.substr(5);
      if (::prctl(PR_SET_NAME, name.c_str()) != 0) ThrowErrno("prctl(PR_SET_NAME)");
      return;
    }
    std::istringstream in(command);
    std::string verb;
    int family_number = 0;
    int n = 0;
    in >> verb >> family_number >> n;
    const Family family = family_number == 6 ? Family::kInet6 : Family::kInet;
    if (verb == "listen") {
      for (int i = 0; i < n; ++i) listeners_.push_back(MakeListener(family));
    } else if (verb == "established") {
      for (int i = 0; i < n; ++i) pairs_.push_back(MakePair(family));
    } else if (verb == "timewait") {
      for (int i = 0; i < n; ++i) {
        const Pair pair = MakePair(family);
        ::close(pair.client);   // active close: the client is the side left in TIME_WAIT
        AwaitEof(pair.server);  // the server has seen the FIN (CLOSE_WAIT) ...
        ::close(pair.server);   // ... and answers with its own: LAST_ACK → CLOSE
      }
    } else if (verb == "closewait") {
      for (int i = 0; i < n; ++i) {
        Pair pair = MakePair(family);
        if (::shutdown(pair.client, SHUT_WR) != 0) ThrowErrno("shutdown");
        AwaitEof(pair.server);
        pair.client_shut_down = true;
        pairs_.push_back(pair);
      }
    } else if (verb == "udp") {
      for (int i = 0; i < n; ++i) udp_sockets_.push_back(MakeUdpSocket(family));
    } else if (verb == "closeall") {
      for (int fd : listeners_) ::close(fd);
      listeners_.clear();
      for (int& fd : shared_listener_) {
        if (fd >= 0) ::close(fd);
        fd = -1;
      }
      for (const Pair& pair : pairs_) {
        if (pair.client_shut_down) {
          // The client's FIN is out already; the server's FIN moves it FIN_WAIT2 → TIME_WAIT.
          ::close(pair.server);
          AwaitEof(pair.client);
          ::close(pair.client);
        } else {
          // Client first, as in TimeWait, so that only the client side ends in TIME_WAIT (two
          // FINs crossing would leave both sides in TIME_WAIT via CLOSING).
          ::close(pair.client);
          AwaitEof(pair.server);
          ::close(pair.server);
        }
      }
      pairs_.clear();
    } else {
      throw std::runtime_error("unknown command '" + command + "'");
    }
  }

  static socklen_t Loopback(Family family, sockaddr_storage* address) {
    *address = {};
    if (family == Family::kInet) {
      auto* in4 = reinterpret_cast<sockaddr_in*>(address);
      in4->sin_family = AF_INET;
      in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return sizeof(sockaddr_in);
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(address);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    return sizeof(sockaddr_in6);
  }

  static int MakeListener(Family family) {
    sockaddr_storage address;
    const socklen_t length = Loopback(family, &address);
    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) ThrowErrno("socket");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      ThrowErrno(std::string("bind to ") + (family == Family::kInet ? "127.0.0.1" : "[::1]"));
    }
    if (::listen(fd, 128) != 0) ThrowErrno("listen");
    return fd;
  }

  static int MakeUdpSocket(Family family) {
    sockaddr_storage address;
    const socklen_t length = Loopback(family, &address);
    const int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) ThrowErrno("socket(SOCK_DGRAM)");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) ThrowErrno("bind UDP");
    return fd;
  }

  Pair MakePair(Family family) {
    int& listener = shared_listener_[family == Family::kInet ? 0 : 1];
    if (listener < 0) listener = MakeListener(family);
    sockaddr_storage address;
    socklen_t length = sizeof address;
    if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ThrowErrno("getsockname");
    }
    const int client = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0) ThrowErrno("socket");
    if (::connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      ThrowErrno("connect");
    }
    const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (server < 0) ThrowErrno("accept");
    // Bounded waits for the peer's FIN: a lost FIN must fail the command, not hang the test.
    const timeval timeout{5, 0};
    for (int fd : {client, server}) {
      if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
        ThrowErrno("SO_RCVTIMEO");
      }
    }
    return {client, server, false};
  }

  // Returns once the peer's FIN has been processed on `fd` (read returns 0).
  static void AwaitEof(int fd) {
    for (;;) {
      char buffer[64];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n == 0) return;
      if (n < 0 && errno != EINTR) ThrowErrno("waiting for the peer's FIN");
    }
  }

  int fd_;
  std::vector<int> listeners_;
  int shared_listener_[2] = {-1, -1};
  std::vector<Pair> pairs_;
  std::vector<int> udp_sockets_;
};

void BringLoopbackUp() {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno("socket for SIOCSIFFLAGS");
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) ThrowErrno("SIOCGIFFLAGS lo");
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &request) != 0) ThrowErrno("SIOCSIFFLAGS lo up");
}

[[noreturn]] void RunWorkloadChild(int fd, pid_t parent, const std::string& procs_file,
                                   bool own_netns) {
  // Die with the test process, even if it is SIGKILLed and no destructor runs.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  // Hold no copies of the parent's descriptors (another workload's command socket would keep
  // that workload alive past its EOF).
  if (fd != 3) {
    if (::dup2(fd, 3) < 0) ::_exit(1);
    fd = 3;
  }
  ::close_range(4, std::numeric_limits<unsigned>::max(), 0);
  std::string reply = "ready";
  try {
    // "0" moves the writing process itself; sockets it creates from now on belong to the cgroup.
    if (!WriteFile(procs_file, "0")) ThrowErrno("write 0 to " + procs_file);
    if (own_netns) {
      if (::unshare(CLONE_NEWNET) != 0) ThrowErrno("unshare(CLONE_NEWNET)");
      BringLoopbackUp();
    }
  } catch (const std::exception& e) {
    reply = std::string("error: ") + e.what();
  }
  if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0 || reply != "ready") ::_exit(1);
  WorkloadChild(fd).Serve();
}

std::string ProcNetTcpPath(pid_t pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/net/" + file;
}

// Adds the sockets of one /proc/<pid>/net/tcp{,6} file. Columns: sl local rem st tx:rx tr:when
// retrnsmt uid timeout inode ...; st is the kernel's state number in hex.
void AddTcpStates(const std::string& path, const std::set<uint64_t>* inodes,
                  TcpStateCounts* counts) {
  std::istringstream in(ReadFile(path));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = SplitWhitespace(line);
    if (fields.empty()) continue;
    if (fields.size() < 10) throw std::runtime_error("short line in " + path + ": " + line);
    const unsigned long state = std::stoul(fields[3], nullptr, 16);
    if (state < 1 || state > std::size(kTcpStateNames)) {
      throw std::runtime_error("unknown TCP state " + fields[3] + " in " + path);
    }
    if (inodes != nullptr && inodes->count(std::stoull(fields[9])) == 0) continue;
    ++(*counts)[std::string(kTcpStateNames[state - 1])];
  }
}

TcpStateCounts CountTcpStatesImpl(pid_t pid, const std::set<uint64_t>* inodes) {
  TcpStateCounts counts = ZeroTcpStates();
  AddTcpStates(ProcNetTcpPath(pid, "tcp"), inodes, &counts);
  AddTcpStates(ProcNetTcpPath(pid, "tcp6"), inodes, &counts);
  return counts;
}

std::string FormatDouble(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Waiting for conditions

bool PollUntil(const std::function<bool()>& holds, milliseconds timeout, milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const bool late = Clock::now() >= deadline;  // read before: one last try after the deadline
    if (holds()) return true;
    if (late) return false;
    std::this_thread::sleep_for(interval);
  }
}

void WaitUntil(const std::function<bool()>& holds, const std::string& what, milliseconds timeout,
               milliseconds interval) {
  if (PollUntil(holds, timeout, interval)) return;
  std::ostringstream message;
  message << "timed out after " << std::chrono::duration<double>(timeout).count()
          << " s waiting for " << what;
  throw std::runtime_error(message.str());
}

// ---------------------------------------------------------------------------------------------
// TCP state ground truth

TcpStateCounts ZeroTcpStates() {
  TcpStateCounts counts;
  for (std::string_view state : kTcpStateNames) counts[std::string(state)] = 0;
  return counts;
}

TcpStateCounts TcpStates(std::initializer_list<std::pair<std::string_view, int64_t>> nonzero) {
  TcpStateCounts counts = ZeroTcpStates();
  for (const auto& [state, count] : nonzero) {
    auto it = counts.find(state);
    if (it == counts.end())
      throw std::invalid_argument("no TCP state '" + std::string(state) + "'");
    it->second = count;
  }
  return counts;
}

TcpStateCounts CountTcpStates(pid_t pid) { return CountTcpStatesImpl(pid, nullptr); }

TcpStateCounts CountTcpStates(pid_t pid, const std::set<uint64_t>& inodes) {
  return CountTcpStatesImpl(pid, &inodes);
}

std::set<uint64_t> SocketInodes(const std::vector<pid_t>& pids) {
  std::set<uint64_t> inodes;
  for (pid_t pid : pids) {
    const std::string dir_path = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(dir_path.c_str());
    if (dir == nullptr) ThrowErrno("opendir " + dir_path);
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      char target[128];
      const std::string link = dir_path + "/" + entry->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;  // closed meanwhile
      target[n] = '\0';
      unsigned long long inode = 0;
      if (std::sscanf(target, "socket:[%llu]", &inode) == 1) inodes.insert(inode);
    }
    ::closedir(dir);
  }
  return inodes;
}

std::string DiffTcpStates(const TcpStateCounts& want, const TcpStateCounts& got,
                          const std::set<std::string, std::less<>>& ignore) {
  std::string diff;
  for (std::string_view state : kTcpStateNames) {
    if (ignore.count(state) != 0) continue;
    const auto w = want.find(state);
    const auto g = got.find(state);
    const int64_t want_count = w == want.end() ? 0 : w->second;
    const int64_t got_count = g == got.end() ? 0 : g->second;
    if (want_count != got_count) {
      diff += "  " + std::string(state) + ": want " + std::to_string(want_count) + ", got " +
              std::to_string(got_count) + "\n";
    }
  }
  return diff;
}

std::string FormatTcpStates(const TcpStateCounts& counts) {
  std::string out;
  for (const auto& [state, count] : counts) {
    if (count == 0) continue;
    if (!out.empty()) out += " ";
    out += state + "=" + std::to_string(count);
  }
  return out.empty() ? "(all zero)" : out;
}

// ---------------------------------------------------------------------------------------------
// cgroups

std::string CgroupV2Mount() {
  std::istringstream in(ReadFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const std::vector<std::string> fields = SplitWhitespace(line);
    const auto separator = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || separator == fields.end() || separator + 1 == fields.end()) continue;
    if (*(separator + 1) == "cgroup2") return UnescapeMountField(fields[4]);
  }
  return {};
}

namespace {

// The inode (cgroup id) of a cgroup directory just made; removes it and throws if stat fails.
uint64_t InodeOrRemove(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int saved = errno;
    ::rmdir(dir.c_str());
    errno = saved;
    ThrowErrno("stat " + dir);
  }
  return st.st_ino;
}

}  // namespace

TestCgroup::TestCgroup() {
  const std::string mount = CgroupV2Mount();
  if (mount.empty()) throw std::runtime_error("no cgroup2 mount in /proc/self/mountinfo");
  static int next = 0;
  for (;;) {
    const std::string name =
        "podstat-test-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
    const std::string dir = mount + "/" + name;
    if (::mkdir(dir.c_str(), 0755) == 0) {
      dir_ = dir;
      id_ = "/" + name;
      break;
    }
    if (errno != EEXIST) ThrowErrno("mkdir " + dir);
  }
  inode_ = InodeOrRemove(dir_);
}

TestCgroup::TestCgroup(const TestCgroup& parent, std::string_view name)
    : dir_(parent.dir() + "/" + std::string(name)), id_(parent.id() + "/" + std::string(name)) {
  if (::mkdir(dir_.c_str(), 0755) != 0) ThrowErrno("mkdir " + dir_);
  inode_ = InodeOrRemove(dir_);
}

TestCgroup::~TestCgroup() {
  const std::string kill_file = dir_ + "/cgroup.kill";
  const bool have_kill = ::access(kill_file.c_str(), W_OK) == 0;  // kernel 5.14+
  const auto deadline = Clock::now() + kConditionTimeout;
  for (;;) {
    std::vector<pid_t> pids;
    try {
      std::istringstream in(ReadFile(dir_ + "/cgroup.procs"));
      for (pid_t pid; in >> pid;) pids.push_back(pid);
    } catch (const std::exception&) {
      break;  // the directory is gone already
    }
    if (pids.empty()) break;
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "cgroup " << dir_ << " still has " << pids.size() << " processes after "
                    << kConditionTimeout.count() << " s of SIGKILL";
      return;
    }
    if (have_kill) {
      WriteFile(kill_file, "1");
    } else {
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  // Exiting tasks may keep the cgroup busy for a moment after they left cgroup.procs.
  while (::rmdir(dir_.c_str()) != 0 && errno != ENOENT) {
    if (errno != EBUSY || Clock::now() > deadline) {
      ADD_FAILURE() << "cannot remove cgroup " << dir_ << ": " << std::strerror(errno);
      return;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// ---------------------------------------------------------------------------------------------
// SocketWorkload

SocketWorkload::SocketWorkload(const TestCgroup& cgroup, Netns netns) : netns_(netns) {
  if (!IsSingleThreaded()) {
    throw std::runtime_error(
        "SocketWorkload forks and runs C++ in the child: create it before any thread starts");
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) ThrowErrno("socketpair");
  const std::string procs_file = cgroup.dir() + "/cgroup.procs";
  const pid_t parent = ::getpid();
  std::cout.flush();
  std::cerr.flush();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    ThrowErrno("fork");
  }
  if (pid_ == 0) {
    ::close(fds[0]);
    RunWorkloadChild(fds[1], parent, procs_file, netns == Netns::kOwn);
  }
  ::close(fds[1]);
  fd_ = fds[0];
  try {
    const std::optional<std::string> reply =
        ReceiveMessage(fd_, kConditionTimeout, "the workload child to start");
    if (reply != "ready") {
      throw std::runtime_error("workload child failed to start: " +
                               reply.value_or("exited without a word"));
    }
    // Check the child really is where the test will look for it.
    const std::string cgroup_line = "0::" + cgroup.id() + "\n";
    const std::string cgroup_file = ReadFile("/proc/" + std::to_string(pid_) + "/cgroup");
    if (cgroup_file.find(cgroup_line) == std::string::npos) {
      throw std::runtime_error("workload child is not in " + cgroup.id() + ":\n" + cgroup_file);
    }
    const bool own = NetnsInode(pid_) != NetnsInode(::getpid());
    if (own != (netns == Netns::kOwn)) {
      throw std::runtime_error(std::string("workload child is ") + (own ? "not " : "") +
                               "in the test's network namespace");
    }
    AwaitSettled("start");  // a fresh namespace holds no TCP sockets; the host part we hold none
  } catch (...) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(fd_);
    throw;
  }
}

SocketWorkload::~SocketWorkload() {
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::close(fd_);
}

void SocketWorkload::Command(const std::string& command) {
  if (::send(fd_, command.data(), command.size(), MSG_NOSIGNAL) < 0) {
    ThrowErrno("sending '" + command + "' to the workload child");
  }
  const std::optional<std::string> reply =
      ReceiveMessage(fd_, kConditionTimeout, "the workload child to run '" + command + "'");
  if (!reply) throw std::runtime_error("workload child died running '" + command + "'");
  if (*reply != "ok") throw std::runtime_error("workload '" + command + "': " + *reply);
  AwaitSettled(command);
}

void SocketWorkload::AwaitSettled(const std::string& after) {
  // Loopback delivers in softirq context, so a FIN or ACK may be processed just after the
  // syscall that sent it returned: poll until /proc shows what the child now holds.
  const auto deadline = Clock::now() + kConditionTimeout;
  for (;;) {
    const TcpStateCounts truth = Truth();
    const std::string diff = DiffTcpStates(expected_, truth, UnverifiableStates());
    if (diff.empty()) return;
    if (Clock::now() > deadline) {
      throw std::runtime_error("TCP states of workload pid " + std::to_string(pid_) +
                               " did not settle after '" + after +
                               "' (want = intended, got = " + "/proc):\n" + diff);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void SocketWorkload::EnsureSharedListener(Family family) {
  bool& have = shared_listener_[family == Family::kInet ? 0 : 1];
  if (!have) ++expected_["listen"];
  have = true;
}

static std::string CommandLine(const char* verb, Family family, int n) {
  return std::string(verb) + " " + std::to_string(FamilyNumber(family)) + " " + std::to_string(n);
}

void SocketWorkload::SetComm(std::string_view name) { Command("comm " + std::string(name)); }

void SocketWorkload::Listen(int n, Family family) {
  expected_["listen"] += n;
  Command(CommandLine("listen", family, n));
}

void SocketWorkload::Established(int n, Family family) {
  EnsureSharedListener(family);
  expected_["established"] += 2 * n;
  open_pairs_ += n;
  Command(CommandLine("established", family, n));
}

void SocketWorkload::TimeWait(int n, Family family) {
  EnsureSharedListener(family);
  expected_["time_wait"] += n;
  Command(CommandLine("timewait", family, n));
}

void SocketWorkload::CloseWait(int n, Family family) {
  EnsureSharedListener(family);
  expected_["close_wait"] += n;
  expected_["fin_wait2"] += n;
  open_pairs_ += n;
  Command(CommandLine("closewait", family, n));
}

void SocketWorkload::Udp(int n, Family family) {
  Command(CommandLine("udp", family, n));
  udp_sockets_ += n;
  // Bound UDP sockets are listed as soon as bind returns: no settling, one check.
  int64_t listed = 0;
  for (const char* file : {"udp", "udp6"}) {
    std::istringstream in(ReadFile(ProcNetTcpPath(pid_, file)));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) listed += !SplitWhitespace(line).empty();
  }
  if (netns_ == Netns::kOwn && listed != udp_sockets_) {
    throw std::runtime_error("workload pid " + std::to_string(pid_) + " holds " +
                             std::to_string(udp_sockets_) + " UDP sockets, /proc lists " +
                             std::to_string(listed));
  }
}

void SocketWorkload::CloseAll() {
  const int64_t time_wait = expected_["time_wait"] + open_pairs_;
  expected_ = TcpStates({{"time_wait", time_wait}});
  open_pairs_ = 0;
  shared_listener_[0] = shared_listener_[1] = false;
  Command("closeall 4 0");
}

TcpStateCounts SocketWorkload::Truth() const {
  if (netns_ == Netns::kOwn) return CountTcpStates(pid_);
  return CountTcpStates(pid_, SocketInodes({pid_}));
}

std::set<std::string, std::less<>> SocketWorkload::UnverifiableStates() const {
  if (netns_ == Netns::kOwn) return {};
  return {"time_wait"};
}

// ---------------------------------------------------------------------------------------------
// HostileContainer

HostileContainer::HostileContainer()
    : hostile_(top_, "x-\xff\xfe\"\\"),
      container_(hostile_, "docker-" + std::string(kContainerId) + ".scope"),
      workload_(container_, Netns::kOwn) {
  workload_.Listen(1);
  workload_.SetComm("w\xff\"\\\n\xfe");
  const std::string pid = std::to_string(workload_.pid());
  const CommandResult veth = RunCommand({"nsenter", "-t", pid, "-n", "ip", "link", "add", "name",
                                         "v\xff\"\\", "type", "veth", "peer", "name", "\xfe"},
                                        "");
  if (!veth.exited_zero()) {
    throw std::runtime_error("ip link add (hostile veth pair) in the netns of pid " + pid + ": " +
                             DescribeWaitStatus(veth.wait_status) + "\n" + veth.output);
  }
  expected_id = top_.id() + "/x-\\xFF\\xFE\"\\/docker-" + std::string(kContainerId) + ".scope";
  expected_comm = "w\\xFF\"\\\n\\xFE";
  expected_interfaces = {"\\xFE", "v\\xFF\"\\"};
}

// ---------------------------------------------------------------------------------------------
// Agent

uint16_t FreeTcpPort() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ThrowErrno("bind 127.0.0.1:0");
  }
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ThrowErrno("getsockname");
  }
  return ntohs(address.sin_port);
}

Agent::Agent(std::vector<std::string> extra_args, uint16_t port,
             std::vector<int> dropped_capabilities, std::vector<std::string> launcher)
    : port_(port != 0 ? port : FreeTcpPort()) {
  const std::string binary = PODSTAT_BINARY;
  if (::access(binary.c_str(), X_OK) != 0) ThrowErrno("podstat binary " + binary);

  std::vector<std::string> args = std::move(launcher);
  for (const std::string& arg :
       {binary, "--web.listen-address=" + address(), std::string("--log.level=debug"),
        std::string("--sample.max-age=0s")}) {
    args.push_back(arg);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  char log_template[] = "/tmp/podstat-agent-XXXXXX.log";
  Fd log(::mkstemps(log_template, 4));
  if (log.get() < 0) ThrowErrno("mkstemps");
  log_path_ = log_template;
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null.get() < 0) ThrowErrno("open /dev/null");

  std::cout.flush();
  std::cerr.flush();
  pid_ = ::fork();
  if (pid_ < 0) ThrowErrno("fork");
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0) {
      ::_exit(127);
    }
    ::close_range(3, std::numeric_limits<unsigned>::max(), 0);
    // Root's capabilities after exec are its bounding set: what is dropped here is gone.
    for (const int capability : dropped_capabilities) {
      if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) ::_exit(126);
    }
    ::execvp(argv[0], argv.data());  // a launcher is looked up in PATH; podstat's path is absolute
    static const char kMessage[] = "exec of the podstat binary (or its launcher) failed\n";
    [[maybe_unused]] ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
}

Agent::~Agent() {
  if (pid_ > 0 && !Reap(false)) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!Reap(false) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    if (!Reap(false)) {
      ::kill(pid_, SIGKILL);
      Reap(true);
      ADD_FAILURE() << "podstat did not exit within 5 s of SIGTERM";
    } else if (!(WIFEXITED(*wait_status_) && WEXITSTATUS(*wait_status_) == 0) &&
               !(WIFSIGNALED(*wait_status_) && WTERMSIG(*wait_status_) == SIGTERM)) {
      ADD_FAILURE() << "podstat did not shut down cleanly on SIGTERM: "
                    << DescribeWaitStatus(*wait_status_);
    }
  }
  if (::testing::Test::HasFailure()) {
    // The agent logs at debug level: its last words usually explain a wrong number.
    constexpr size_t kTail = 64 * 1024;
    const std::string output = Stderr();
    std::cerr << "---- podstat output (" << log_path_ << ", last " << kTail << " bytes) ----\n"
              << (output.size() > kTail ? output.substr(output.size() - kTail) : output)
              << "\n---- end of podstat output ----\n";
  }
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

std::string Agent::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool Agent::Reap(bool block) {
  if (wait_status_) return true;
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != pid_) return false;
  wait_status_ = status;
  return true;
}

bool Agent::WaitHealthy(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (Reap(false)) return false;
    try {
      const HttpResponse response = Get("/healthz");
      if (response.status == 200 && response.body.rfind("ok", 0) == 0) return true;
    } catch (const std::exception&) {
      // Not listening yet.
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

std::optional<int> Agent::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!Reap(false)) {
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return wait_status_;
}

HttpResponse HttpGet(uint16_t port, const std::string& path) {
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) ThrowErrno("socket");
  const timeval timeout{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    ThrowErrno("connect to " + address);
  }
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\nAccept-Encoding: identity\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ThrowErrno("send to " + address);
  }
  std::string raw;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("read GET " + path + " from " + address);
    }
    raw.append(buffer, static_cast<size_t>(n));
  }
  const size_t header_end = raw.find("\r\n\r\n");
  int status = 0;
  if (header_end == std::string::npos || std::sscanf(raw.c_str(), "HTTP/1.%*d %d", &status) != 1) {
    throw std::runtime_error("malformed HTTP response to GET " + path + " from " + address + ": " +
                             raw.substr(0, 200));
  }
  std::string headers = raw.substr(0, header_end);
  std::transform(headers.begin(), headers.end(), headers.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    throw std::runtime_error("chunked response to an HTTP/1.0 request for " + path);
  }
  return {status, raw.substr(header_end + 4)};
}

HttpResponse Agent::Get(const std::string& path) const { return HttpGet(port_, path); }

SsSockets CountSsSockets(pid_t pid) {
  const CommandResult result =
      RunCommand({"nsenter", "--net=/proc/" + std::to_string(pid) + "/ns/net", "ss", "-tuanH"}, "");
  if (!result.exited_zero()) throw std::runtime_error("ss -tuanH failed: " + result.output);
  SsSockets counts;
  std::istringstream lines(result.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string protocol, state;
    fields >> protocol >> state;
    if (protocol == "tcp") {
      ++counts.tcp[state];
      ++counts.tcp_total;
    } else if (protocol == "udp") {
      ++counts.udp;
    }
  }
  return counts;
}

std::string Agent::Scrape() const {
  HttpResponse response = Get("/metrics");
  if (response.status != 200) {
    throw std::runtime_error("GET /metrics answered " + std::to_string(response.status) + ": " +
                             response.body.substr(0, 500));
  }
  return std::move(response.body);
}

std::string Agent::Stderr() const {
  try {
    return ReadFile(log_path_);
  } catch (const std::exception& e) {
    return e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition

namespace {

class LineParser {
 public:
  LineParser(std::string_view line, size_t number) : line_(line), number_(number) {}

  Sample Parse() {
    Sample sample;
    sample.name = Name(/*metric=*/true);
    if (Peek() == '{') {
      ++pos_;
      for (;;) {
        SkipBlanks();
        if (Peek() == '}') break;
        std::string label = Name(/*metric=*/false);
        SkipBlanks();
        Expect('=');
        SkipBlanks();
        std::string value = QuotedValue();
        if (!sample.labels.emplace(label, std::move(value)).second)
          Fail("duplicate label " + label);
        SkipBlanks();
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        if (Peek() != '}') Fail("expected ',' or '}'");
      }
      ++pos_;
    }
    const size_t before_value = pos_;
    SkipBlanks();
    if (pos_ == before_value) Fail("expected a blank before the value");
    sample.value = Value(Token());
    SkipBlanks();
    if (pos_ < line_.size()) {
      const std::string timestamp = Token();
      if (timestamp.find_first_not_of("-0123456789") != std::string::npos) {
        Fail("bad timestamp '" + timestamp + "'");
      }
      SkipBlanks();
      if (pos_ < line_.size()) Fail("trailing characters");
    }
    return sample;
  }

 private:
  static bool IsBlank(char c) { return c == ' ' || c == '\t'; }
  char Peek() const { return pos_ < line_.size() ? line_[pos_] : '\0'; }
  void SkipBlanks() {
    while (IsBlank(Peek())) ++pos_;
  }
  void Expect(char c) {
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string Name(bool metric) {
    const size_t start = pos_;
    auto first = [&](char c) {
      return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (metric && c == ':');
    };
    if (!first(Peek())) Fail(metric ? "bad metric name" : "bad label name");
    while (first(Peek()) || std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    return std::string(line_.substr(start, pos_ - start));
  }

  std::string QuotedValue() {
    Expect('"');
    std::string value;
    for (;;) {
      if (pos_ >= line_.size()) Fail("unterminated label value");
      const char c = line_[pos_++];
      if (c == '"') return value;
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      const char escaped = Peek();
      ++pos_;
      if (escaped == 'n') {
        value.push_back('\n');
      } else if (escaped == '\\' || escaped == '"') {
        value.push_back(escaped);
      } else {
        Fail("bad escape in label value");
      }
    }
  }

  std::string Token() {
    const size_t start = pos_;
    while (pos_ < line_.size() && !IsBlank(line_[pos_])) ++pos_;
    return std::string(line_.substr(start, pos_ - start));
  }

  double Value(const std::string& token) {
    if (token == "+Inf") return std::numeric_limits<double>::infinity();
    if (token == "-Inf") return -std::numeric_limits<double>::infinity();
    if (token == "NaN") return std::numeric_limits<double>::quiet_NaN();
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(token.c_str(), &end);
    if (token.empty() || *end != '\0' || errno == ERANGE) Fail("bad value '" + token + "'");
    return value;
  }

  [[noreturn]] void Fail(const std::string& what) const {
    throw std::runtime_error("exposition line " + std::to_string(number_) + ": " + what +
                             " at column " + std::to_string(pos_ + 1) + ": " + std::string(line_));
  }

  std::string_view line_;
  size_t number_;
  size_t pos_ = 0;
};

bool HasLabels(const Sample& sample, const Labels& labels) {
  for (const auto& [name, value] : labels) {
    const auto it = sample.labels.find(name);
    if (it == sample.labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

std::vector<Sample> ParseExposition(std::string_view text) {
  std::vector<Sample> samples;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    samples.push_back(LineParser(line, number).Parse());
  }
  return samples;
}

std::optional<double> FindSample(const std::vector<Sample>& samples, std::string_view name,
                                 const Labels& labels) {
  std::optional<double> found;
  std::string matches;
  for (const Sample& sample : samples) {
    if (sample.name != name || !HasLabels(sample, labels)) continue;
    if (found) matches += "\n  ";
    matches += FormatSample(sample);
    if (found) {
      throw std::runtime_error("several series match " +
                               FormatSample({std::string(name), labels, 0}) + ":\n  " + matches);
    }
    found = sample.value;
  }
  return found;
}

std::vector<Sample> SamplesNamed(const std::vector<Sample>& samples, std::string_view name) {
  std::vector<Sample> out;
  for (const Sample& sample : samples) {
    if (sample.name == name) out.push_back(sample);
  }
  return out;
}

std::vector<Sample> SamplesWithLabel(const std::vector<Sample>& samples, std::string_view label,
                                     std::string_view value) {
  std::vector<Sample> out;
  for (const Sample& sample : samples) {
    const auto it = sample.labels.find(label);
    if (it != sample.labels.end() && it->second == value) out.push_back(sample);
  }
  return out;
}

void ExpectPromtoolAccepts(std::string_view exposition) {
  const CommandResult check = RunCommand({"promtool", "check", "metrics"}, exposition);
  ASSERT_FALSE(WIFEXITED(check.wait_status) && WEXITSTATUS(check.wait_status) == 127)
      << "promtool is not installed (Debian: apt-get install prometheus; `make` installs it)";
  EXPECT_TRUE(check.exited_zero())
      << "promtool check metrics " << DescribeWaitStatus(check.wait_status) << ":\n"
      << check.output;
}

std::string FormatSample(const Sample& sample) {
  std::string out = sample.name + "{";
  bool first = true;
  for (const auto& [name, value] : sample.labels) {
    if (!first) out += ",";
    first = false;
    out += name + "=\"" + value + "\"";
  }
  return out + "} " + FormatDouble(sample.value);
}

// ---------------------------------------------------------------------------------------------
// Subprocesses

bool CommandResult::exited_zero() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::string_view input) {
  if (argv.empty()) throw std::invalid_argument("RunCommand: empty argv");
  char input_template[] = "/tmp/podstat-test-input-XXXXXX";
  char output_template[] = "/tmp/podstat-test-output-XXXXXX";
  Fd in(::mkstemp(input_template));
  if (in.get() < 0) ThrowErrno("mkstemp");
  ::unlink(input_template);
  Fd out(::mkstemp(output_template));
  if (out.get() < 0) ThrowErrno("mkstemp");
  ::unlink(output_template);
  if (::write(in.get(), input.data(), input.size()) != static_cast<ssize_t>(input.size()) ||
      ::lseek(in.get(), 0, SEEK_SET) != 0) {
    ThrowErrno("writing the input of " + argv[0]);
  }

  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& arg : args) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) ThrowErrno("fork");
  if (pid == 0) {
    if (::dup2(in.get(), 0) < 0 || ::dup2(out.get(), 1) < 0 || ::dup2(out.get(), 2) < 0) {
      ::_exit(127);
    }
    ::close_range(3, std::numeric_limits<unsigned>::max(), 0);
    ::execvp(c_argv[0], c_argv.data());
    ::_exit(127);  // the output then is empty and the status says 127: "not found"
  }
  CommandResult result;
  while (::waitpid(pid, &result.wait_status, 0) < 0) {
    if (errno != EINTR) ThrowErrno("waitpid");
  }
  if (::lseek(out.get(), 0, SEEK_SET) != 0) ThrowErrno("lseek");
  char buffer[65536];
  for (ssize_t n; (n = ::read(out.get(), buffer, sizeof buffer)) > 0;) {
    result.output.append(buffer, static_cast<size_t>(n));
  }
  return result;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return std::string("killed by signal ") + ::strsignal(WTERMSIG(wait_status));
  }
  return "wait status " + std::to_string(wait_status);
}

}  // namespace podstat::testing
