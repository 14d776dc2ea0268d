#pragma once
// Arrival processes: when the next request is meant to be sent. Pure models:
// the schedule is a function of the start instant, the parameters and the Rng.
//
// Theory of operation: every process is a rate profile r(t), piecewise linear
// over [start, start + length), and a spacing rule. With the cumulative rate
// L(t) = integral of r from start to t, the i-th arrival (i = 0, 1, ...) is at
// the t where L(t) = x_i:
//   - evenly spaced: x_i = i, so a constant rate gives start + i/rate;
//   - Poisson:       x_i = x_(i-1) + Exp(1) with x_0 = Exp(1) (a
//                    non-homogeneous Poisson process by time change).
// Every process stops before start + length, so each is bounded in count.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

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

// Poisson arrivals at a mean `rate_per_s` (exponential gaps drawn from `rng`).
std::unique_ptr<Arrivals> makePoisson(Instant start, Duration length, double rate_per_s, Rng rng);

// The rate goes linearly from `from_per_s` at `start` to `to_per_s` at
// start + length; about (from + to) / 2 * length arrivals in all. Evenly
// spaced in L(t), or Poisson when `poisson` holds a generator.
std::unique_ptr<Arrivals> makeRamp(Instant start, Duration length, double from_per_s, double to_per_s,
                                   std::optional<Rng> poisson = std::nullopt);

// A rate that changes in steps: each step's rate holds from its offset until
// the next step's offset (or the end). Before the first step the rate is 0.
// Offsets must be non-decreasing.
struct RateStep {
  Duration offset{};
  double rate_per_s = 0.0;
};
std::unique_ptr<Arrivals> makeStep(Instant start, Duration length, std::vector<RateStep> steps,
                                   std::optional<Rng> poisson = std::nullopt);

// The general form: consecutive segments of linearly changing rate, the
// first beginning at `start`. Negative rates count as 0.
struct RateSegment {
  Duration length{};
  double from_per_s = 0.0;
  double to_per_s = 0.0;
};
std::unique_ptr<Arrivals> makeProfile(Instant start, std::vector<RateSegment> segments,
                                      std::optional<Rng> poisson = std::nullopt);

// The expected number of arrivals of a profile, L(end): for checking that a
// run did the work it was asked for.
double expectedArrivals(const std::vector<RateSegment>& segments);

}  // namespace cutover::loadgen
