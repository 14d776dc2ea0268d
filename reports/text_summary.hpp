#pragma once
// The summary a run prints on the terminal.
#include <string>

#include "metrics/run_result.hpp"

namespace cutover::reports {

std::string textSummary(const RunResult& result);

}  // namespace cutover::reports
