#include "metrics/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/core/rng.hpp"

namespace cutover {
namespace {

// Nearest rank, as documented by Histogram::valueAtPercentile.
std::int64_t exactPercentile(const std::vector<std::int64_t>& sorted, double p) {
  if (p <= 0.0) return sorted.front();
  if (p >= 100.0) return sorted.back();
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// Log-uniform values from 1 us to 100 s: every magnitude gets exercised.
std::vector<std::int64_t> logUniform(Rng& rng, std::size_t n) {
  std::vector<std::int64_t> values;
  values.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    values.push_back(static_cast<std::int64_t>(std::exp(std::log(1e3) + rng.uniform() * (std::log(1e11) - std::log(1e3)))));
  return values;
}

void expectWithinPrecision(std::int64_t got, std::int64_t want) {
  const double tolerance = std::max(1.0, static_cast<double>(want) * 0.001);
  EXPECT_LE(std::fabs(static_cast<double>(got - want)), tolerance) << "got " << got << " want " << want;
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.valueAtPercentile(50), 0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::int64_t v = 0; v < 2048; ++v) h.recordValue(v);
  EXPECT_EQ(h.count(), 2048u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 2047);
  EXPECT_EQ(h.valueAtPercentile(50), 1023);
  EXPECT_EQ(h.valueAtPercentile(100), 2047);
  EXPECT_DOUBLE_EQ(h.mean(), 1023.5);
}

TEST(Histogram, PercentilesMatchSortedValuesWithinPrecision) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    Rng rng(seed);
    auto values = logUniform(rng, 20000);
    Histogram h;
    for (auto v : values) h.recordValue(v);
    std::sort(values.begin(), values.end());
    EXPECT_EQ(h.count(), values.size());
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    for (double p : {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0})
      expectWithinPrecision(h.valueAtPercentile(p), exactPercentile(values, p));
  }
}

TEST(Histogram, EveryMagnitudeWithinRelativeErrorOfOneInAThousand) {
  // The median of {v/1000, v, 1000 v} is v; the outer values keep the exact
  // min/max clamp from doing the work.
  int checked = 0;
  for (std::int64_t v = 1000; v <= 100'000'000'000; v = v * 23 / 10 + 1, ++checked) {
    Histogram h;
    h.recordValue(v / 1000);
    h.recordValue(v);
    h.recordValue(v * 1000);
    expectWithinPrecision(h.valueAtPercentile(50), v);
  }
  EXPECT_GE(checked, 20);
}

TEST(Histogram, MeanIsExact) {
  Histogram h;
  h.record(std::chrono::milliseconds(1));
  h.record(std::chrono::milliseconds(3));
  EXPECT_DOUBLE_EQ(h.mean(), 2e6);
}

// The sum passes 2^64 ns (about 585 years of latency in all): no overflow.
TEST(Histogram, MeanHoldsPastA64BitSum) {
  Histogram h;
  constexpr std::int64_t kHuge = std::numeric_limits<std::int64_t>::max();
  h.recordValues(kHuge, 4);
  h.recordValue(1);
  EXPECT_DOUBLE_EQ(h.mean(), (4.0 * static_cast<double>(kHuge) + 1.0) / 5.0);
  h.recordValues(1000, 3);
  EXPECT_DOUBLE_EQ(h.mean(), (4.0 * static_cast<double>(kHuge) + 3001.0) / 8.0);
}

TEST(Histogram, NegativeCountsAsZeroAndHugeIsClampedButMaxExact) {
  Histogram h;
  h.recordValue(-5);
  h.recordValue(Histogram::kHighestTrackable * 4);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), Histogram::kHighestTrackable * 4);
  EXPECT_EQ(h.valueAtPercentile(100), Histogram::kHighestTrackable * 4);
  EXPECT_EQ(h.valueAtPercentile(10), 0);
}

TEST(Histogram, MergeEqualsRecordingBoth) {
  Rng rng(42);
  const auto a = logUniform(rng, 5000);
  const auto b = logUniform(rng, 7000);
  Histogram ha, hb, both;
  for (auto v : a) ha.recordValue(v), both.recordValue(v);
  for (auto v : b) hb.recordValue(v), both.recordValue(v);
  ha.merge(hb);
  EXPECT_EQ(ha.count(), both.count());
  EXPECT_EQ(ha.min(), both.min());
  EXPECT_EQ(ha.max(), both.max());
  EXPECT_DOUBLE_EQ(ha.mean(), both.mean());
  for (double p = 0.0; p <= 100.0; p += 0.5) EXPECT_EQ(ha.valueAtPercentile(p), both.valueAtPercentile(p)) << p;
  std::vector<std::uint64_t> ca, cb;
  ha.forEachBucket([&](std::int64_t, std::int64_t, std::uint64_t c) { ca.push_back(c); });
  both.forEachBucket([&](std::int64_t, std::int64_t, std::uint64_t c) { cb.push_back(c); });
  EXPECT_EQ(ca, cb);
}

TEST(Histogram, MergeIntoEmptyAndResetClears) {
  Histogram src, dst;
  src.recordValue(5000);
  src.recordValue(7000);
  dst.merge(src);
  EXPECT_EQ(dst.count(), 2u);
  EXPECT_EQ(dst.min(), 5000);
  EXPECT_EQ(dst.max(), 7000);
  dst.reset();
  EXPECT_EQ(dst.count(), 0u);
  EXPECT_EQ(dst.valueAtPercentile(99), 0);
  dst.recordValue(9000);
  EXPECT_EQ(dst.min(), 9000);
  EXPECT_EQ(dst.max(), 9000);
}

TEST(Histogram, BucketsCoverRecordedValues) {
  Histogram h;
  const std::vector<std::int64_t> values = {0, 1, 2047, 2048, 2049, 1'000'000, 123'456'789, 99'000'000'000};
  for (auto v : values) h.recordValue(v);
  std::uint64_t total = 0;
  std::int64_t previous_high = -1;
  h.forEachBucket([&](std::int64_t lo, std::int64_t hi, std::uint64_t c) {
    EXPECT_GT(lo, previous_high);
    EXPECT_LE(lo, hi);
    EXPECT_TRUE(std::any_of(values.begin(), values.end(), [&](std::int64_t v) { return v >= lo && v <= hi; }));
    previous_high = hi;
    total += c;
  });
  EXPECT_EQ(total, values.size());
}

}  // namespace
}  // namespace cutover
