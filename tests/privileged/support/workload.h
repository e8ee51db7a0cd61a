// Support for privileged end-to-end tests: a throwaway cgroup v2 directory, a child process that
// holds TCP sockets in chosen states inside it, ground truth from /proc/<pid>/net/tcp{,6}, the
// podstat binary run as a subprocess, and a small Prometheus text-exposition parser.
//
// Everything here is RAII: a test that fails half-way (an ASSERT returns, an exception unwinds)
// still kills its children, removes its cgroup and stops the agent. Setup failures are reported
// by throwing std::runtime_error, which gtest turns into a test failure carrying the message.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace podstat::testing {

// ---------------------------------------------------------------------------------------------
// Waiting for conditions
//
// A test waits for what must hold (a socket in a state, a file, a count), never for a fixed
// time that assumes it happened meanwhile. The tests also run in qemu TCG guests, 10-50x slower
// than a host, so the deadlines are generous: a condition that holds ends the wait at once.

inline constexpr std::chrono::seconds kConditionTimeout{30};

// Evaluates `holds` every `interval` until it returns true (then returns true), or until
// `timeout` has passed (then returns false, after one last evaluation at the deadline).
bool PollUntil(const std::function<bool()>& holds,
               std::chrono::milliseconds timeout = kConditionTimeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(10));

// PollUntil, but throws std::runtime_error("timed out after <timeout> waiting for <what>") when
// the condition never held.
void WaitUntil(const std::function<bool()>& holds, const std::string& what,
               std::chrono::milliseconds timeout = kConditionTimeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(10));

// ---------------------------------------------------------------------------------------------
// TCP state ground truth

// The `state` label values of container_tcp_sockets, in the kernel's numbering order
// (include/net/tcp_states.h: 1 = established ... 12 = new_syn_recv).
inline constexpr std::string_view kTcpStateNames[] = {
    "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
    "close",       "close_wait", "last_ack", "listen",    "closing",   "new_syn_recv"};

// container_tcp_sockets reports every state but close and new_syn_recv: a closed socket is
// unhashed (no dump or /proc table lists it) and a request socket is listed as syn_recv, so no
// source can count either (series hygiene, README "What container_tcp_sockets counts").
constexpr bool IsReportedTcpState(std::string_view state) {
  return state != "close" && state != "new_syn_recv";
}
inline constexpr size_t kReportedTcpStateCount = std::size(kTcpStateNames) - 2;

// state label → number of sockets. Always holds all 12 states, so two of them compare with ==
// and a failure message shows every state, zeros included.
using TcpStateCounts = std::map<std::string, int64_t, std::less<>>;

TcpStateCounts ZeroTcpStates();

// Builds counts from a few non-zero entries, e.g. TcpStates({{"listen", 3}}). Throws on an
// unknown state name, so a typo cannot silently compare against a state that does not exist.
TcpStateCounts TcpStates(std::initializer_list<std::pair<std::string_view, int64_t>> nonzero);

// Counts the sockets listed in /proc/<pid>/net/tcp and tcp6, i.e. every TCP socket (including
// TIME_WAIT and request sockets) of the network namespace <pid> lives in.
TcpStateCounts CountTcpStates(pid_t pid);

// The same, restricted to sockets whose inode is in `inodes`. For the host namespace, where other
// processes' sockets would otherwise be counted. Sockets without a file (TIME_WAIT, orphans,
// request sockets) have inode 0 and are therefore never counted here.
TcpStateCounts CountTcpStates(pid_t pid, const std::set<uint64_t>& inodes);

// Inodes of the sockets the given processes hold open (/proc/<pid>/fd/* → "socket:[ino]").
std::set<uint64_t> SocketInodes(const std::vector<pid_t>& pids);

// One line per state that differs, or "" when equal. `ignore` lists states not compared.
std::string DiffTcpStates(const TcpStateCounts& want, const TcpStateCounts& got,
                          const std::set<std::string, std::less<>>& ignore = {});

std::string FormatTcpStates(const TcpStateCounts& counts);

// ---------------------------------------------------------------------------------------------
// cgroups

// Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo (fstype cgroup2); empty when
// none is mounted. On hybrid hosts this is e.g. /sys/fs/cgroup/unified.
std::string CgroupV2Mount();

// A fresh cgroup v2 directory <v2 mount>/podstat-test-<pid>-<n>. The destructor kills whatever
// still runs inside and removes the directory.
class TestCgroup {
 public:
  TestCgroup();
  // A child of `parent` named `name`, taken byte for byte (it may hold any byte the kernel takes:
  // all but '/', NUL and '\n'). Declare it after its parent, so that it is removed first.
  TestCgroup(const TestCgroup& parent, std::string_view name);
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  // Absolute path of the directory.
  const std::string& dir() const { return dir_; }
  // Path relative to the v2 root with a leading slash ("/podstat-test-123-0"): podstat's `id`.
  const std::string& id() const { return id_; }
  // Inode of the directory: the kernel's cgroup id.
  uint64_t inode() const { return inode_; }

 private:
  std::string dir_;
  std::string id_;
  uint64_t inode_ = 0;
};

// ---------------------------------------------------------------------------------------------
// SocketWorkload

enum class Family { kInet, kInet6 };
enum class Netns { kOwn, kHost };

// A forked child, moved into `cgroup` (optionally into a fresh network namespace with lo up),
// that opens and closes TCP sockets on command. Every method returns only once the kernel shows
// the intended states in /proc (or throws, naming the states that never settled), so a test can
// compare the agent against a known, settled truth.
//
// The parent keeps a model of what the child holds (expected()); the effects below are exact for
// loopback TCP on Linux, and each command is checked against /proc before it returns:
//   Listen(n)       n LISTEN sockets on 127.0.0.1:0 or [::1]:0
//   Established(n)  n connected pairs through the family's shared listener (created on first
//                   use: one more LISTEN), both ends open: 2n ESTABLISHED
//   TimeWait(n)     n pairs where the client closes first and the server closes after reading
//                   EOF: n TIME_WAIT on the client side; the server side goes LAST_ACK → CLOSE
//   CloseWait(n)    n pairs where the client shuts down writing and both stay open:
//                   n FIN_WAIT2 (client) + n CLOSE_WAIT (server)
//   CloseAll()      closes every listener and every pair, never letting FINs cross (that would
//                   take both ends through CLOSING into TIME_WAIT): each open pair leaves exactly
//                   one TIME_WAIT behind, on the client side
//   Udp(n)          n UDP sockets bound to 127.0.0.1:0 or [::1]:0, held until the child exits
//                   (checked against /proc/<pid>/net/udp{,6}; CloseAll leaves them open)
// Must be constructed while the test process is single-threaded (the child runs C++ after fork).
class SocketWorkload {
 public:
  SocketWorkload(const TestCgroup& cgroup, Netns netns);
  ~SocketWorkload();
  SocketWorkload(const SocketWorkload&) = delete;
  SocketWorkload& operator=(const SocketWorkload&) = delete;

  pid_t pid() const { return pid_; }
  Netns netns() const { return netns_; }

  void Listen(int n, Family family = Family::kInet);
  void Established(int n, Family family = Family::kInet);
  void TimeWait(int n, Family family = Family::kInet);
  void CloseWait(int n, Family family = Family::kInet);
  void CloseAll();
  void Udp(int n, Family family = Family::kInet);
  // prctl(PR_SET_NAME): the child's comm becomes `name`, byte for byte (the kernel keeps 15).
  void SetComm(std::string_view name);

  // What the child holds, as states. In the host namespace time_wait is tracked but cannot be
  // verified (TIME_WAIT sockets have no inode to attribute them by).
  const TcpStateCounts& expected() const { return expected_; }

  // Ground truth from /proc: in the child's own namespace every socket of the namespace; in the
  // host namespace only the sockets the child holds open (time_wait is then always 0).
  TcpStateCounts Truth() const;

  // States that Truth() cannot see for this workload ({"time_wait"} in the host namespace).
  std::set<std::string, std::less<>> UnverifiableStates() const;

 private:
  void Command(const std::string& command);
  void AwaitSettled(const std::string& after);
  void EnsureSharedListener(Family family);

  Netns netns_;
  pid_t pid_ = -1;
  int fd_ = -1;  // parent's end of the command socketpair
  bool shared_listener_[2] = {false, false};
  int64_t open_pairs_ = 0;   // pairs with at least one end open (Established + CloseWait)
  int64_t udp_sockets_ = 0;  // Udp(), both families
  TcpStateCounts expected_ = ZeroTcpStates();
};

// ---------------------------------------------------------------------------------------------
// Hostile names

// A container cgroup whose names hold what breaks a naive exposition: invalid UTF-8, '"', '\\'
// and, where the kernel takes one, a newline. <test cgroup>/x-\xff\xfe"\\/docker-<id>.scope
// (the kernel refuses '\n' in cgroup names: cgroup_mkdir returns EINVAL), a SocketWorkload in it
// in its own network namespace with one listener and comm "w\xff"\\\n\xfe", and two veth
// interfaces there named "v\xff"\\" and "\xfe" (dev_valid_name refuses '/', ':' and
// whitespace). The expected_* members are the label values podstat must export for them.
class HostileContainer {
 public:
  HostileContainer();
  HostileContainer(const HostileContainer&) = delete;
  HostileContainer& operator=(const HostileContainer&) = delete;

  static constexpr std::string_view kContainerId =
      "badc0ffee0ddf00dbadc0ffee0ddf00dbadc0ffee0ddf00dbadc0ffee0ddf00d";
  const SocketWorkload& workload() const { return workload_; }
  std::string expected_id;                       // the `id` label
  std::string expected_comm;                     // the `comm` label
  std::vector<std::string> expected_interfaces;  // `interface` labels, sorted

 private:
  TestCgroup top_;
  TestCgroup hostile_;
  TestCgroup container_;
  SocketWorkload workload_;
};

// ---------------------------------------------------------------------------------------------
// Agent

struct HttpResponse {
  int status = 0;
  std::string body;
};

// The podstat binary (PODSTAT_BINARY) run with
//   --web.listen-address=127.0.0.1:<port> --log.level=debug --sample.max-age=0s <extra_args>
// on a free port (or the given one), stdout and stderr captured to a temp file. The destructor
// sends SIGTERM (SIGKILL after 5 s), reaps, and prints the captured output if the test failed.
// Capabilities in `dropped_capabilities` (CAP_* numbers) are removed from the bounding set before
// the exec, so the agent, still uid 0, runs without them. A `launcher` ({"unshare", "-C"}) is
// exec'd with the podstat command line appended; it must end by exec'ing podstat in the same
// process (pid() stays the agent's), as setpriv, unshare and nsenter without --fork do.
class Agent {
 public:
  explicit Agent(std::vector<std::string> extra_args = {}, uint16_t port = 0,
                 std::vector<int> dropped_capabilities = {},
                 std::vector<std::string> launcher = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const;  // "127.0.0.1:<port>"

  // Polls GET /healthz until it answers 200 "ok". Returns false when the process exits first or
  // the timeout passes; Stderr() then says why.
  bool WaitHealthy(std::chrono::milliseconds timeout = kConditionTimeout);

  // Waits for the process to exit and returns its wait status (as from waitpid), or nullopt.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

  // GET over a fresh HTTP/1.0 connection. Throws on connection or protocol errors.
  HttpResponse Get(const std::string& path) const;
  // GET /metrics; throws unless 200.
  std::string Scrape() const;

  // Everything the agent wrote to stdout and stderr so far.
  std::string Stderr() const;

 private:
  bool Reap(bool block);

  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
  std::string log_path_;
};

// GET http://127.0.0.1:<port><path> over a fresh HTTP/1.0 connection (10 s timeouts). Throws on
// connection or protocol errors.
HttpResponse HttpGet(uint16_t port, const std::string& path);

// `ss -tuanH` run inside the network namespace of <pid> (nsenter), tallied.
struct SsSockets {
  std::map<std::string, int64_t, std::less<>> tcp;  // ss state name ("ESTAB", "LISTEN", ...)
  int64_t tcp_total = 0;
  int64_t udp = 0;
};
SsSockets CountSsSockets(pid_t pid);

// Picks a port nobody listens on right now (bind 127.0.0.1:0, read it back, close).
uint16_t FreeTcpPort();

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition (0.0.4)

using Labels = std::map<std::string, std::string, std::less<>>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses every sample line; comments and blank lines are skipped. Throws std::runtime_error on a
// malformed line (promtool is the full validator; this only needs to read what podstat writes).
std::vector<Sample> ParseExposition(std::string_view text);

// The value of the one series named `name` whose labels include all of `labels` (other labels are
// ignored), or nullopt when there is none. Throws when several series match: the label set given
// was not specific enough or the exposition holds duplicates, and either way a test reading one
// value would be reading an arbitrary one.
std::optional<double> FindSample(const std::vector<Sample>& samples, std::string_view name,
                                 const Labels& labels);

// All series named `name`.
std::vector<Sample> SamplesNamed(const std::vector<Sample>& samples, std::string_view name);

// All series, of any metric, carrying label `label`="`value`".
std::vector<Sample> SamplesWithLabel(const std::vector<Sample>& samples, std::string_view label,
                                     std::string_view value);

std::string FormatSample(const Sample& sample);

// Runs `promtool check metrics` on the page: a test failure with promtool's complaint unless it
// accepts it (Prometheus would reject the whole page otherwise). Asserts promtool is installed.
void ExpectPromtoolAccepts(std::string_view exposition);

// ---------------------------------------------------------------------------------------------
// Subprocesses

struct CommandResult {
  int wait_status = 0;  // as from waitpid
  std::string output;   // stdout and stderr, interleaved
  bool exited_zero() const;
};

// Runs argv[0] (searched in PATH) with `input` on stdin. Throws if it cannot be started.
CommandResult RunCommand(const std::vector<std::string>& argv, std::string_view input);

std::string DescribeWaitStatus(int wait_status);

}  // namespace podstat::testing
