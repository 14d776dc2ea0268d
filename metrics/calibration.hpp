#pragma once
// Calibration: one scenario run live and simulated (same file, same seed),
// compared quantity by quantity. Pure: the two results in, the comparison
// out; `cutover calibrate` runs the pairs and prints these rows.
//
// What should agree, and how closely (issue 8, docs/simulation.md):
//  - dropped: exactly, where the drops are decided by the scenario (requests
//    in flight at a kill or at a drain timeout), not by a race of the live
//    machine; calibration reports the difference for every scenario and
//    `agrees` says whether it is zero;
//  - rollback detect latency: within one health-check interval of the
//    scenario (the granularity both modes decide at);
//  - p50 and p99 latency: reported as live / sim, never judged: the live run
//    adds the switcher's and the loopback's time, which the simulation's
//    per-hop latency only approximates;
//  - switcher retries (upstream attempts after the first): reported, not
//    judged; the same races as dropped decide them. Absent live for nginx.
//
// Beside them, how late the live run was against the simulated one where
// timing decides drops (`live_slip_ms`): a dropped count that differs while
// the slip is under the scenario's margin (the lessons put their steps half
// an arrival period off the arrival grid) is a disagreement of the two
// models; over it, the live machine was too busy to tell.
#include <optional>
#include <string>
#include <vector>

#include "metrics/run_result.hpp"

namespace cutover {

struct ModePair {
  std::optional<double> live, sim;
  std::optional<double> difference() const;  // live - sim, when both exist
};

struct CalibrationRow {
  std::string scenario;
  bool live_valid = false, sim_valid = false;
  ModePair dropped, p50_ms, p99_ms, rollback_detect_ms, switcher_retries;
  bool dropped_agrees = false;          // both valid and equal
  std::optional<bool> rollback_agrees;  // within tolerance_ms; nullopt: not measured in both
  double rollback_tolerance_ms = 0;     // one health-check interval
  // The largest of: a live timeline step or SIGKILL after the same event of
  // the simulated run (matched by source, kind and target, in order), and
  // the live load generator's latest send. 0 when the live run was on time.
  double live_slip_ms = 0;
};

// The largest delay of a timeline step or a grace-period SIGKILL of `live`
// after the same event of `sim`, in ms (0 when none is later or none match).
double stepSlipMs(const std::vector<TimedEvent>& live, const std::vector<TimedEvent>& sim);

// `health_check_interval_ms`: the scenario's switcher.health_check.interval
// (after --time-scale), the tolerance of rollback detect latency.
CalibrationRow calibrate(const std::string& scenario, const RunResult& live, const RunResult& sim,
                         double health_check_interval_ms);

}  // namespace cutover
