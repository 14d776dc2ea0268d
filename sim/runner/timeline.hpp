#pragma once
// The timeline executor's model: which scenario steps are due at an elapsed
// time. Pure (the runner passes elapsed time in); steps fire once, in order.
#include <optional>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace cutover::runner {

class Timeline {
 public:
  explicit Timeline(std::vector<scenario::TimelineStep> steps) : steps_(std::move(steps)) {}

  // Steps whose time has come, each returned once, in timeline order.
  std::vector<scenario::TimelineStep> due(Duration elapsed) {
    std::vector<scenario::TimelineStep> out;
    while (next_ < steps_.size() && steps_[next_].at <= elapsed) out.push_back(steps_[next_++]);
    return out;
  }
  // When the next step is due (elapsed time), if any is left.
  std::optional<Duration> nextDeadline() const {
    if (next_ >= steps_.size()) return std::nullopt;
    return steps_[next_].at;
  }
  bool done() const { return next_ >= steps_.size(); }

 private:
  std::vector<scenario::TimelineStep> steps_;
  std::size_t next_ = 0;
};

}  // namespace cutover::runner
