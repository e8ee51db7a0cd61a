// proc_socket_tables: see sources.h.
#include "podstat/procfs/net.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {
namespace {

class ProcSocketTablesSource final : public Source {
 public:
  explicit ProcSocketTablesSource(bool active) : active_(active) {}
  const SourceInfo& info() const override { return kProcSocketTablesInfo; }
  bool active() const override { return active_; }
  std::string Describe() const override {
    return active_ ? "/proc/<pid>/net/{tcp,udp,udplite,raw}{,6} per network namespace "
                     "(bpf_sockets unavailable)"
                   : "bpf_sockets counts open sockets";
  }

  void Collect(const Pass& /*pass*/, Sink& sink) override {
    sink.snapshot().other_socket_kinds_counted = false;  // the tables have no such kinds
  }

  void CollectNamespace(const Pass& /*pass*/, const NamespaceView& view, Sink& sink) override {
    model::SocketCounts sockets{};
    std::array<std::optional<model::UdpQueues>, 2> udp;
    bool read_any = false;
    for (size_t family = 0; family < 2; ++family) {
      const std::string suffix = family == 0 ? "" : "6";
      if (const std::string* text = view.files.Read("net/tcp" + suffix)) {
        read_any = true;
        sockets[family][model::kSocketTcp] =
            static_cast<int64_t>(procfs::ParseSocketTable(*text, /*is_tcp=*/true).held);
      }
      for (const auto& [file, kind] : {std::pair{"net/udp", model::kSocketUdp},
                                       std::pair{"net/udplite", model::kSocketUdpLite},
                                       std::pair{"net/raw", model::kSocketRaw}}) {
        const std::string* text = view.files.Read(file + suffix);
        if (!text) continue;
        read_any = true;
        const auto table = procfs::ParseSocketTable(*text, /*is_tcp=*/false);
        sockets[family][kind] = static_cast<int64_t>(table.held);
        if (kind == model::kSocketUdp) {
          udp[family] = model::UdpQueues{table.lines, table.rx_queue, table.tx_queue, table.drops};
        }
      }
    }
    if (!read_any) return;  // the process exited since the namespaces were listed
    // Socket counts of every namespace an owner has add up; the UDP queues are the namespace's.
    model::CgroupStats& owner = sink.Cgroup(view.owned.owner_cgroup_id);
    if (!owner.sockets) owner.sockets.emplace();
    for (size_t family = 0; family < 2; ++family) {
      for (size_t kind = 0; kind < sockets[family].size(); ++kind) {
        (*owner.sockets)[family][kind] += sockets[family][kind];
      }
    }
    if (udp[0] || udp[1]) sink.Namespace(view.owned.ns.inode).udp = udp;
  }

 private:
  bool active_;
};

}  // namespace

std::unique_ptr<Source> MakeProcSocketTablesSource(bool active) {
  return std::make_unique<ProcSocketTablesSource>(active);
}

}  // namespace podstat::sources
