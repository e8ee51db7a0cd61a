#include "podstat/app/exposition_cache.h"

#include "podstat/app/remote_write_bridge.h"
#include "podstat/http/gzip.h"

namespace podstat::app {
namespace {

// Passes everything on and notes which families reach the page (an empty family that is not
// kept leaves no trace).
class FamilyNames : public metrics::SeriesSink {
 public:
  FamilyNames(metrics::SeriesSink& inner, std::unordered_set<std::string>& names)
      : inner_(inner), names_(names) {}
  void BeginFamily(std::string_view name, metrics::FamilyType type, std::string_view help,
                   bool keep_when_empty) override {
    inner_.BeginFamily(name, type, help, keep_when_empty);
    name_ = name;
    keep_when_empty_ = keep_when_empty;
    series_ = 0;
  }
  void Series(const metrics::Identity* identity, std::span<const metrics::Label> labels,
              double value) override {
    inner_.Series(identity, labels, value);
    ++series_;
  }
  void EndFamily() override {
    if (series_ > 0 || keep_when_empty_) names_.emplace(name_);
    inner_.EndFamily();
  }

 private:
  metrics::SeriesSink& inner_;
  std::unordered_set<std::string>& names_;
  std::string_view name_;  // the builder's names live as long as the call
  bool keep_when_empty_ = false;
  size_t series_ = 0;
};

// gzip level 1, as the HTTP server uses: most of the size gain for a fraction of the CPU.
constexpr int kGzipLevel = 1;

}  // namespace

std::shared_ptr<ExpositionCache::Entry> ExpositionCache::EntryFor(
    const std::shared_ptr<const model::Snapshot>& snapshot, const metrics::BuildContext& context,
    bool need_gzip) {
  // Rendering happens under the lock: a second scrape of a new snapshot waits for the first's
  // page instead of rendering its own.
  std::lock_guard lock(mutex_);
  const bool same =
      entry_ && !snapshot_.owner_before(snapshot) && !snapshot.owner_before(snapshot_);
  if (!same) {
    auto entry = std::make_shared<Entry>();
    entry->text.reserve(metrics::EstimateTextBytes(*snapshot));
    metrics::TextSink text(entry->text);
    FamilyNames names(text, entry->names);
    metrics::WriteSnapshotFamilies(*snapshot, context, names);
    entry_ = std::move(entry);
    snapshot_ = snapshot;
  }
  if (need_gzip && !entry_->gzip_ready) {
    entry_->gzip = http::GzipCompress(entry_->text, kGzipLevel);
    entry_->gzip_ready = true;
  }
  return entry_;
}

ExpositionPage ExpositionCache::Render(const std::shared_ptr<const model::Snapshot>& snapshot,
                                       const metrics::BuildContext& context,
                                       const std::vector<remote_write::RelayFamily>& relayed,
                                       std::string_view self_metrics, bool accepts_gzip) {
  std::shared_ptr<const Entry> entry = EntryFor(snapshot, context, false);
  bool interleaved = false;
  for (const remote_write::RelayFamily& family : relayed) {
    if (entry->names.contains(family.name)) interleaved = true;
  }
  ExpositionPage page;
  if (interleaved) {
    page.body.reserve(entry->text.size() + self_metrics.size() + (64 << 10));
    metrics::TextSink text(page.body);
    RelayMergingSink merged(text, relayed);
    metrics::WriteFamilies(*snapshot, context, merged);
    merged.Finish();
    page.body += self_metrics;
    return page;
  }
  // No relayed series belongs inside a cached family: they all follow it.
  std::string tail;
  {
    metrics::TextSink text(tail);
    RelayMergingSink merged(text, relayed);
    metrics::WriteScrapeFamilies(*snapshot, context, merged);
    merged.Finish();
  }
  tail += self_metrics;
  if (accepts_gzip) {
    entry = EntryFor(snapshot, context, true);
    page.body.reserve(entry->gzip.size() + tail.size() / 4 + 64);
    page.body += entry->gzip;
    page.body += http::GzipCompress(tail, kGzipLevel);
    page.gzipped = true;
    return page;
  }
  page.body.reserve(entry->text.size() + tail.size());
  page.body += entry->text;
  page.body += tail;
  return page;
}

}  // namespace podstat::app
