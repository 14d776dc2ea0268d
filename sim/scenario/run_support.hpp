#pragma once
// What every run mode (live, sim) derives from a scenario the same way: the
// arrival models of its load blocks, and the measuring after the run
// (summary, validity of the load, derived measures, drop causes).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/drop_causes.hpp"
#include "metrics/run_result.hpp"
#include "sim/core/rng.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/closed_loop.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

// Open-loop arrivals of a block (model: open), on [start, start + length).
std::unique_ptr<loadgen::Arrivals> makeArrivals(const LoadSpec& spec, Instant start, Duration length, Rng rng);
// The closed-loop model of a block (model: closed).
std::unique_ptr<loadgen::ClosedLoop> makeClosedLoop(const LoadSpec& spec, Instant start, Duration length, Rng rng);
// How long a block sends: from its start to its length or the end of the run.
Duration blockLength(const Scenario& s, const LoadSpec& spec);
// A reserve hint for the block's record count (0: unknown).
std::size_t expectedRequests(const Scenario& s, const LoadSpec& spec);
// The runner's readiness probe, in both modes: a GET of the pool's health
// path; an answer slower than kReadinessProbeTimeout is a failed probe, and a
// failed probe is made again on the runner loop's next pass (about
// kReadinessProbeEvery later). An instance joins the switcher on a 200.
inline constexpr Duration kReadinessProbeTimeout = std::chrono::milliseconds(200);
inline constexpr Duration kReadinessProbeEvery = std::chrono::milliseconds(10);

// An open load block's highest rate (requests/s): its rate, a ramp's start,
// or its largest step.
double peakRate(const LoadSpec& spec);

struct RunTrace {
  std::vector<RequestRecord> records;
  std::vector<std::string> names;  // of RequestRecord::version / instance
  std::vector<TimedEvent> events;  // sorted by time
  std::vector<ServiceRequestLog> service_log;
  std::int64_t t0_ns = 0;
  std::uint64_t intended = 0;  // requests the load meant to send
  double load_length_s = 0;    // the longest block
  bool check_load = true;      // false when the run stopped early (interrupted, failed setup)
  bool simulated = false;      // from the discrete-event engine (its client is never late by itself)
  bool connections_all_busy = false;  // live: a block had every one of its load.connections open at once
  // Upstream attempts after the first, summed over the run (the switcher's
  // retries of attempts that failed before any response byte); nullopt when
  // the switcher does not tell (nginx).
  std::optional<std::uint64_t> switcher_retries;
};

// Fills r.summary, r.measures, r.dropped_by_* and adds load validity problems
// to `invalid` (a single steady open-loop block is held to its target rate).
void measureRun(const Scenario& s, const RunTrace& trace, RunResult& r, std::vector<std::string>& invalid);

}  // namespace cutover::scenario
