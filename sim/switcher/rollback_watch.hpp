#pragma once
// RollbackWatch: the sliding windows behind switcher::Core's rollback
// triggers. Pure: fed timestamped samples, asked at a time whether a trigger
// holds. One window per trigger, so triggers with different windows do not
// interfere; each window is bounded by max_samples (the oldest go first).
//
// Rules:
//   error_rate   errors / requests over the last `window` > error_rate, when
//                at least min_requests requests fell in the window.
//   latency      the `percentile` of the latencies over the last `window` >
//                max_latency, with at least min_requests latencies; it is
//                recomputed at most every `latency_eval_every` (it costs a
//                selection over the window), else the last answer stands.
//   healthy_below  healthy < healthy_below (the healthy count is an input).
// A sample sits in the window (now - window, now].
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/switcher/core.hpp"

namespace cutover::switcher {

class RollbackWatch {
 public:
  explicit RollbackWatch(const RollbackOptions& options);

  void reset();  // a new bake: forget every sample
  void add(Instant now, bool error, std::optional<Duration> latency);
  // Why a trigger holds (the first, in the order given), or nullopt.
  std::optional<std::string> violated(Instant now, std::size_t healthy);

 private:
  struct Sample {
    Instant at;
    Duration latency;
    bool error;
    bool has_latency;
  };
  struct Window {
    RollbackTrigger trigger;
    std::deque<Sample> samples;
    std::size_t errors = 0;
    std::size_t latencies = 0;
    std::optional<Instant> last_eval;
    std::optional<std::string> last_latency_verdict;
  };
  void trim(Window& w, Instant now) const;
  static void popFront(Window& w);
  std::optional<std::string> check(Window& w, Instant now, std::size_t healthy);
  std::optional<std::string> checkLatency(Window& w, Instant now);

  std::vector<Window> windows_;
  std::size_t max_samples_;
  Duration latency_eval_every_;
  std::vector<Duration> scratch_;
};

}  // namespace cutover::switcher
