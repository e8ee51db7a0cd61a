// The names of containers, fetched by the providers on a thread of their own and looked up
// without blocking. Each provider is refreshed every TTL, and at once (rate-limited) when the
// collector asks about a container nobody knows yet. A provider that fails (runtime down, socket
// missing, too slow) is logged once per failure streak, counted in podstat_metadata_errors_total,
// and retried with exponential backoff; its last good catalog stays in use meanwhile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "podstat/cgroup/container_ref.h"
#include "podstat/metadata/provider.h"
#include "podstat/util/log.h"

namespace podstat::metadata {

class MetadataCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds ttl{std::chrono::seconds(10)};
    std::chrono::milliseconds min_refresh_interval{std::chrono::seconds(1)};
    std::chrono::milliseconds max_backoff{std::chrono::seconds(60)};
  };

  MetadataCache(std::vector<std::unique_ptr<Provider>> providers, Options options, Logger& logger);
  ~MetadataCache();
  MetadataCache(const MetadataCache&) = delete;
  MetadataCache& operator=(const MetadataCache&) = delete;

  // What the providers know of this container (or pod), merged; never blocks on a provider.
  // An unknown container id asks the refresh thread to look again soon.
  ContainerInfo Lookup(const cgroup::ContainerRef& ref);

  // Fetches every provider again now, those in backoff included (SIGHUP: an operator who just
  // fixed the runtime's socket should not wait out the backoff).
  void RefreshAll();

  // Whether a provider reports the container ref.container_id at exactly ref.cgroup_path (see
  // ContainerInfo::cgroup_path): the test for trusting a container id nested in another's cgroup.
  bool ReportsAt(const cgroup::ContainerRef& ref) const;

  // Failed fetches per provider, cumulative.
  std::vector<std::pair<std::string, uint64_t>> Errors() const;

  // What each provider's fetches came to, for the status page: a copy taken under the lock.
  struct ProviderStatus {
    std::string provider;
    uint64_t errors = 0;     // failed fetches, cumulative
    bool failing = false;    // the latest fetch failed
    std::string last_error;  // the latest failure's reason, kept after a recovery; empty if none
    std::chrono::system_clock::time_point last_error_at{};    // when it failed; epoch if never
    std::chrono::system_clock::time_point last_success_at{};  // epoch if never
  };
  std::vector<ProviderStatus> Statuses() const;

  // Blocks until every provider has been fetched at least once (or failed), up to `wait`. For
  // start-up and tests: the first scrape then already has names.
  void WaitForFirstRound(std::chrono::milliseconds wait);

 private:
  struct Slot {
    std::unique_ptr<Provider> provider;
    Catalog catalog;
    Clock::time_point next_fetch{};
    std::chrono::milliseconds backoff{0};
    uint64_t errors = 0;
    std::string last_error;
    std::chrono::system_clock::time_point last_error_at{};
    std::chrono::system_clock::time_point last_success_at{};
    bool attempted = false;
    bool failing = false;
  };
  void Run();

  Options options_;
  Logger& logger_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable first_round_;
  std::vector<Slot> slots_;
  bool refresh_wanted_ = false;
  uint64_t refresh_requests_ = 0;  // bumped when refresh_wanted_ is raised, to wake the thread
  Clock::time_point last_forced_{};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace podstat::metadata
