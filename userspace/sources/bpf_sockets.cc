// bpf_sockets: see bpf_sources.h.
#ifdef PODSTAT_HAVE_BPF

#include "podstat/sources/bpf_sources.h"
#include "podstat/sources/registry.h"

namespace podstat::sources {
namespace {

class BpfSocketsSource final : public Source {
 public:
  explicit BpfSocketsSource(const BpfTcpSource& tcp) : tcp_(tcp) {}
  const SourceInfo& info() const override { return kBpfSocketsInfo; }
  bool active() const override { return tcp_.program() && tcp_.program()->sockets_attached(); }
  std::string Describe() const override {
    if (!tcp_.program()) return tcp_.why_off() + "; open sockets from proc_socket_tables";
    if (!tcp_.program()->sockets_attached())
      return "cgroup/sock programs not attached; open sockets from proc_socket_tables";
    const bpf::SockStateProgram& program = *tcp_.program();
    std::string text = "cgroup/sock_create + sock_release, ";
    text += program.marks_in_storage() ? "marks in socket-local storage"
                                       : "accepted children in ps_child_socks";
    text += program.release_reads_socket_cgroup()
                ? "; a socket's -1 goes to the cgroup it was created in (read from the socket)"
            : program.marks_in_storage()
                ? "; a socket's -1 goes where its +1 went (its mark)"
                : "; a socket's -1 goes to the closing task's cgroup (no socket-local storage)";
    return text;
  }

  void Collect(const Pass& /*pass*/, Sink& sink) override {
    for (const TcpStateSource::CgroupCounts& counts : tcp_.counts()) {
      if (counts.sockets) sink.Cgroup(counts.cgroup_id).sockets = counts.sockets;
    }
  }

 private:
  const BpfTcpSource& tcp_;
};

}  // namespace

std::unique_ptr<Source> MakeBpfSocketsSource(const BpfTcpSource& tcp) {
  return std::make_unique<BpfSocketsSource>(tcp);
}

}  // namespace podstat::sources

#endif  // PODSTAT_HAVE_BPF
