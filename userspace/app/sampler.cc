#include "podstat/app/sampler.h"

namespace podstat::app {

Sampler::Sampler(Collect collect, std::chrono::milliseconds interval)
    : collect_(std::move(collect)), interval_(interval), thread_([this] { Run(); }) {}

Sampler::~Sampler() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<const model::Snapshot> Sampler::Latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::shared_ptr<const model::Snapshot> Sampler::Fresh(std::chrono::milliseconds max_age,
                                                      std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  const Clock::time_point now = Clock::now();
  if (latest_ && now - latest_started_ <= max_age && max_age.count() > 0) return latest_;
  // Any collection that starts from now on is fresh enough.
  const Clock::time_point threshold = now;
  if (wanted_after_ < threshold) wanted_after_ = threshold;
  wake_.notify_all();
  published_.wait_for(lock, wait, [&] { return latest_ && latest_started_ >= threshold; });
  return latest_;
}

void Sampler::Run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const Clock::time_point started = Clock::now();
    lock.unlock();
    auto snapshot = std::make_shared<const model::Snapshot>(collect_());
    lock.lock();
    latest_ = std::move(snapshot);
    latest_started_ = started;
    published_.notify_all();
    wake_.wait_until(lock, started + interval_,
                     [&] { return stop_ || wanted_after_ > latest_started_; });
  }
}

}  // namespace podstat::app
