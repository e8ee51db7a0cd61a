// The /metrics page, rendered once per snapshot. The families that depend only on the snapshot
// (all but podstat_snapshot_age_seconds) are written once, and their gzip made once, for the
// first scrape of a snapshot; every further scrape of it (two HA Prometheus replicas scrape the
// same data) reuses them and appends only what is fresh: the snapshot's age, the relayed series
// and the relay/sender/HTTP self-metrics.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podstat/metrics/exposition.h"
#include "podstat/model/snapshot.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::app {

struct ExpositionPage {
  // The page is *prefix (when set) then body. The prefix is the cache's own copy of the part
  // that is the same for every scrape of a snapshot (its text, or its gzip members), handed out
  // rather than copied: the HTTP server writes it from there (http::Response::body_prefix).
  std::shared_ptr<const std::string> prefix;
  std::string body;
  bool gzipped = false;  // prefix and body are gzip members: the caller sets Content-Encoding
};

class ExpositionCache {
 public:
  // A cached gzip member holds whole families, at least this much text: each member costs a
  // header, a trailer and a fresh dictionary, which for a small page's many small families would
  // undo much of the compression; at 300 containers a family is ~100 KB and gets one of its own.
  static constexpr size_t kDefaultGzipMemberBytes = 64 << 10;
  explicit ExpositionCache(size_t gzip_member_bytes = kDefaultGzipMemberBytes)
      : gzip_member_bytes_(gzip_member_bytes) {}

  // The page for `snapshot`: its families, `relayed` merged in (RelayMergingSink), then
  // `self_metrics` (text exposition the caller rendered). context.now may change from one call
  // to the next; the kernel and compat fields are the process's and must not.
  //
  // With accepts_gzip the body is a series of gzip members (RFC 1952 §2.2; Go's gzip.Reader,
  // and with it Prometheus, reads them as one stream): the cached part as members of whole
  // families, made once, then one fresh member for the tail. A relayed family named like one of
  // the cached part's must sit inside it: the page text is then rendered anew and only the
  // members holding a family that took relayed series are compressed again.
  ExpositionPage Render(const std::shared_ptr<const model::Snapshot>& snapshot,
                        const metrics::BuildContext& context,
                        const std::vector<remote_write::RelayFamily>& relayed,
                        std::string_view self_metrics, bool accepts_gzip);

 private:
  struct Entry {
    // The snapshot part as text, made only for a plain scrape: Prometheus always asks for gzip,
    // whose members are written as the page renders, so a snapshot only ever gzip'd never holds
    // its text (17 MB at 1000 containers, against 2 MB of gzip). Once a plain scrape made it, it
    // is kept for the snapshot's next plain scrapes. Readers take their own reference under the
    // lock.
    std::shared_ptr<const std::string> text;
    // Its families in page order: where each one's text ends (the next one starts there).
    std::vector<std::pair<std::string, size_t>> families;
    std::unordered_map<std::string, size_t> index;  // name -> position in families
    // gzip members of whole families, concatenated (written as the first gzip scrape renders the
    // page: StreamingGzip). Member i
    // holds the families up to member_last_family[i] and ends at member_ends[i] in gzip.
    std::string gzip;
    std::vector<size_t> member_last_family;
    std::vector<size_t> member_ends;
    bool gzip_ready = false;
  };

  struct Cached {
    std::shared_ptr<const Entry> entry;
    std::shared_ptr<const std::string> text;  // null unless a plain scrape asked for it
  };
  // The entry for `snapshot` (a new one if the cached one is of another snapshot), with its
  // gzip members made if need_gzip, else its text.
  Cached EntryFor(const std::shared_ptr<const model::Snapshot>& snapshot,
                  const metrics::BuildContext& context, bool need_gzip);

  const size_t gzip_member_bytes_;
  std::mutex mutex_;
  // weak: the cache must not keep an old snapshot alive, and holding its control block means
  // another snapshot can never be mistaken for it.
  std::weak_ptr<const model::Snapshot> snapshot_;
  std::shared_ptr<Entry> entry_;
};

}  // namespace podstat::app
