#include "metrics/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/core/assert.hpp"

namespace cutover {
namespace {

constexpr int kSubBucketHalfMagnitude = 10;                       // 1024
constexpr std::int64_t kSubBucketHalf = 1 << kSubBucketHalfMagnitude;
constexpr std::uint64_t kSubBucketMask = 2 * kSubBucketHalf - 1;  // 2047
constexpr int kLeadingZeroBase = 64 - kSubBucketHalfMagnitude - 1;  // 53

constexpr int bucketOf(std::uint64_t v) { return kLeadingZeroBase - std::countl_zero(v | kSubBucketMask); }

constexpr std::size_t kCountsLength =
    static_cast<std::size_t>(bucketOf(Histogram::kHighestTrackable - 1) + 2) * kSubBucketHalf;

}  // namespace

Histogram::Histogram() : counts_(kCountsLength, 0) {}

std::size_t Histogram::indexOf(std::int64_t ns) {
  const auto v = static_cast<std::uint64_t>(std::clamp<std::int64_t>(ns, 0, kHighestTrackable - 1));
  const int bucket = bucketOf(v);
  const auto sub = static_cast<std::int64_t>(v >> bucket);
  return static_cast<std::size_t>(((bucket + 1) << kSubBucketHalfMagnitude) + (sub - kSubBucketHalf));
}

std::int64_t Histogram::lowestAt(std::size_t index) {
  const auto i = static_cast<std::int64_t>(index);
  std::int64_t bucket = (i >> kSubBucketHalfMagnitude) - 1;
  std::int64_t sub = (i & (kSubBucketHalf - 1)) + kSubBucketHalf;
  if (bucket < 0) {
    sub -= kSubBucketHalf;
    bucket = 0;
  }
  return sub << bucket;
}

std::int64_t Histogram::widthAt(std::size_t index) {
  const auto bucket = static_cast<std::int64_t>(index >> kSubBucketHalfMagnitude) - 1;
  return std::int64_t{1} << std::max<std::int64_t>(bucket, 0);
}

void Histogram::recordValues(std::int64_t ns, std::uint64_t count) {
  if (count == 0) return;
  ns = std::max<std::int64_t>(ns, 0);
  counts_[indexOf(ns)] += count;
  if (total_ == 0 || ns < min_) min_ = ns;
  if (total_ == 0 || ns > max_) max_ = ns;
  total_ += count;
  sum_ += static_cast<Sum>(static_cast<std::uint64_t>(ns)) * count;
}

double Histogram::mean() const {
  if (total_ == 0) return 0.0;
  // Whole part exactly, then the remainder: the mean to double precision.
  const Sum whole = sum_ / total_;
  const Sum rest = sum_ % total_;
  return static_cast<double>(whole) + static_cast<double>(rest) / static_cast<double>(total_);
}

std::int64_t Histogram::valueAtPercentile(double p) const {
  if (total_ == 0) return 0;
  if (!(p > 0.0)) return min_;  // also catches NaN
  if (p >= 100.0) return max_;
  const double exact_rank = std::ceil(p / 100.0 * static_cast<double>(total_));
  const auto rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(exact_rank), 1, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::int64_t mid = lowestAt(i) + (widthAt(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  CUTOVER_ASSERT(false && "histogram counts disagree with total");
  return max_;
}

void Histogram::merge(const Histogram& other) {
  if (other.total_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = total_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = total_ == 0 ? other.max_ : std::max(max_, other.max_);
  total_ += other.total_;
  sum_ += other.sum_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
}

}  // namespace cutover
