#pragma once
// The timeline executor's model (live runner and simulator): which scenario steps are due. Pure: the
// runner passes elapsed time (since t=0), switcher events and pool health in.
//
// A timed step (`at:` only) fires once its time has come, in file order.
// A conditional step (`when:`) is armed at its `at` (default 0s) and fires
// the first time its condition holds while armed; `within` after arming it
// is missed instead (returned by missed(), once). Event conditions (drained,
// switched, rolled_back) count only events at or after the arming time;
// `healthy` asks the caller's health function.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

class Timeline {
 public:
  using HealthyFn = std::function<bool(const std::string& pool)>;

  explicit Timeline(std::vector<TimelineStep> steps);

  // A switcher event (kind as in switcher::Event: switched, drained,
  // drain_timeout, rollback, ...) at `elapsed`.
  void observe(std::string_view kind, const std::string& pool, Duration elapsed);

  // Steps to fire now, each once: timed steps in order, then conditional ones
  // whose condition holds. `healthy` may be empty when no step waits for it.
  std::vector<TimelineStep> due(Duration elapsed, const HealthyFn& healthy = {});

  // Conditional steps whose deadline passed unmet, each returned once.
  std::vector<TimelineStep> missed(Duration elapsed);
  // Conditional steps neither fired nor missed yet (at the end of a run).
  std::vector<TimelineStep> pending() const;

  // The next time after `elapsed` at which something may change without an
  // event: a timed step (or now, if one is due), an arming time, a deadline.
  std::optional<Duration> nextDeadline(Duration elapsed) const;
  bool done() const;

 private:
  struct Seen {
    std::string kind;
    std::string pool;
    Duration at;
  };
  struct Waiting {
    TimelineStep step;
    bool finished = false;  // fired or missed
  };
  bool holds(const Condition& c, Duration armed, const HealthyFn& healthy) const;

  std::vector<TimelineStep> timed_;
  std::size_t next_ = 0;
  std::vector<Waiting> waiting_;
  std::vector<Seen> seen_;
};

}  // namespace cutover::scenario
