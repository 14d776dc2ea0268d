#pragma once
// Arrival processes: when the next request is meant to be sent. Pure models:
// the schedule is a function of the start instant, the parameters and the Rng.
#include <cstdint>
#include <memory>
#include <optional>

#include "sim/core/rng.hpp"
#include "sim/core/time.hpp"

namespace cutover::loadgen {

class Arrivals {
 public:
  virtual ~Arrivals() = default;
  // The next intended send time, or nullopt when the process is over.
  virtual std::optional<Instant> next() = 0;
};

// Evenly spaced sends at `rate_per_s` from `start` for `length`
// (the i-th at start + i/rate, while < start + length).
std::unique_ptr<Arrivals> makeConstant(Instant start, Duration length, double rate_per_s);

}  // namespace cutover::loadgen
