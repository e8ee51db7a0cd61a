// proc_tcp_tables: see sources.h. One walk of the kernel's socket hash per file (~1 ms each).
#include "podstat/procfs/net.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {
namespace {

class ProcTcpTablesSource final : public Source {
 public:
  explicit ProcTcpTablesSource(bool active) : active_(active) {}
  const SourceInfo& info() const override { return kProcTcpTablesInfo; }
  bool active() const override { return active_; }
  std::string Describe() const override {
    return active_ ? "/proc/<pid>/net/tcp{,6} per network namespace (bpf_tcp unavailable)"
                   : "bpf_tcp counts TCP states";
  }

  void CollectNamespace(const Pass& /*pass*/, const NamespaceView& view, Sink& sink) override {
    for (const auto& [file, inet6] : {std::pair{"net/tcp", false}, std::pair{"net/tcp6", true}}) {
      const std::string* text = view.files.Read(file);
      if (!text) continue;  // no IPv6, or the process exited since the namespaces were listed
      // Every owner gets TCP series, zeros included, as it would from BPF after seeding.
      model::CgroupStats& owner = sink.Cgroup(view.owned.owner_cgroup_id);
      if (!owner.tcp) owner.tcp.emplace();
      if (!owner.tcp_inet6) owner.tcp_inet6.emplace();
      const auto table = procfs::ParseSocketTable(*text, /*is_tcp=*/true);
      for (size_t i = 0; i < table.states.size(); ++i) {
        if (i == model::kTcpTimeWait - 1) continue;  // from sockstat, as with BPF
        (*owner.tcp)[i] += table.states[i];
        if (inet6) (*owner.tcp_inet6)[i] += table.states[i];
      }
    }
  }

 private:
  bool active_;
};

}  // namespace

std::unique_ptr<Source> MakeProcTcpTablesSource(bool active) {
  return std::make_unique<ProcTcpTablesSource>(active);
}

}  // namespace podstat::sources
