#pragma once
// The one place that reads the operating system's monotonic clock. Shells
// call monoNow(); models take `now` as a parameter.
#include "sim/core/time.hpp"

namespace cutover {

Instant monoNow();

}  // namespace cutover
