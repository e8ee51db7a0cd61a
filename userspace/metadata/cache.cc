#include "podstat/metadata/cache.h"

#include <algorithm>

namespace podstat::metadata {

MetadataCache::MetadataCache(std::vector<std::unique_ptr<Provider>> providers, Options options,
                             Logger& logger)
    : options_(options), logger_(logger) {
  for (auto& provider : providers) {
    Slot slot;
    slot.provider = std::move(provider);
    slots_.push_back(std::move(slot));
  }
  thread_ = std::thread([this] { Run(); });
}

MetadataCache::~MetadataCache() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

ContainerInfo MetadataCache::Lookup(const cgroup::ContainerRef& ref) {
  std::lock_guard lock(mutex_);
  ContainerInfo merged;
  merged.pod_uid = ref.pod_uid;
  bool known = ref.container_id.empty();
  // Providers in the order given: the first non-empty value of each field wins.
  auto take = [](std::string& field, const std::string& value) {
    if (field.empty()) field = value;
  };
  for (const Slot& slot : slots_) {
    if (!ref.container_id.empty()) {
      if (const auto it = slot.catalog.containers.find(ref.container_id);
          it != slot.catalog.containers.end()) {
        known = true;
        const ContainerInfo& info = it->second;
        take(merged.name, info.name);
        take(merged.image, info.image);
        take(merged.pod, info.pod);
        take(merged.namespace_, info.namespace_);
        take(merged.container, info.container);
        take(merged.pod_uid, info.pod_uid);
        if (merged.labels.empty()) merged.labels = info.labels;
      }
    }
    if (!merged.pod_uid.empty()) {
      if (const auto it = slot.catalog.pods.find(merged.pod_uid); it != slot.catalog.pods.end()) {
        take(merged.pod, it->second.pod);
        take(merged.namespace_, it->second.namespace_);
      }
    }
  }
  if (!known && !refresh_wanted_) {
    refresh_wanted_ = true;
    ++refresh_requests_;
    wake_.notify_all();
  }
  return merged;
}

void MetadataCache::RefreshAll() {
  {
    std::lock_guard lock(mutex_);
    for (Slot& slot : slots_) slot.next_fetch = Clock::time_point{};
    ++refresh_requests_;
  }
  wake_.notify_all();
}

bool MetadataCache::ReportsAt(const cgroup::ContainerRef& ref) const {
  std::lock_guard lock(mutex_);
  for (const Slot& slot : slots_) {
    const auto it = slot.catalog.containers.find(ref.container_id);
    if (it != slot.catalog.containers.end() && !it->second.cgroup_path.empty() &&
        it->second.cgroup_path == ref.cgroup_path) {
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, uint64_t>> MetadataCache::Errors() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, uint64_t>> errors;
  for (const Slot& slot : slots_) errors.emplace_back(slot.provider->name(), slot.errors);
  return errors;
}

std::vector<MetadataCache::ProviderStatus> MetadataCache::Statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<ProviderStatus> statuses;
  statuses.reserve(slots_.size());
  for (const Slot& slot : slots_) {
    statuses.push_back({std::string(slot.provider->name()), slot.errors, slot.failing,
                        slot.last_error, slot.last_error_at, slot.last_success_at});
  }
  return statuses;
}

void MetadataCache::WaitForFirstRound(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  first_round_.wait_for(lock, wait, [&] {
    return std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.attempted; });
  });
}

void MetadataCache::Run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const Clock::time_point now = Clock::now();
    // An unknown container may be one that started since the last fetch: fetch every provider
    // that is not in backoff, at most once per min_refresh_interval.
    const bool forced = refresh_wanted_ && now - last_forced_ >= options_.min_refresh_interval;
    if (forced) {
      last_forced_ = now;
      refresh_wanted_ = false;
    }
    for (Slot& slot : slots_) {
      const bool due = now >= slot.next_fetch || (forced && !slot.failing);
      if (!due) continue;
      Provider* provider = slot.provider.get();
      lock.unlock();  // fetching may take up to the provider's own timeout
      Catalog catalog;
      std::string error;
      const bool ok = provider->Fetch(catalog, &error);
      lock.lock();
      if (stop_) return;
      slot.attempted = true;
      if (ok) {
        if (slot.failing) logger_.Info("metadata", provider->name(), ": recovered");
        slot.catalog = std::move(catalog);
        slot.failing = false;
        slot.last_success_at = std::chrono::system_clock::now();
        slot.backoff = std::chrono::milliseconds(0);
        slot.next_fetch = Clock::now() + options_.ttl;
      } else {
        ++slot.errors;
        slot.last_error = error;
        slot.last_error_at = std::chrono::system_clock::now();
        slot.backoff =
            std::clamp(slot.backoff * 2, options_.min_refresh_interval, options_.max_backoff);
        if (!slot.failing) {
          logger_.Warn(
              "metadata", provider->name(), ": ", error, "; names from it are ",
              slot.catalog.containers.empty() ? "unavailable" : "kept from the last fetch",
              ", retrying with backoff up to ",
              std::chrono::duration_cast<std::chrono::seconds>(options_.max_backoff).count(), " s");
        }
        slot.failing = true;
        slot.next_fetch = Clock::now() + slot.backoff;
      }
    }
    first_round_.notify_all();
    Clock::time_point next = Clock::now() + options_.ttl;
    for (const Slot& slot : slots_) next = std::min(next, slot.next_fetch);
    if (refresh_wanted_) next = std::min(next, last_forced_ + options_.min_refresh_interval);
    // Wake for any new request, even one the rate limit will make wait: the deadline above was
    // computed without it, and sleeping on would delay a new container's names to the TTL.
    const uint64_t seen = refresh_requests_;
    wake_.wait_until(lock, next, [&] { return stop_ || refresh_requests_ != seen; });
  }
}

}  // namespace podstat::metadata
