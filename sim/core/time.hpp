#pragma once
// Time for every model: Instant and Duration on one monotonic clock.
// Models never read a clock; shells pass `now` in. The only function that
// reads the operating system's clock is cutover::monoNow() (clock.cpp).
#include <chrono>
#include <cstdint>

namespace cutover {

using Duration = std::chrono::nanoseconds;

// A clock tag so Instant cannot be mixed up with other time_points. Its epoch
// is CLOCK_MONOTONIC's (std::chrono::steady_clock on Linux), which every
// process on the machine shares: records from the runner and from service
// processes join on it.
struct MonoClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonoClock>;
  static constexpr bool is_steady = true;
};

using Instant = MonoClock::time_point;

constexpr std::int64_t toNanos(Instant t) { return t.time_since_epoch().count(); }
constexpr Instant fromNanos(std::int64_t ns) { return Instant{Duration{ns}}; }
constexpr double toMillis(Duration d) { return static_cast<double>(d.count()) / 1e6; }
constexpr double toSeconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

}  // namespace cutover
