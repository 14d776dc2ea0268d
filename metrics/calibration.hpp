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
//    per-hop latency only approximates.
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
  ModePair dropped, p50_ms, p99_ms, rollback_detect_ms;
  bool dropped_agrees = false;          // both valid and equal
  std::optional<bool> rollback_agrees;  // within tolerance_ms; nullopt: not measured in both
  double rollback_tolerance_ms = 0;     // one health-check interval
};

// `health_check_interval_ms`: the scenario's switcher.health_check.interval
// (after --time-scale), the tolerance of rollback detect latency.
CalibrationRow calibrate(const std::string& scenario, const RunResult& live, const RunResult& sim,
                         double health_check_interval_ms);

}  // namespace cutover
