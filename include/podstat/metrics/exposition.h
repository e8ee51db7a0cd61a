// Snapshot -> series -> a sink. The builder walks the snapshot once and hands every family and
// series to a SeriesSink; TextSink writes exposition format 0.0.4 straight into one string, and
// other sinks (the remote_write bridge) turn the same calls into what they need. Pure: the
// builder reads the snapshot and the context only; no I/O, no clock, no state.
#pragma once

#include <array>
#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "podstat/model/snapshot.h"

namespace podstat::metrics {

struct BuildContext {
  std::string kernel_release;                   // for podstat_build_info
  std::chrono::system_clock::time_point now{};  // for podstat_snapshot_age_seconds
  bool compat_cadvisor = false;                 // also cAdvisor's names (--compat=cadvisor)
};

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class FamilyType { kCounter, kGauge, kUntyped };

struct Label {
  std::string_view name;
  std::string_view value;
};

// A cgroup's identity labels (namespace, pod, container, container_id, image, id), in that
// order, empty values included. `index` is the cgroup's position in the snapshot, so a sink can
// derive something from them once per snapshot (TextSink renders them once) and reuse it for
// every family of that cgroup.
struct Identity {
  std::array<Label, 6> labels;
  size_t index = 0;
};

class SeriesSink {
 public:
  virtual ~SeriesSink() = default;
  // Every series until EndFamily belongs to this family. keep_when_empty: the family is
  // described (HELP, TYPE) even if no series follows; otherwise an empty family leaves no trace.
  virtual void BeginFamily(std::string_view name, FamilyType type, std::string_view help,
                           bool keep_when_empty) = 0;
  // One series: the identity's labels (if any) first, then `labels`, then the value.
  virtual void Series(const Identity* identity, std::span<const Label> labels, double value) = 0;
  virtual void EndFamily() = 0;
};

// The families that depend only on the snapshot and the process's constants (kernel, compat):
// everything but podstat_snapshot_age_seconds. Two scrapes of one snapshot get the same calls.
void WriteSnapshotFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                           SeriesSink& sink);
// What changes from one scrape to the next: podstat_snapshot_age_seconds (context.now).
void WriteScrapeFamilies(const model::Snapshot& snapshot, const BuildContext& context,
                         SeriesSink& sink);
// Both, in page order.
void WriteFamilies(const model::Snapshot& snapshot, const BuildContext& context, SeriesSink& sink);

// Text exposition format 0.0.4 appended to `out`. Label values escape '\\', '"' and newline;
// HELP is made valid UTF-8 and escapes '\\' and newline; values as Prometheus spells them.
class TextSink : public SeriesSink {
 public:
  explicit TextSink(std::string& out) : out_(out) {}
  void BeginFamily(std::string_view name, FamilyType type, std::string_view help,
                   bool keep_when_empty) override;
  void Series(const Identity* identity, std::span<const Label> labels, double value) override;
  void EndFamily() override;

 private:
  const std::string& Prefix(const Identity& identity);

  std::string& out_;
  std::string name_;
  size_t family_start_ = 0;
  size_t series_ = 0;
  bool keep_when_empty_ = false;
  // Per identity index: its labels rendered once, `namespace="..",...,id=".."`.
  std::vector<std::string> prefixes_;
  std::vector<bool> prefix_ready_;
};

// A first guess of the page size, to reserve the buffer once: ~17 KB per cgroup with a network
// namespace, as measured at 300 containers.
size_t EstimateTextBytes(const model::Snapshot& snapshot);

// The whole page for a snapshot (no relayed series, no self-metrics of other modules).
std::string RenderText(const model::Snapshot& snapshot, const BuildContext& context);

// Exposition helpers, shared by the sinks.
void AppendEscapedLabelValue(std::string& out, std::string_view value);
void AppendEscapedHelp(std::string& out, std::string_view help);
// Prometheus's spelling: NaN, +Inf, -Inf; whole numbers below 2^53 as integers ("1000000", not
// "1e+06"); anything else the shortest text that reads back as the same double.
void AppendSampleValue(std::string& out, double value);

}  // namespace podstat::metrics
