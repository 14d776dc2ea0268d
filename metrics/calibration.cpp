#include "metrics/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace cutover {
namespace {

std::optional<double> measure(const RunResult& r, const char* key) {
  const auto it = r.measures.find(key);
  if (it == r.measures.end()) return std::nullopt;
  return it->second;
}

// The events whose timing decides which requests drop: the timeline's steps
// and the runner's SIGKILLs at the end of a grace period.
bool decidesDrops(const TimedEvent& e) {
  return e.source == "timeline" || (e.source == "runner" && e.kind == "killed");
}

}  // namespace

double stepSlipMs(const std::vector<TimedEvent>& live, const std::vector<TimedEvent>& sim) {
  // The n-th live (source, kind, target) against the n-th simulated one.
  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, std::vector<double>> simTimes;
  for (const auto& e : sim)
    if (decidesDrops(e)) simTimes[{e.source, e.kind, e.target}].push_back(e.t_s);
  std::map<Key, std::size_t> seen;
  double slip = 0;
  for (const auto& e : live) {
    if (!decidesDrops(e)) continue;
    const Key key{e.source, e.kind, e.target};
    const auto it = simTimes.find(key);
    const auto n = seen[key]++;
    if (it == simTimes.end() || n >= it->second.size()) continue;
    slip = std::max(slip, 1000.0 * (e.t_s - it->second[n]));
  }
  return slip;
}

std::optional<double> ModePair::difference() const {
  if (!live || !sim) return std::nullopt;
  return *live - *sim;
}

CalibrationRow calibrate(const std::string& scenario, const RunResult& live, const RunResult& sim,
                         double health_check_interval_ms) {
  CalibrationRow row;
  row.scenario = scenario;
  row.live_valid = live.verdict.valid;
  row.sim_valid = sim.verdict.valid;
  const auto dropped = [](const RunResult& r) { return static_cast<double>(r.summary.outcomes.dropped()); };
  row.dropped = {dropped(live), dropped(sim)};
  const auto latency = [](const RunResult& r, double LatencySummary::*p) -> std::optional<double> {
    if (r.summary.latency.count == 0) return std::nullopt;
    return r.summary.latency.*p;
  };
  row.p50_ms = {latency(live, &LatencySummary::p50_ms), latency(sim, &LatencySummary::p50_ms)};
  row.p99_ms = {latency(live, &LatencySummary::p99_ms), latency(sim, &LatencySummary::p99_ms)};
  row.rollback_detect_ms = {measure(live, "rollback_detect_latency_ms"), measure(sim, "rollback_detect_latency_ms")};
  row.switcher_retries = {measure(live, "switcher_retries"), measure(sim, "switcher_retries")};
  row.dropped_agrees = row.live_valid && row.sim_valid && *row.dropped.difference() == 0;
  row.rollback_tolerance_ms = health_check_interval_ms;
  row.live_slip_ms = std::max(stepSlipMs(live.events, sim.events), live.summary.max_send_lateness_ms);
  if (const auto d = row.rollback_detect_ms.difference())
    row.rollback_agrees = std::abs(*d) <= health_check_interval_ms;
  else if (row.rollback_detect_ms.live.has_value() != row.rollback_detect_ms.sim.has_value())
    row.rollback_agrees = false;  // one mode rolled back, the other did not
  return row;
}

}  // namespace cutover
