#pragma once
// Live orchestration of a scenario: spawn services, start the switcher and
// the load, run the timeline, stop everything, measure. No Boost here.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "metrics/run_result.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::runner {

struct RunOptions {
  std::string out_dir;   // logs/ go here (report files are written by the caller)
  std::string self_exe;  // the `cutover` binary, for `cutover fake-service` children
  bool progress = true;  // a line on stderr every second
  // Set (to the signal number) by the CLI's SIGINT/SIGTERM handler: the run
  // stops in order and is reported invalid.
  const std::atomic<int>* interrupted = nullptr;
  // --metrics-port: Prometheus /metrics on 127.0.0.1:N during the run
  // (switcher, load generator and run metrics; docs/observability.md).
  std::optional<std::uint16_t> metrics_port;
};

// Runs the scenario for real on 127.0.0.1 and returns its result with
// validity decided; expectations are judged by the caller (scenario::judge).
RunResult runLive(const scenario::Scenario& scenario, const RunOptions& options);

}  // namespace cutover::runner
