// Loads and attaches bpf/sock_state.bpf.c and reads its maps. One object owns the skeleton, and
// with it every program, link and map fd: destroying it detaches everything and removes the pins.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/abi/sock_state.h"
#include "podstat/bpf/libbpf_util.h"
#include "podstat/bpf/program_info.h"
#include "podstat/util/log.h"

struct sock_state_bpf;

namespace podstat::bpf {

// Which flavour of the inet_sock_set_state program to load. tp_btf (5.5+, BTF-typed arguments) is
// preferred; raw_tp (4.17+) is the fallback. kAuto probes and falls back on failure.
enum class TracepointType { kAuto, kTpBtf, kRawTp };
std::optional<TracepointType> ParseTracepointType(std::string_view text);
std::string_view TracepointTypeName(TracepointType type);

// What the running kernel offers, for --check and for the auto choice.
struct KernelSupport {
  std::string release;          // uname -r
  bool btf = false;             // /sys/kernel/btf/vmlinux readable (CO-RE needs it)
  bool tracing = false;         // tp_btf: kernel BTF describes sock:inet_sock_set_state
  bool raw_tracepoint = false;  // BPF_PROG_TYPE_RAW_TRACEPOINT loads
  bool bpffs = false;           // /sys/fs/bpf is a bpf filesystem (needed for --bpf.pin)
};
KernelSupport ProbeKernel();

// Empty when the kernel's BTF is available to CO-RE (/sys/kernel/btf/vmlinux, or a vmlinux libbpf
// finds elsewhere), else a one-line reason. Without it no podstat program can load.
std::string MissingKernelBtf();

// Routes libbpf's messages (including the verifier's log) to the logger at debug level. libbpf's
// print callback is process-wide, so the logger registered last wins; main registers one.
void RouteLibbpfLogs(Logger& logger);

// Installs podstat's libbpf print callback (RouteLibbpfLogs's, with or without a logger), which
// keeps the verifier's verdict of a failed load for LoadFailureDetail. The loaders call it.
void CaptureLibbpfMessages();

// For a load that just failed on this thread: " (verifier: \"<its verdict>\"; ...)" with the
// last line of the verifier's log, e.g. "unknown func bpf_sk_storage_get#107", so that the
// one-line warning says why without --log.level=debug.
std::string LoadFailureDetail();

struct SockStateOptions {
  TracepointType tracepoint = TracepointType::kAuto;
  uint32_t max_cgroups = 8192;  // ps_tcp_states max_entries
  std::string pin_dir;          // e.g. /sys/fs/bpf/podstat; empty: do not pin
  // The cgroup v2 mount to attach cgroup/sock_create and sock_release to (open sockets of every
  // kind). Empty: those two programs are left out.
  std::string cgroup_root;
};

struct TcpStateEntry {
  uint64_t cgroup_id = 0;
  ps_tcp_counts counts{};
};

class SockStateProgram {
 public:
  // Opens, sizes, loads and attaches. On failure returns nullptr and a one-line reason in *error;
  // the verifier's log goes to the logger at debug level.
  static std::unique_ptr<SockStateProgram> Load(const SockStateOptions& options, Logger& logger,
                                                std::string* error);
  ~SockStateProgram();
  SockStateProgram(const SockStateProgram&) = delete;
  SockStateProgram& operator=(const SockStateProgram&) = delete;

  // The state program that is attached: "inet_sock_set_state_tp_btf" or "..._raw_tp".
  const std::string& attached_program() const { return attached_program_; }
  // Whether a program of kSockStatePrograms is attached.
  bool IsAttached(std::string_view program) const;
  // cgroup/sock_create and sock_release are attached: ps_tcp_states.sockets counts open sockets.
  bool sockets_attached() const { return sockets_attached_; }
  // Where the sockets' marks live: socket-local storage (exact: each -1 goes where its +1 went),
  // or, without it, ps_child_socks for accepted children alone (a socket's -1 goes to the cgroup
  // of the task that closes it).
  bool marks_in_storage() const { return marks_in_storage_; }
  // sock_release reads the cgroup a socket was created in from the socket itself (6.2+, with
  // bpf_rdonly_cast): its -1 goes there even when another cgroup's task closes it.
  bool release_reads_socket_cgroup() const { return release_reads_socket_cgroup_; }
  TracepointType tracepoint_type() const { return type_; }
  uint32_t max_cgroups() const { return max_cgroups_; }
  // Why the attempts before the one attached failed ("; "-separated), e.g. why the cgroup socket
  // programs or tp_btf were given up; empty when the first attempt worked. For the status page.
  const std::string& fallback_reasons() const { return fallback_reasons_; }

  // Every entry of ps_tcp_states (batched lookup where the kernel has it, else key iteration).
  // Reuses internal buffers: call from one thread (the sampler).
  bool ReadTcpStates(std::vector<TcpStateEntry>& out, std::string* error) const;
  // Removes a cgroup's entry; returns false if it was not there.
  bool DeleteTcpState(uint64_t cgroup_id) const;
  // ps_stats summed over CPUs, indexed by enum ps_drop_reason.
  std::array<uint64_t, PS_DROP_REASON_COUNT> ReadDrops() const;
  // The kernel's statistics of every loaded program, recursion misses included.
  std::vector<ProgramRunStats> ReadRunStats() const;
  // The recursion misses of the TCP state program alone: each is a state transition that was
  // never counted (0 where the kernel does not report them).
  uint64_t StateRecursionMisses() const;

 private:
  struct SkeletonDeleter {
    void operator()(sock_state_bpf* skeleton) const;
  };
  SockStateProgram() = default;

  std::unique_ptr<sock_state_bpf, SkeletonDeleter> skeleton_;
  TracepointType type_ = TracepointType::kAuto;
  std::string attached_program_;
  bool sockets_attached_ = false;
  bool marks_in_storage_ = false;
  bool release_reads_socket_cgroup_ = false;
  uint32_t max_cgroups_ = 0;
  std::string fallback_reasons_;
  MapPins pins_;  // declared after the skeleton: unpinned before it is destroyed
  mutable bool batch_supported_ = true;
  mutable std::vector<ps_tcp_key> batch_keys_;
  mutable std::vector<ps_tcp_counts> batch_values_;
};

// Names of the attachable programs, for podstat_bpf_program_attached{program}. The three TCP
// event tracepoints take the state program's flavour (tp_btf or raw_tp).
inline constexpr std::array<std::string_view, 7> kSockStatePrograms = {
    "inet_sock_set_state_tp_btf", "inet_sock_set_state_raw_tp",
    "tcp_retransmit_skb",         "tcp_send_reset",
    "tcp_receive_reset",          "cgroup_sock_create",
    "cgroup_sock_release"};

}  // namespace podstat::bpf
