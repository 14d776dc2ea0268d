#pragma once
// Validity rules (issue 5, "Honesty"): a run whose load generator did not do
// its work is invalid, never a pass. Pure functions of the summary and the
// measures; each returns one human-readable reason per broken rule.
#include <map>
#include <string>
#include <vector>

#include "metrics/measures.hpp"
#include "metrics/run_result.hpp"

namespace cutover {

struct ValidityLimits {
  double min_rate_fraction = 0.99;  // achieved send rate / target at least this
  double max_late_fraction = 0.01;  // sends later than 10 ms at most this fraction
};

// A live timed step fired more than this after its `at` is not the run the
// file describes (a fault meant to last 500 ms that lasted 0).
inline constexpr Duration kMaxStepLateness = std::chrono::milliseconds(500);
// The reason a timed step `what` due at `due` and fired at `fired` (both
// since t=0) invalidates the run; "" when it was on time, or when the file
// declares a slow harness (max_late_fraction 100%: lateness not judged, as
// the tests under ThreadSanitizer do).
std::string lateStepProblem(const std::string& what, Duration due, Duration fired, const ValidityLimits& limits);

// Who sent the load. A live load generator can fall behind by itself (a
// busy machine), or be held back when every connection of a block was open
// and busy (live_connections_busy: the reasons name load.connections too);
// the simulated client is late only in the second way, and the reasons say so.
enum class LoadSender { live, live_connections_busy, simulated };

// Reasons the load invalidates the run: no request sent; achieved send rate
// under min_rate_fraction of `target_rate_per_s` (when it is <= 0, requests
// sent are compared with requests intended instead); more than
// max_late_fraction of sends later than 10 ms (with the lateness figures).
// A refused connect counts as delivered: the client tried, and the system
// under test refused (a drop, not a shortfall of the load).
std::vector<std::string> loadValidityProblems(const RunSummary& summary, double target_rate_per_s,
                                              const ValidityLimits& limits = {},
                                              LoadSender sender = LoadSender::live);

// Reasons a switch between pools shows nothing: no request of the load was
// intended after the switcher made it (the load ended first, or its rate was
// too low), so its 0 dropped or its latency would be a claim about no
// traffic at all. `switches` as switchMeasures() gives them (switches that
// left a pool and happened); `records` on the clock of `t0_ns`.
std::vector<std::string> switchesWithoutLoad(const std::vector<SwitchMeasure>& switches,
                                             const std::vector<RequestRecord>& records, std::int64_t t0_ns);

// Reasons for expected measures whose inputs never happened, e.g.
// "rollback_detect_latency_ms was expected but no rollback happened".
// `expected` holds measure names as in deriveMeasures().
std::vector<std::string> missingMeasures(const std::vector<std::string>& expected,
                                         const std::map<std::string, double>& measures);

}  // namespace cutover
