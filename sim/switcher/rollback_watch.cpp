#include "sim/switcher/rollback_watch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"

namespace cutover::switcher {
namespace {

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string quantileName(double q) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%g", q * 100.0);
  return buf;
}

}  // namespace

RollbackTrigger RollbackTrigger::errorRate(double above, Duration window, std::size_t min_requests) {
  RollbackTrigger t;
  t.kind = Kind::error_rate;
  t.error_rate = above;
  t.window = window;
  t.min_requests = min_requests;
  return t;
}

RollbackTrigger RollbackTrigger::latency(double percentile, Duration above, Duration window,
                                         std::size_t min_requests) {
  RollbackTrigger t;
  t.kind = Kind::latency;
  t.percentile = percentile;
  t.max_latency = above;
  t.window = window;
  t.min_requests = min_requests;
  return t;
}

RollbackTrigger RollbackTrigger::healthyBelow(std::size_t floor) {
  RollbackTrigger t;
  t.kind = Kind::healthy_below;
  t.healthy_below = floor;
  return t;
}

RollbackWatch::RollbackWatch(const RollbackOptions& options)
    : max_samples_(std::max<std::size_t>(options.max_samples, 1)),
      latency_eval_every_(options.latency_eval_every) {
  for (const auto& t : options.on) {
    CUTOVER_ASSERT(t.percentile > 0.0 && t.percentile <= 1.0);
    windows_.push_back(Window{t, {}, 0, 0, std::nullopt, std::nullopt});
  }
}

void RollbackWatch::reset() {
  for (auto& w : windows_) w = Window{w.trigger, {}, 0, 0, std::nullopt, std::nullopt};
}

void RollbackWatch::popFront(Window& w) {
  const Sample& s = w.samples.front();
  w.errors -= s.error ? 1 : 0;
  w.latencies -= s.has_latency ? 1 : 0;
  w.samples.pop_front();
}

void RollbackWatch::trim(Window& w, Instant now) const {
  while (!w.samples.empty() && w.samples.front().at <= now - w.trigger.window) popFront(w);
}

void RollbackWatch::add(Instant now, bool error, std::optional<Duration> latency) {
  for (auto& w : windows_) {
    if (w.trigger.kind == RollbackTrigger::Kind::healthy_below) continue;
    if (w.trigger.kind == RollbackTrigger::Kind::latency && !latency) continue;
    if (w.samples.size() >= max_samples_) popFront(w);
    w.samples.push_back(Sample{now, latency.value_or(Duration{0}), error, latency.has_value()});
    w.errors += error ? 1 : 0;
    w.latencies += latency ? 1 : 0;
  }
}

std::optional<std::string> RollbackWatch::violated(Instant now, std::size_t healthy) {
  for (auto& w : windows_)
    if (auto why = check(w, now, healthy)) return why;
  return std::nullopt;
}

std::optional<std::string> RollbackWatch::check(Window& w, Instant now, std::size_t healthy) {
  const RollbackTrigger& t = w.trigger;
  switch (t.kind) {
    case RollbackTrigger::Kind::healthy_below:
      if (healthy >= t.healthy_below) return std::nullopt;
      return std::to_string(healthy) + " healthy backends, below the floor of " +
             std::to_string(t.healthy_below);
    case RollbackTrigger::Kind::error_rate: {
      trim(w, now);
      const std::size_t n = w.samples.size();
      if (n == 0 || n < t.min_requests) return std::nullopt;
      const double rate = static_cast<double>(w.errors) / static_cast<double>(n);
      if (rate <= t.error_rate) return std::nullopt;
      return "error rate " + percent(rate) + " > " + percent(t.error_rate) + " over " +
             formatDuration(t.window) + " (" + std::to_string(w.errors) + " of " + std::to_string(n) +
             " requests)";
    }
    case RollbackTrigger::Kind::latency: return checkLatency(w, now);
  }
  return std::nullopt;
}

std::optional<std::string> RollbackWatch::checkLatency(Window& w, Instant now) {
  const RollbackTrigger& t = w.trigger;
  if (w.last_eval && now - *w.last_eval < latency_eval_every_) return w.last_latency_verdict;
  w.last_eval = now;
  w.last_latency_verdict.reset();
  trim(w, now);
  const std::size_t n = w.latencies;
  if (n == 0 || n < t.min_requests) return std::nullopt;
  scratch_.clear();
  for (const Sample& s : w.samples)
    if (s.has_latency) scratch_.push_back(s.latency);
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(t.percentile * static_cast<double>(n)));
  const std::size_t index = std::min(n - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(index), scratch_.end());
  const Duration value = scratch_[index];
  if (value <= t.max_latency) return std::nullopt;
  w.last_latency_verdict = quantileName(t.percentile) + " latency " + formatDuration(value) + " > " +
                           formatDuration(t.max_latency) + " over " + formatDuration(t.window) + " (" +
                           std::to_string(n) + " requests)";
  return w.last_latency_verdict;
}

}  // namespace cutover::switcher
