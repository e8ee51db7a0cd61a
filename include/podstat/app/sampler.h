// The sampler thread: runs one collection every interval, or sooner when a scrape asks for data
// fresher than it has, and publishes each result as an immutable shared_ptr<const Snapshot>.
// Scrapes only read published snapshots, so nothing slow ever runs on the HTTP threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "podstat/model/snapshot.h"

namespace podstat::app {

class Sampler {
 public:
  using Clock = std::chrono::steady_clock;
  using Collect = std::function<model::Snapshot()>;

  Sampler(Collect collect, std::chrono::milliseconds interval);
  ~Sampler();  // stops and joins the thread
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // The latest snapshot, or nullptr before the first collection completes.
  std::shared_ptr<const model::Snapshot> Latest() const;

  // A snapshot whose collection started at most max_age ago, waiting up to `wait` for the sampler
  // to make one; on timeout the latest one (possibly older, possibly nullptr).
  std::shared_ptr<const model::Snapshot> Fresh(std::chrono::milliseconds max_age,
                                               std::chrono::milliseconds wait);

 private:
  void Run();

  Collect collect_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;       // to the sampler: stop, or a refresh is wanted
  std::condition_variable published_;  // to readers: a new snapshot is out
  std::shared_ptr<const model::Snapshot> latest_;
  Clock::time_point latest_started_{};
  Clock::time_point wanted_after_{};  // a reader wants a collection started after this
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace podstat::app
