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
#include <unordered_set>
#include <vector>

#include "podstat/metrics/exposition.h"
#include "podstat/model/snapshot.h"
#include "podstat/remote_write/relay_store.h"

namespace podstat::app {

struct ExpositionPage {
  std::string body;
  bool gzipped = false;  // body is gzip: the caller sets Content-Encoding
};

class ExpositionCache {
 public:
  // The page for `snapshot`: its families, `relayed` merged in (RelayMergingSink), then
  // `self_metrics` (text exposition the caller rendered). With accepts_gzip, the body is gzip
  // as two members, the cached snapshot part and the fresh tail (RFC 1952 §2.2: a gzip file is a
  // series of members; Go's gzip.Reader, and with it Prometheus, reads them as one stream) --
  // unless a relayed family shares a name with a family of the cached part: its series must
  // then sit inside that family, so the whole page is rendered anew and left uncompressed for
  // the HTTP server to gzip.
  ExpositionPage Render(const std::shared_ptr<const model::Snapshot>& snapshot,
                        const metrics::BuildContext& context,
                        const std::vector<remote_write::RelayFamily>& relayed,
                        std::string_view self_metrics, bool accepts_gzip);

 private:
  struct Entry {
    std::string text;                       // the snapshot part
    std::unordered_set<std::string> names;  // families on it
    std::string gzip;                       // of text, made at the first gzip scrape
    bool gzip_ready = false;
  };

  // The entry for `snapshot`, rendered now if the cached one is of another snapshot.
  std::shared_ptr<Entry> EntryFor(const std::shared_ptr<const model::Snapshot>& snapshot,
                                  const metrics::BuildContext& context, bool need_gzip);

  std::mutex mutex_;
  // weak: the cache must not keep an old snapshot alive, and holding its control block means
  // another snapshot can never be mistaken for it.
  std::weak_ptr<const model::Snapshot> snapshot_;
  std::shared_ptr<Entry> entry_;
};

}  // namespace podstat::app
