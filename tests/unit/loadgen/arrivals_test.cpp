#include "sim/loadgen/arrivals.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cutover::loadgen {
namespace {

using namespace std::chrono_literals;

const Instant kStart = fromNanos(1'000'000'000);

// Drains a process (bounded: a broken process fails instead of hanging).
std::vector<Instant> drain(Arrivals& a, std::size_t limit = 10'000'000) {
  std::vector<Instant> out;
  while (out.size() < limit) {
    const auto t = a.next();
    if (!t) break;
    out.push_back(*t);
  }
  EXPECT_LT(out.size(), limit) << "arrival process did not end";
  EXPECT_FALSE(a.next().has_value()) << "a finished process stays finished";
  return out;
}

struct GapStats {
  double mean_s = 0;
  double cv = 0;
};

GapStats gapStats(const std::vector<Instant>& ts) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < ts.size(); ++i) gaps.push_back(toSeconds(ts[i] - ts[i - 1]));
  double sum = 0, sq = 0;
  for (double g : gaps) sum += g;
  const double mean = sum / static_cast<double>(gaps.size());
  for (double g : gaps) sq += (g - mean) * (g - mean);
  const double sd = std::sqrt(sq / static_cast<double>(gaps.size() - 1));
  return {mean, sd / mean};
}

TEST(ConstantArrivals, ExactCountAndSpacing) {
  auto a = makeConstant(kStart, 1s, 200.0);
  const auto ts = drain(*a);
  ASSERT_EQ(ts.size(), 200u);
  for (std::size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(ts[i], kStart + 5ms * static_cast<int>(i)) << i;
}

TEST(ConstantArrivals, StopsStrictlyBeforeTheEnd) {
  // 0.1/s for 10 s: the second arrival would be exactly at the end.
  auto a = makeConstant(kStart, 10s, 0.1);
  const auto ts = drain(*a);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0], kStart);
  // 3/s for 1 s: 0, 1/3, 2/3 (rounded to the nanosecond).
  auto b = makeConstant(kStart, 1s, 3.0);
  const auto tb = drain(*b);
  ASSERT_EQ(tb.size(), 3u);
  EXPECT_EQ(tb[1] - kStart, Duration{333'333'333});
  EXPECT_EQ(tb[2] - kStart, Duration{666'666'667});
}

TEST(ConstantArrivals, ZeroOrNegativeRateOrLengthGivesNothing) {
  EXPECT_TRUE(drain(*makeConstant(kStart, 1s, 0.0)).empty());
  EXPECT_TRUE(drain(*makeConstant(kStart, 1s, -5.0)).empty());
  EXPECT_TRUE(drain(*makeConstant(kStart, 0s, 100.0)).empty());
}

TEST(PoissonArrivals, MeanRateAndCoefficientOfVariation) {
  for (std::uint64_t seed : {1u, 7u, 1234u}) {
    auto a = makePoisson(kStart, 100s, 1000.0, Rng(seed));
    const auto ts = drain(*a);
    // 100000 expected; Poisson sd ~316, so 2% is > 6 sd.
    EXPECT_NEAR(static_cast<double>(ts.size()), 100000.0, 2000.0) << seed;
    const auto st = gapStats(ts);
    EXPECT_NEAR(st.mean_s, 1e-3, 0.02e-3) << seed;
    EXPECT_NEAR(st.cv, 1.0, 0.03) << seed;  // exponential gaps: cv = 1
    for (std::size_t i = 1; i < ts.size(); ++i) ASSERT_LE(ts[i - 1], ts[i]);
    EXPECT_GE(ts.front(), kStart);
    EXPECT_LT(ts.back(), kStart + 100s);
  }
}

TEST(PoissonArrivals, SameSeedSameSchedule) {
  const auto a = drain(*makePoisson(kStart, 2s, 500.0, Rng(99)));
  const auto b = drain(*makePoisson(kStart, 2s, 500.0, Rng(99)));
  const auto c = drain(*makePoisson(kStart, 2s, 500.0, Rng(100)));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(RampArrivals, TotalIsTheAreaAndRateRises) {
  auto a = makeRamp(kStart, 10s, 100.0, 300.0);
  const auto ts = drain(*a);
  EXPECT_EQ(ts.size(), 2000u);  // (100 + 300) / 2 * 10
  EXPECT_DOUBLE_EQ(expectedArrivals({{10s, 100.0, 300.0}}), 2000.0);
  EXPECT_EQ(ts.front(), kStart);
  // First second: rate 100..120 -> 110 arrivals; last second: 280..300 -> 290.
  const auto inWindow = [&](Duration from, Duration to) {
    return std::count_if(ts.begin(), ts.end(), [&](Instant t) { return t >= kStart + from && t < kStart + to; });
  };
  EXPECT_NEAR(static_cast<double>(inWindow(0s, 1s)), 110.0, 1.0);
  EXPECT_NEAR(static_cast<double>(inWindow(9s, 10s)), 290.0, 1.0);
  for (std::size_t i = 1; i < ts.size(); ++i) ASSERT_LT(ts[i - 1], ts[i]);
}

TEST(RampArrivals, DownToZeroAndFromZero) {
  EXPECT_EQ(drain(*makeRamp(kStart, 4s, 100.0, 0.0)).size(), 200u);
  const auto up = drain(*makeRamp(kStart, 4s, 0.0, 100.0));
  EXPECT_EQ(up.size(), 200u);
  EXPECT_LT(up.back(), kStart + 4s);
}

TEST(RampArrivals, PoissonTotalNearTheArea) {
  const auto ts = drain(*makeRamp(kStart, 20s, 0.0, 1000.0, Rng(5)));
  EXPECT_NEAR(static_cast<double>(ts.size()), 10000.0, 400.0);  // sd 100
  const auto firstHalf = std::count_if(ts.begin(), ts.end(), [](Instant t) { return t < kStart + 10s; });
  EXPECT_NEAR(static_cast<double>(firstHalf), 2500.0, 250.0);
}

TEST(StepArrivals, EachStepHoldsItsRate) {
  auto a = makeStep(kStart, 3s, {{0s, 100.0}, {1s, 0.0}, {2s, 50.0}});
  const auto ts = drain(*a);
  ASSERT_EQ(ts.size(), 150u);
  EXPECT_EQ(ts[99], kStart + 990ms);
  EXPECT_EQ(ts[100], kStart + 2s);
  EXPECT_EQ(ts[101], kStart + 2s + 20ms);
}

TEST(StepArrivals, ZeroBeforeFirstStepAndStepsPastTheEndIgnored) {
  const auto ts = drain(*makeStep(kStart, 2s, {{500ms, 10.0}, {5s, 1000.0}}));
  ASSERT_EQ(ts.size(), 15u);
  EXPECT_EQ(ts.front(), kStart + 500ms);
}

TEST(ProfileArrivals, SegmentsJoinWithoutGapsOrDuplicates) {
  const std::vector<RateSegment> segs = {{1s, 100.0, 100.0}, {2s, 100.0, 200.0}, {1s, 200.0, 200.0}};
  const auto ts = drain(*makeProfile(kStart, segs));
  EXPECT_DOUBLE_EQ(expectedArrivals(segs), 600.0);
  EXPECT_EQ(ts.size(), 600u);
  for (std::size_t i = 1; i < ts.size(); ++i) ASSERT_LT(ts[i - 1], ts[i]);
  EXPECT_EQ(ts[100], kStart + 1s);
}

}  // namespace
}  // namespace cutover::loadgen
