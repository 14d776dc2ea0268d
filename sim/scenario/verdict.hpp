#pragma once
// Expectations -> verdict. An invalid run never passes, whatever it measured.
#include "metrics/run_result.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

// Fills result.verdict.failures and .passed from the scenario's `expect:`
// block; keeps the validity already decided by the runner.
void judge(const Scenario& scenario, RunResult& result);

// Process exit code of a judged run: 0 passed, 1 expectations failed, 3 invalid.
int exitCodeOf(const Verdict& verdict);

}  // namespace cutover::scenario
