#include "sim/core/clock.hpp"

namespace cutover {

Instant monoNow() {
  const auto d = std::chrono::steady_clock::now().time_since_epoch();
  return Instant{std::chrono::duration_cast<Duration>(d)};
}

}  // namespace cutover
