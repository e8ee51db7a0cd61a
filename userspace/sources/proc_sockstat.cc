// proc_sockstat: see sources.h.
#include "podstat/procfs/sockstat.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {
namespace {

class ProcSockstatSource final : public Source {
 public:
  const SourceInfo& info() const override { return kProcSockstatInfo; }
  bool active() const override { return true; }
  std::string Describe() const override {
    return "/proc/<pid>/net/sockstat{,6} per network namespace";
  }

  void Collect(const Pass& /*pass*/, Sink& /*sink*/) override { node_ = {}; }

  void CollectNamespace(const Pass& /*pass*/, const NamespaceView& view, Sink& sink) override {
    const std::string* v4 = view.files.Read("net/sockstat");
    if (!v4) return;  // the process exited since the namespaces were listed
    // sockstat6 is appended: its sections (TCP6, UDP6, ...) do not clash with sockstat's.
    std::string text = *v4;
    if (const std::string* v6 = view.files.Read("net/sockstat6")) text += *v6;
    const procfs::Sockstat stat = procfs::ParseSockstat(text);
    model::NetworkStats& network = sink.Namespace(view.owned.ns.inode);
    // sockstat names, lower-cased for the protocol label; sockstat6 uses the "6" names.
    static constexpr std::pair<const char*, const char*> kInuse[] = {
        {"TCP", "tcp"},         {"TCP6", "tcp6"},         {"UDP", "udp"}, {"UDP6", "udp6"},
        {"UDPLITE", "udplite"}, {"UDPLITE6", "udplite6"}, {"RAW", "raw"}, {"RAW6", "raw6"},
        {"FRAG", "frag"},       {"FRAG6", "frag6"}};
    for (const auto& [section, label] : kInuse) {
      if (const auto value = procfs::SockstatField(stat, section, "inuse")) {
        network.inuse.emplace_back(label, *value);
      }
    }
    for (const auto& [section, label] : {std::pair{"FRAG", "frag"}, std::pair{"FRAG6", "frag6"}}) {
      if (const auto value = procfs::SockstatField(stat, section, "memory")) {
        network.frag_memory_bytes.emplace_back(label, *value);
      }
    }
    network.sockets_used = procfs::SockstatField(stat, "sockets", "used");
    network.tcp_time_wait = procfs::SockstatField(stat, "TCP", "tw");
    // TIME_WAIT sockets carry no cgroup: a namespace's go to its owner. A namespace without any
    // gives its owner no TCP series from here.
    if (network.tcp_time_wait.value_or(0) > 0) {
      auto& tcp = sink.Cgroup(view.owned.owner_cgroup_id).tcp;
      if (!tcp) tcp.emplace();
      (*tcp)[model::kTcpTimeWait - 1] += static_cast<int64_t>(*network.tcp_time_wait);
    }
    // Kernel-wide fields, the same in every namespace: from the first one read.
    if (!node_.tcp_orphan) node_.tcp_orphan = procfs::SockstatField(stat, "TCP", "orphan");
    if (!node_.tcp_alloc) node_.tcp_alloc = procfs::SockstatField(stat, "TCP", "alloc");
    if (node_.memory_pages.empty()) {
      for (const auto& [section, label] :
           {std::pair{"TCP", "tcp"}, std::pair{"UDP", "udp"}, std::pair{"UDPLITE", "udplite"}}) {
        if (const auto value = procfs::SockstatField(stat, section, "mem")) {
          node_.memory_pages.emplace_back(label, *value);
        }
      }
    }
    if (node_.tcp_orphan || node_.tcp_alloc || !node_.memory_pages.empty()) {
      sink.snapshot().node_sockstat = node_;
    }
  }

 private:
  model::NodeSockstat node_;  // this pass's kernel-wide fields
};

}  // namespace

std::unique_ptr<Source> MakeProcSockstatSource() { return std::make_unique<ProcSockstatSource>(); }

}  // namespace podstat::sources
