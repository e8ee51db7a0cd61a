// bpf_tcp: see bpf_sources.h. Counting is TcpStateSource's (tcp_state_source.h); this file puts
// its counts into the sink and the program's health into the self-metrics.
#include "podstat/sources/loader.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

// Registered in every build, so that the flag means the same with or without eBPF built in.
void RegisterBpfTcpFlags(CLI::App& app, SourceConfig& config) {
  flags::AddDuration(app, "bpf.reconcile-interval", config.reconcile_interval,
                     std::chrono::milliseconds(1000),
                     "How often socket counts are checked against sock_diag and corrected "
                     "(default 5m).");
}

}  // namespace podstat::sources

#ifdef PODSTAT_HAVE_BPF

#include "podstat/sources/bpf_sources.h"
#include "podstat/sources/registry.h"

namespace podstat::sources {

BpfTcpSource::BpfTcpSource(std::unique_ptr<bpf::SockStateProgram> program, const HostPaths& paths,
                           Logger& logger, TcpStateSource::Options options, std::string why_off)
    : program_(std::move(program)), logger_(logger), why_off_(std::move(why_off)) {
  if (program_) {
    tcp_ = std::make_unique<TcpStateSource>(*program_, paths, logger_, std::move(options));
  }
}

BpfTcpSource::~BpfTcpSource() = default;

const SourceInfo& BpfTcpSource::info() const { return kBpfTcpInfo; }

std::string BpfTcpSource::Describe() const {
  if (!program_) return why_off_ + "; TCP states from proc_tcp_tables";
  return program_->attached_program() +
         " + tcp_retransmit_skb, tcp_send_reset, tcp_receive_reset; seeded and reconciled with "
         "sock_diag";
}

void BpfTcpSource::Collect(const Pass& pass, Sink& sink) {
  counts_ = tcp_->Collect(pass.namespaces);
  for (const TcpStateSource::CgroupCounts& counts : counts_) {
    model::CgroupStats& stats = sink.Cgroup(counts.cgroup_id);
    stats.tcp = counts.tcp;
    stats.tcp_inet6 = counts.tcp_inet6;
    stats.tcp_events = counts.events;
  }
}

bool BpfTcpSource::ForgetCgroup(uint64_t id) { return tcp_ && tcp_->ForgetIfEmpty(id); }

void BpfTcpSource::AddSelfStats(model::SelfStats& self) {
  for (std::string_view name : bpf::kSockStatePrograms) {
    self.programs.push_back({std::string(name), program_ && program_->IsAttached(name)});
  }
  if (!program_) return;
  const auto drops = program_->ReadDrops();
  static constexpr const char* kReasons[PS_DROP_REASON_COUNT] = {
      "map_full", "no_cgroup", "bad_state", "no_mark", "map_busy"};
  for (int i = 0; i < PS_DROP_REASON_COUNT; ++i) {
    const size_t reason = static_cast<size_t>(i);
    self.bpf_drops.push_back({kReasons[i], drops[reason]});
    if (drops[reason] > last_drops_[reason]) {
      logger_.Warn("bpf", drops[reason] - last_drops_[reason], " socket events dropped (",
                   kReasons[i], ")",
                   i == PS_DROP_MAP_FULL
                       ? "; ps_tcp_states is full: raise --bpf.max-cgroups. Counts are corrected "
                         "at the next sock_diag reconciliation."
                       : "");
    }
  }
  last_drops_ = drops;
  // Skipped runs of the tracing programs (a rise in the state program's also makes the TCP
  // source reconcile early).
  for (const auto& stats : program_->ReadRunStats()) {
    if (stats.tracing && stats.recursion_misses_reported) {
      self.recursion_misses.push_back({stats.name, stats.recursion_misses});
    }
  }
  self.socket_drift = tcp_->drift();
  self.reconciliations = tcp_->reconciliations();
  self.early_reconciliations = tcp_->early_reconciliations();
  self.reconciliation_seconds = tcp_->reconciliation_seconds();
  const auto& failures = tcp_->failures();
  for (size_t i = 0; i < failures.size(); ++i) {
    self.sock_diag_failures.push_back({TcpStateSource::kFailureReasonNames[i], failures[i]});
  }
  self.tcp_map_entries = tcp_->map_entries();
  self.tcp_map_capacity = program_->max_cgroups();
}

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
