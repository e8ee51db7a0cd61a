// The immutable result of one collection pass. The sampler builds it, publishes it as
// shared_ptr<const Snapshot>, and every reader (/metrics, later remote_write) only reads it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podstat::model {

// TCP states in kernel order; index = kernel state number - 1 (include/net/tcp_states.h).
inline constexpr std::array<std::string_view, 12> kTcpStateNames = {
    "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
    "close",       "close_wait", "last_ack", "listen",    "closing",   "new_syn_recv"};
inline constexpr int kTcpTimeWait = 6;

using TcpStateCounts = std::array<int64_t, kTcpStateNames.size()>;  // index = state - 1

struct CgroupTcp {
  uint64_t cgroup_id = 0;
  std::string path;  // relative to the cgroup v2 root: "/" or "/a/b"
  TcpStateCounts sockets{};
};

struct ProgramStatus {
  std::string name;
  bool attached = false;
};

struct Drop {
  std::string reason;
  uint64_t count = 0;
};

// What the agent says about itself.
struct SelfStats {
  std::vector<ProgramStatus> programs;
  std::vector<Drop> bpf_drops;
  uint64_t socket_drift = 0;        // sockets corrected by reconciliation, cumulative
  uint64_t reconciliations = 0;     // completed sock_diag reconciliation rounds
  uint64_t unresolved_cgroups = 0;  // map entries whose cgroup has no directory (now)
  uint64_t network_namespaces = 0;  // seen in this pass
  double collection_duration_seconds = 0;
};

struct Snapshot {
  std::chrono::system_clock::time_point taken_at{};
  std::vector<CgroupTcp> cgroups;  // sorted by path, one entry per path
  SelfStats self;
};

}  // namespace podstat::model
