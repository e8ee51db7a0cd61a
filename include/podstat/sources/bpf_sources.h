// The sources that read eBPF maps: bpf_tcp (TCP states and events), bpf_sockets (open sockets,
// from the same map read) and bpf_cpu (on-CPU time and run-queue wait). Each owns its program:
// one whose program failed to load is inactive but still says so (podstat_bpf_program_attached
// 0), and its declared fallback runs instead (the loader decides).
#pragma once

#ifdef PODSTAT_HAVE_BPF

#include <array>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "podstat/bpf/sock_state_program.h"
#include "podstat/bpf/task_cpu_program.h"
#include "podstat/sources/source.h"
#include "podstat/sources/tcp_state_source.h"
#include "podstat/util/log.h"

namespace podstat::sources {

class BpfTcpSource final : public Source {
 public:
  // program may be null (not loaded: why_off says why): the source is then inactive.
  BpfTcpSource(std::unique_ptr<bpf::SockStateProgram> program, const HostPaths& paths,
               Logger& logger, TcpStateSource::Options options, std::string why_off);
  ~BpfTcpSource() override;

  const SourceInfo& info() const override;
  bool active() const override { return tcp_ != nullptr; }
  std::string Describe() const override;
  void Collect(const Pass& pass, Sink& sink) override;
  bool ForgetCgroup(uint64_t id) override;
  void AddSelfStats(model::SelfStats& self) override;

  const bpf::SockStateProgram* program() const { return program_.get(); }
  const std::string& why_off() const { return why_off_; }
  // This pass's counts (bpf_sockets takes the socket counts from them).
  const std::vector<TcpStateSource::CgroupCounts>& counts() const { return counts_; }

 private:
  std::unique_ptr<bpf::SockStateProgram> program_;
  std::unique_ptr<TcpStateSource> tcp_;
  Logger& logger_;
  std::vector<TcpStateSource::CgroupCounts> counts_;
  std::string why_off_;
  std::array<uint64_t, PS_DROP_REASON_COUNT> last_drops_{};  // to log only increases
};

// Reads what `tcp` read this pass; runs after it. Active when the cgroup/sock programs attached.
std::unique_ptr<Source> MakeBpfSocketsSource(const BpfTcpSource& tcp);

// program may be null (why_off says why): inactive; cgroup_cpu then has usage.
std::unique_ptr<Source> MakeBpfCpuSource(std::unique_ptr<bpf::TaskCpuProgram> program,
                                         Logger& logger, std::string why_off);

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
