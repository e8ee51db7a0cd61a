// proc_net_dev: see sources.h.
#include "podstat/procfs/net.h"
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {

void RegisterProcNetDevFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(app, "collector.network", config.collect_network,
                   "Per network namespace (default on): interface counters "
                   "(container_network_*_total{interface}) and sockstat (container_sockstat_*), "
                   "on the cgroup owning the namespace.");
  flags::AddToggle(app, "collector.network.loopback", config.include_loopback,
                   "Report the \"lo\" interface too (default off).");
}
namespace {

class ProcNetDevSource final : public Source {
 public:
  ProcNetDevSource(bool active, bool include_loopback)
      : active_(active), include_loopback_(include_loopback) {}
  const SourceInfo& info() const override { return kProcNetDevInfo; }
  bool active() const override { return active_; }
  std::string Describe() const override {
    if (!active_) return "--no-collector.network";
    return std::string("/proc/<pid>/net/dev per network namespace") +
           (include_loopback_ ? ", lo included" : ", lo left out");
  }

  void CollectNamespace(const Pass& /*pass*/, const NamespaceView& view, Sink& sink) override {
    const std::string* dev = view.files.Read("net/dev");
    if (!dev) return;
    model::NetworkStats& network = sink.Namespace(view.owned.ns.inode);
    for (model::InterfaceStats& interface : procfs::ParseNetDev(*dev)) {
      if (interface.name == "lo" && !include_loopback_) continue;
      network.interfaces.push_back(std::move(interface));
    }
  }

 private:
  bool active_;
  bool include_loopback_;
};

}  // namespace

std::unique_ptr<Source> MakeProcNetDevSource(bool active, bool include_loopback) {
  return std::make_unique<ProcNetDevSource>(active, include_loopback);
}

}  // namespace podstat::sources
