#pragma once
// The timeline model moved to sim/scenario/timeline.hpp (the simulator uses it
// too); this name stays for the runner.
#include "sim/scenario/timeline.hpp"

namespace cutover::runner {
using scenario::Timeline;
}  // namespace cutover::runner
