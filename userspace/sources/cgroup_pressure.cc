// cgroup_pressure: see sources.h. The PSI files are cgroup core files (kernel/cgroup/cgroup.c
// cgroup_psi_files), present in every v2 directory whichever controllers are enabled, so hybrid
// hosts have them too (DESIGN.md §10).
#include "podstat/sources/loader.h"
#include "podstat/sources/registry.h"
#include "podstat/sources/sources.h"
#include "podstat/util/file.h"
#include "podstat/util/strings.h"

namespace podstat::sources {

void RegisterCgroupPressureFlags(CLI::App& app, SourceConfig& config) {
  flags::AddToggle(
      app, "collector.pressure", config.collect_pressure,
      "Pressure stall information per container, pod and the root (default on): "
      "container_pressure_*_seconds_total (cpu, memory, io; waiting, stalled) from the "
      "cgroup v2 {cpu,memory,io}.pressure files.");
}

std::optional<Pressure> ParsePressure(std::string_view text) {
  std::optional<uint64_t> some, full;
  for (std::string_view line : SplitLines(text)) {
    const auto fields = SplitFields(line);
    if (fields.empty() || (fields[0] != "some" && fields[0] != "full")) continue;
    for (std::string_view field : fields) {
      if (field.substr(0, 6) != "total=") continue;
      if (const auto total = ParseUint64(field.substr(6)))
        (fields[0] == "some" ? some : full) = total;
    }
  }
  if (!some) return std::nullopt;
  return Pressure{*some, full};
}

namespace {

class CgroupPressureSource final : public Source {
 public:
  explicit CgroupPressureSource(bool active) : active_(active) {}
  const SourceInfo& info() const override { return kCgroupPressureInfo; }
  bool active() const override { return active_; }
  bool walks_cgroups() const override { return active_; }
  std::string Describe() const override {
    return active_ ? "{cpu,memory,io}.pressure of each cgroup v2 directory"
                   : "--no-collector.pressure";
  }

  void CollectCgroup(const Pass& pass, const WalkedCgroup& cgroup, Sink& sink) override {
    static constexpr struct {
      const char* file;
      const metrics::MetricSpec* some;
      const metrics::MetricSpec* full;
    } kFiles[] = {
        {"cpu.pressure", &metrics::kPressureCpuWaiting, &metrics::kPressureCpuStalled},
        {"memory.pressure", &metrics::kPressureMemoryWaiting, &metrics::kPressureMemoryStalled},
        {"io.pressure", &metrics::kPressureIoWaiting, &metrics::kPressureIoStalled},
    };
    const std::string dir = cgroup.path == "/" ? pass.cgroup_root : pass.cgroup_root + cgroup.path;
    for (const auto& file : kFiles) {
      const auto text = ReadFile(dir + "/" + file.file);
      if (!text) continue;  // removed since the walk, or PSI off (EOPNOTSUPP)
      const auto pressure = ParsePressure(*text);
      if (!pressure) continue;
      auto& samples = sink.Cgroup(cgroup.id).samples;
      samples.push_back({file.some, {}, static_cast<double>(pressure->some_us) * 1e-6});
      if (pressure->full_us) {
        samples.push_back({file.full, {}, static_cast<double>(*pressure->full_us) * 1e-6});
      }
    }
  }

 private:
  bool active_;
};

}  // namespace

std::unique_ptr<Source> MakeCgroupPressureSource(bool active) {
  return std::make_unique<CgroupPressureSource>(active);
}

}  // namespace podstat::sources
