#include "podstat/app/exposition_cache.h"

#include <unordered_set>

#include "podstat/app/remote_write_bridge.h"
#include "podstat/http/gzip.h"

namespace podstat::app {
namespace {

// Passes everything on and notes, for each family that reaches the page (an empty family that
// is not kept leaves no trace), where its text ends.
class FamilyEnds : public metrics::SeriesSink {
 public:
  FamilyEnds(metrics::SeriesSink& inner, const std::string& text,
             std::vector<std::pair<std::string, size_t>>& ends)
      : inner_(inner), text_(text), ends_(ends) {}
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
    inner_.EndFamily();
    if (series_ > 0 || keep_when_empty_) ends_.emplace_back(name_, text_.size());
  }

 private:
  metrics::SeriesSink& inner_;
  const std::string& text_;
  std::vector<std::pair<std::string, size_t>>& ends_;
  std::string_view name_;  // the builder's names live as long as the call
  bool keep_when_empty_ = false;
  size_t series_ = 0;
};

// gzip level 1, as the HTTP server uses: most of the size gain for a fraction of the CPU.
constexpr int kGzipLevel = 1;

// Compresses the page while it is written: at the end of a family, once the text written since
// the last member is at least `member_bytes`, that text becomes a gzip member and is let go. So a
// gzip scrape never holds the whole text (17 MB at 1000 containers, where the gzip is 2 MB), and
// each member holds whole families (a relayed family inside one of ours re-compresses only the
// members holding it).
class StreamingGzip : public metrics::SeriesSink {
 public:
  StreamingGzip(size_t member_bytes, std::vector<std::pair<std::string, size_t>>& families,
                std::string& gzip, std::vector<size_t>& member_last_family,
                std::vector<size_t>& member_ends)
      : member_bytes_(member_bytes),
        text_sink_(text_),
        ends_(text_sink_, text_, families),
        families_(families),
        gzip_(gzip),
        member_last_family_(member_last_family),
        member_ends_(member_ends) {
    text_.reserve(member_bytes + (16 << 10));
  }
  void BeginFamily(std::string_view name, metrics::FamilyType type, std::string_view help,
                   bool keep_when_empty) override {
    ends_.BeginFamily(name, type, help, keep_when_empty);
  }
  void Series(const metrics::Identity* identity, std::span<const metrics::Label> labels,
              double value) override {
    ends_.Series(identity, labels, value);
  }
  void EndFamily() override {
    const size_t families_before = families_.size();
    ends_.EndFamily();
    if (families_.size() > families_before) {
      families_.back().second += flushed_;  // where it ends in the whole page's text
      if (text_.size() >= member_bytes_) CloseMember();
    }
  }
  // The families after the last member, if any, as the last member.
  void Finish() {
    if (!families_.empty() &&
        (member_last_family_.empty() || member_last_family_.back() + 1 < families_.size())) {
      CloseMember();
    }
  }

 private:
  void CloseMember() {
    gzip_ += http::GzipCompress(text_, kGzipLevel);
    member_last_family_.push_back(families_.size() - 1);
    member_ends_.push_back(gzip_.size());
    flushed_ += text_.size();
    text_.clear();
  }

  const size_t member_bytes_;
  std::string text_;  // written since the last member
  metrics::TextSink text_sink_;
  FamilyEnds ends_;  // offsets within text_; EndFamily makes them the page's
  std::vector<std::pair<std::string, size_t>>& families_;
  std::string& gzip_;
  std::vector<size_t>& member_last_family_;
  std::vector<size_t>& member_ends_;
  size_t flushed_ = 0;  // text already in members
};

}  // namespace

ExpositionCache::Cached ExpositionCache::EntryFor(
    const std::shared_ptr<const model::Snapshot>& snapshot, const metrics::BuildContext& context,
    bool need_gzip) {
  // Rendering happens under the lock: a second scrape of a new snapshot waits for the first's
  // page instead of rendering its own.
  std::lock_guard lock(mutex_);
  const bool same =
      entry_ && !snapshot_.owner_before(snapshot) && !snapshot.owner_before(snapshot_);
  if (!same) {
    entry_ = std::make_shared<Entry>();
    snapshot_ = snapshot;
  }
  Entry& entry = *entry_;
  // Each form is rendered for the first scrape that asks for it. The same snapshot and builder
  // give the same families in the same order whichever comes first, so the second render's
  // family list is a scratch copy.
  std::vector<std::pair<std::string, size_t>> scratch;
  auto& families = entry.families.empty() ? entry.families : scratch;
  if (need_gzip && !entry.gzip_ready) {
    StreamingGzip sink(gzip_member_bytes_, families, entry.gzip, entry.member_last_family,
                       entry.member_ends);
    metrics::WriteSnapshotFamilies(*snapshot, context, sink);
    sink.Finish();
    entry.gzip_ready = true;
  } else if (!need_gzip && !entry.text) {
    std::string text;
    text.reserve(metrics::EstimateTextBytes(*snapshot));
    metrics::TextSink sink(text);
    FamilyEnds ends(sink, text, families);
    metrics::WriteSnapshotFamilies(*snapshot, context, ends);
    entry.text = std::make_shared<const std::string>(std::move(text));
  }
  if (entry.index.empty()) {
    for (size_t i = 0; i < entry.families.size(); ++i) entry.index[entry.families[i].first] = i;
  }
  return {entry_, entry.text};
}

ExpositionPage ExpositionCache::Render(const std::shared_ptr<const model::Snapshot>& snapshot,
                                       const metrics::BuildContext& context,
                                       const std::vector<remote_write::RelayFamily>& relayed,
                                       std::string_view self_metrics, bool accepts_gzip) {
  const Cached cached = EntryFor(snapshot, context, accepts_gzip);
  const Entry* entry = cached.entry.get();
  bool interleaved = false;
  for (const remote_write::RelayFamily& family : relayed) {
    if (entry->index.contains(family.name)) interleaved = true;
  }
  ExpositionPage page;
  if (!interleaved) {
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
      page.prefix = std::shared_ptr<const std::string>(cached.entry, &entry->gzip);
      page.body = http::GzipCompress(tail, kGzipLevel);
      page.gzipped = true;
    } else {
      page.prefix = cached.text;
      page.body = std::move(tail);
    }
    return page;
  }

  // The text anew: relayed series inside our families.
  std::string text;
  text.reserve(metrics::EstimateTextBytes(*snapshot) + self_metrics.size());
  std::vector<std::pair<std::string, size_t>> families;
  {
    metrics::TextSink sink(text);
    FamilyEnds ends(sink, text, families);
    RelayMergingSink merged(ends, relayed);
    metrics::WriteFamilies(*snapshot, context, merged);
    merged.Finish();
  }
  text += self_metrics;
  if (!accepts_gzip) {
    page.body = std::move(text);
    return page;
  }
  // A family that took no relayed series is byte for byte the cached one (same snapshot, same
  // builder), and the cached families open the fresh page in the same order (relayed families of
  // other names come after them all): a member whose families took nothing is reused, the text
  // of the others is compressed afresh.
  std::unordered_set<std::string_view> took;
  for (const remote_write::RelayFamily& family : relayed) took.insert(family.name);
  bool aligned = families.size() >= entry->families.size();
  for (size_t i = 0; aligned && i < entry->families.size(); ++i) {
    aligned = families[i].first == entry->families[i].first;
  }
  page.body.reserve(entry->gzip.size() + (64 << 10));
  size_t fresh_from = 0;  // start of the text not yet in the body
  size_t first_family = 0;
  for (size_t m = 0; aligned && m < entry->member_ends.size(); ++m) {
    const size_t last_family = entry->member_last_family[m];
    bool reusable = true;
    for (size_t i = first_family; i <= last_family; ++i) {
      if (took.contains(entry->families[i].first)) reusable = false;
    }
    const size_t start = first_family == 0 ? 0 : families[first_family - 1].second;
    if (reusable) {
      if (fresh_from < start) {
        page.body += http::GzipCompress(
            std::string_view(text).substr(fresh_from, start - fresh_from), kGzipLevel);
      }
      const size_t member_start = m == 0 ? 0 : entry->member_ends[m - 1];
      page.body.append(entry->gzip, member_start, entry->member_ends[m] - member_start);
      fresh_from = families[last_family].second;
    }
    first_family = last_family + 1;
  }
  page.body += http::GzipCompress(std::string_view(text).substr(fresh_from), kGzipLevel);
  page.gzipped = true;
  return page;
}

}  // namespace podstat::app
