#include "sim/scenario/timeline.hpp"

#include <algorithm>

namespace cutover::scenario {



Timeline::Timeline(std::vector<TimelineStep> steps) {
  for (auto& s : steps) {
    if (s.when) waiting_.push_back({std::move(s), false});
    else timed_.push_back(std::move(s));
  }
  std::stable_sort(timed_.begin(), timed_.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
}

void Timeline::observe(std::string_view kind, const std::string& pool, Duration elapsed) {
  const bool relevant = kind == "switched" || kind == "drained" || kind == "drain_timeout" || kind == "rollback";
  if (relevant && seen_.size() < 100'000) seen_.push_back({std::string(kind), pool, elapsed});
}

bool Timeline::holds(const Condition& c, Duration armed, const HealthyFn& healthy) const {
  const auto any = [&](auto pred) {
    return std::any_of(seen_.begin(), seen_.end(), [&](const Seen& e) { return e.at >= armed && pred(e); });
  };
  switch (c.kind) {
    case Condition::Kind::healthy: return healthy && healthy(c.pool);
    case Condition::Kind::drained:
      return any([&](const Seen& e) { return e.pool == c.pool && (e.kind == "drained" || e.kind == "drain_timeout"); });
    case Condition::Kind::switched:
      return any([&](const Seen& e) { return e.pool == c.pool && e.kind == "switched"; });
    case Condition::Kind::rolled_back: return any([](const Seen& e) { return e.kind == "rollback"; });
  }
  return false;
}

std::vector<TimelineStep> Timeline::due(Duration elapsed, const HealthyFn& healthy) {
  std::vector<TimelineStep> out;
  while (next_ < timed_.size() && timed_[next_].at <= elapsed) out.push_back(timed_[next_++]);
  for (auto& w : waiting_) {
    if (w.finished || elapsed < w.step.at || elapsed > w.step.at + w.step.when->within) continue;
    if (holds(*w.step.when, w.step.at, healthy)) {
      w.finished = true;
      out.push_back(w.step);
    }
  }
  return out;
}

std::vector<TimelineStep> Timeline::missed(Duration elapsed) {
  std::vector<TimelineStep> out;
  for (auto& w : waiting_)
    if (!w.finished && elapsed > w.step.at + w.step.when->within) {
      w.finished = true;
      out.push_back(w.step);
    }
  return out;
}

std::vector<TimelineStep> Timeline::pending() const {
  std::vector<TimelineStep> out;
  for (const auto& w : waiting_)
    if (!w.finished) out.push_back(w.step);
  return out;
}

std::optional<Duration> Timeline::nextDeadline(Duration elapsed) const {
  std::optional<Duration> next;
  const auto consider = [&](Duration d) {
    if (d > elapsed) next = next ? std::min(*next, d) : d;
  };
  if (next_ < timed_.size()) next = timed_[next_].at;  // due now or later
  for (const auto& w : waiting_) {
    if (w.finished) continue;
    consider(w.step.at);  // arming
    consider(w.step.at + w.step.when->within + Duration(1));  // just past the deadline: missed
  }
  return next;
}

bool Timeline::done() const {
  return next_ >= timed_.size() && std::all_of(waiting_.begin(), waiting_.end(), [](const auto& w) { return w.finished; });
}

}  // namespace cutover::scenario
