#include "sim/loadgen/arrivals.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/core/ziggurat.hpp"

namespace cutover::loadgen {
namespace {

double seconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

// Arrivals in a segment from the segment's start to `seconds_in`.
double areaUpTo(const RateSegment& s, double seconds_in) {
  const double len = seconds(s.length);
  if (len <= 0.0) return 0.0;
  return s.from_per_s * seconds_in + (s.to_per_s - s.from_per_s) * seconds_in * seconds_in / (2.0 * len);
}

// The time into segment `s` at which its cumulative count reaches x >= 0.
// L(t) = a t + (b - a) t^2 / (2 len); the root in its cancellation-free form.
double timeForArea(const RateSegment& s, double x) {
  if (x <= 0.0) return 0.0;
  const double a = s.from_per_s;
  if (s.to_per_s == a && a > 0.0) return x / a;  // constant rate: the same root, without the sqrt
  const double slope = (s.to_per_s - a) / seconds(s.length);
  const double disc = std::max(0.0, a * a + 2.0 * slope * x);
  const double denom = a + std::sqrt(disc);
  if (denom <= 0.0) return seconds(s.length);
  return 2.0 * x / denom;
}

class ProfileArrivals final : public Arrivals {
 public:
  ProfileArrivals(Instant start, std::vector<RateSegment> segments, std::optional<Rng> rng)
      : start_(start), segments_(std::move(segments)), rng_(std::move(rng)) {
    Duration offset{0};
    double area = 0.0;
    for (auto& s : segments_) {
      CUTOVER_ASSERT(s.length.count() >= 0);
      s.from_per_s = std::isfinite(s.from_per_s) ? std::max(0.0, s.from_per_s) : 0.0;
      s.to_per_s = std::isfinite(s.to_per_s) ? std::max(0.0, s.to_per_s) : 0.0;
      offsets_.push_back(offset);
      cumulative_.push_back(area);
      offset += s.length;
      area += areaUpTo(s, seconds(s.length));
    }
    end_ = offset;
    cumulative_.push_back(area);
  }

  std::optional<Instant> next() override {
    if (done_) return std::nullopt;
    const double x = rng_ ? x_ + exponential() : static_cast<double>(index_);
    ++index_;
    x_ = x;
    while (segment_ < segments_.size() && cumulative_[segment_ + 1] <= x) ++segment_;
    if (segment_ == segments_.size()) return finish();
    const auto& s = segments_[segment_];
    const double into = timeForArea(s, x - cumulative_[segment_]);
    const Duration offset = offsets_[segment_] + Duration{roundNonNegative(into * 1e9)};
    if (offset >= end_) return finish();
    // Rounding must never move time backwards.
    last_ = std::max(last_, offset);
    return start_ + last_;
  }

 private:
  std::optional<Instant> finish() {
    done_ = true;
    return std::nullopt;
  }
  double exponential() { return standardExponential(*rng_); }

  Instant start_;
  std::vector<RateSegment> segments_;
  std::optional<Rng> rng_;
  std::vector<Duration> offsets_;    // start offset of each segment
  std::vector<double> cumulative_;   // L at the start of each segment, then the total
  Duration end_{0};
  Duration last_{0};
  std::size_t segment_ = 0;
  std::uint64_t index_ = 0;
  double x_ = 0.0;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<Arrivals> makeProfile(Instant start, std::vector<RateSegment> segments, std::optional<Rng> poisson) {
  return std::make_unique<ProfileArrivals>(start, std::move(segments), std::move(poisson));
}

std::unique_ptr<Arrivals> makeConstant(Instant start, Duration length, double rate_per_s) {
  return makeProfile(start, {RateSegment{length, rate_per_s, rate_per_s}});
}

std::unique_ptr<Arrivals> makePoisson(Instant start, Duration length, double rate_per_s, Rng rng) {
  return makeProfile(start, {RateSegment{length, rate_per_s, rate_per_s}}, std::move(rng));
}

std::unique_ptr<Arrivals> makeRamp(Instant start, Duration length, double from_per_s, double to_per_s,
                                   std::optional<Rng> poisson) {
  return makeProfile(start, {RateSegment{length, from_per_s, to_per_s}}, std::move(poisson));
}

std::unique_ptr<Arrivals> makeStep(Instant start, Duration length, std::vector<RateStep> steps,
                                   std::optional<Rng> poisson) {
  std::vector<RateSegment> segments;
  Duration at{0};
  double rate = 0.0;
  Duration previous{0};
  for (const auto& step : steps) {
    CUTOVER_ASSERT(step.offset >= previous);
    previous = step.offset;
    const Duration until = std::clamp(step.offset, at, length);
    if (until > at) segments.push_back({until - at, rate, rate});
    at = until;
    rate = step.rate_per_s;
  }
  if (length > at) segments.push_back({length - at, rate, rate});
  return makeProfile(start, std::move(segments), std::move(poisson));
}

double expectedArrivals(const std::vector<RateSegment>& segments) {
  double total = 0.0;
  for (const auto& s : segments) {
    RateSegment clean = s;
    clean.from_per_s = std::max(0.0, s.from_per_s);
    clean.to_per_s = std::max(0.0, s.to_per_s);
    total += areaUpTo(clean, seconds(s.length));
  }
  return total;
}

}  // namespace cutover::loadgen
