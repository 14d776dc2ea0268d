#include "sim/scenario/run_support.hpp"

#include <algorithm>

#include "metrics/measures.hpp"
#include "metrics/validity.hpp"
#include "metrics/dropped_requests.hpp"

namespace cutover::scenario {

std::unique_ptr<loadgen::Arrivals> makeArrivals(const LoadSpec& spec, Instant start, Duration length, Rng rng) {
  switch (spec.arrivals) {
    case ArrivalKind::constant: return loadgen::makeConstant(start, length, spec.rate_per_s);
    case ArrivalKind::poisson: return loadgen::makePoisson(start, length, spec.rate_per_s, rng);
    case ArrivalKind::ramp: return loadgen::makeRamp(start, length, spec.from_per_s, spec.rate_per_s);
    case ArrivalKind::step: {
      std::vector<loadgen::RateStep> steps;
      for (const auto& st : spec.steps) steps.push_back({st.at, st.rate_per_s});
      return loadgen::makeStep(start, length, std::move(steps));
    }
  }
  return nullptr;
}

std::unique_ptr<loadgen::ClosedLoop> makeClosedLoop(const LoadSpec& spec, Instant start, Duration length, Rng rng) {
  loadgen::ClosedLoopSpec c;
  c.workers = static_cast<std::size_t>(spec.workers);
  c.think = spec.think;
  c.exponential_think = spec.think_exponential;
  c.length = length;
  return std::make_unique<loadgen::ClosedLoop>(c, start, rng);
}

Duration blockLength(const Scenario& s, const LoadSpec& spec) {
  return std::min(spec.length.value_or(s.duration - spec.start), s.duration - spec.start);
}

double peakRate(const LoadSpec& spec) {
  double peak = std::max(spec.rate_per_s, spec.from_per_s);
  for (const auto& st : spec.steps) peak = std::max(peak, st.rate_per_s);
  return peak;
}

std::size_t expectedRequests(const Scenario& s, const LoadSpec& spec) {
  if (spec.model == LoadModel::closed) return 0;
  return static_cast<std::size_t>(peakRate(spec) * toSeconds(blockLength(s, spec)) * 1.01 + 16);
}

void measureRun(const Scenario& s, const RunTrace& trace, RunResult& r, std::vector<std::string>& invalid) {
  SummaryOptions so;
  so.intended = trace.intended;
  so.length_s = trace.load_length_s;
  so.t0_ns = trace.t0_ns;
  so.span = s.duration;
  // "In any 1 s window": a second of the file, so --time-scale shortens it with every other time.
  so.window = Duration(static_cast<std::int64_t>(1e9 * s.time_scale));
  r.summary = summarize(trace.records, trace.names, so);
  const RunView view{trace.records, trace.names, trace.events, r.instances, trace.t0_ns};
  const auto switches = switchMeasures(view);
  if (trace.check_load && !s.load.empty()) {
    const auto& first = s.load[0];
    // Constant arrivals intend exactly rate x length; Poisson ones a random
    // count around it (300 +- 17 at 50/s for 6 s), so they are held to what
    // they intended, not to the nominal rate.
    const bool steady = s.load.size() == 1 && first.model == LoadModel::open && first.arrivals == ArrivalKind::constant;
    const auto sender = trace.simulated              ? LoadSender::simulated
                        : trace.connections_all_busy ? LoadSender::live_connections_busy
                                                     : LoadSender::live;
    for (auto& p : loadValidityProblems(r.summary, steady ? first.rate_per_s : 0.0, s.validity, sender))
      invalid.push_back(std::move(p));
    for (auto& p : switchesWithoutLoad(switches, trace.records, trace.t0_ns)) invalid.push_back(std::move(p));
  }
  r.measures = deriveMeasures(view, switches);
  if (trace.switcher_retries) r.measures["switcher_retries"] = static_cast<double>(*trace.switcher_retries);
  const auto drops = attributeDrops(view, trace.service_log);
  r.dropped_by_class = drops.by_class;
  r.dropped_by_cause = drops.by_cause;
  r.dropped_first = firstDroppedRequests(view, drops, kDroppedListLimit);
}

}  // namespace cutover::scenario
