// node_memory: see sources.h.
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"

namespace podstat::sources {
namespace {

class NodeMemorySource final : public Source {
 public:
  NodeMemorySource(bool active, const cgroupfs::Hierarchies& hierarchies)
      : active_(active), hierarchies_(hierarchies) {}
  const SourceInfo& info() const override { return kNodeMemoryInfo; }
  bool active() const override { return active_; }
  std::string Describe() const override {
    if (!active_) return "--no-collector.memory";
    return "MemTotal from /proc/meminfo; usage and inactive_file as " +
           cgroupfs::DescribeMemorySource(hierarchies_);
  }

  void Collect(const Pass& pass, Sink& sink) override {
    sink.snapshot().node_memory = cgroupfs::ReadNodeMemory(pass.paths, hierarchies_);
  }

 private:
  bool active_;
  cgroupfs::Hierarchies hierarchies_;
};

}  // namespace

std::unique_ptr<Source> MakeNodeMemorySource(bool active,
                                             const cgroupfs::Hierarchies& hierarchies) {
  return std::make_unique<NodeMemorySource>(active, hierarchies);
}

}  // namespace podstat::sources
