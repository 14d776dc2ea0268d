#include "sim/loadgen/closed_loop.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"
#include "sim/core/ziggurat.hpp"

namespace cutover::loadgen {

ClosedLoop::ClosedLoop(const ClosedLoopSpec& spec, Instant start, Rng rng)
    : spec_(spec), end_(start + std::max(spec.length, Duration{0})), rng_(rng) {
  const std::size_t n = std::clamp<std::size_t>(spec.workers, 1, kMaxWorkers);
  spec_.think = std::max(spec_.think, Duration{0});
  busy_.assign(n, false);
  std::vector<Ready> initial;
  initial.reserve(n);
  for (std::size_t w = 0; w < n; ++w) initial.push_back({start, static_cast<std::uint32_t>(w)});
  ready_ = decltype(ready_)(std::greater<>{}, std::move(initial));
}

std::optional<Instant> ClosedLoop::nextDeadline() const {
  if (sent_ >= spec_.max_requests || ready_.empty() || ready_.top().at >= end_) return std::nullopt;
  return ready_.top().at;
}

bool ClosedLoop::sendingOver() const {
  if (sent_ >= spec_.max_requests) return true;
  return in_flight_ == 0 && !nextDeadline();
}

std::optional<ClosedLoop::Send> ClosedLoop::pollSend(Instant now) {
  const auto due = nextDeadline();
  if (!due || *due > now) return std::nullopt;
  const Ready r = ready_.top();
  ready_.pop();
  CUTOVER_ASSERT(!busy_[r.worker]);
  busy_[r.worker] = true;
  ++in_flight_;
  ++sent_;
  return Send{r.worker, r.at};
}

void ClosedLoop::onDone(std::uint32_t worker, Instant now) {
  CUTOVER_ASSERT(worker < busy_.size() && busy_[worker]);
  busy_[worker] = false;
  --in_flight_;
  const Instant at = now + drawThink();
  if (at < end_) ready_.push({at, worker});  // else the worker retires
}

Duration ClosedLoop::drawThink() {
  if (!spec_.exponential_think || spec_.think.count() == 0) return spec_.think;
  const double x = standardExponential(rng_);  // Exp(1)
  return Duration{std::llround(x * static_cast<double>(spec_.think.count()))};
}

}  // namespace cutover::loadgen
