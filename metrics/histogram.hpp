#pragma once
// An HDR-style log-linear histogram of durations in nanoseconds.
//
// Theory of operation (after HdrHistogram): values below 2048 ns are counted
// exactly; above, each power-of-two range [2^k, 2^(k+1)) is split into 1024
// equal sub-buckets, so a bucket is at most 1/1024 of the values it holds
// wide. Queries answer with the middle of the bucket (clamped to the exact
// min and max), so a reported value is within 1/2048 (< 0.05%) of a value
// that was recorded: better than 3 significant digits.
//
// Range: 0 .. kHighestTrackable (2^37 ns, about 137 s) at full precision;
// larger values are counted in the top bucket (min, max, mean stay exact).
// Negative values count as 0. Memory is fixed at construction (~230 KiB);
// recording never allocates.
#include <cstdint>
#include <vector>

#include "sim/core/time.hpp"

namespace cutover {

class Histogram {
 public:
  static constexpr std::int64_t kHighestTrackable = std::int64_t{1} << 37;

  Histogram();

  void recordValue(std::int64_t ns) { recordValues(ns, 1); }
  void record(Duration d) { recordValues(d.count(), 1); }
  void recordValues(std::int64_t ns, std::uint64_t count);

  std::uint64_t count() const { return total_; }
  // 0 when empty.
  std::int64_t min() const { return total_ == 0 ? 0 : min_; }
  std::int64_t max() const { return total_ == 0 ? 0 : max_; }
  double mean() const;

  // The value at or below which p percent of the recorded values fall
  // (nearest rank: the ceil(p/100 * count)-th smallest, at least the first).
  // p is clamped to [0, 100]; p = 0 gives min(), p = 100 gives max().
  // 0 when empty.
  std::int64_t valueAtPercentile(double p) const;

  // Adds every value recorded in `other`.
  void merge(const Histogram& other);
  void reset();

  // Calls f(lowest_ns, highest_ns, count) for every non-empty bucket in
  // increasing order; [lowest, highest] are the values the bucket stands for.
  template <class F>
  void forEachBucket(F&& f) const {
    for (std::size_t i = 0; i < counts_.size(); ++i)
      if (counts_[i] != 0) f(lowestAt(i), lowestAt(i) + widthAt(i) - 1, counts_[i]);
  }

 private:
  static std::size_t indexOf(std::int64_t ns);
  static std::int64_t lowestAt(std::size_t index);
  static std::int64_t widthAt(std::size_t index);

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // The exact sum of the values: 128-bit integers (a long double sum was
  // exact only to 2^64 ns, and its x87 arithmetic was the slowest part of
  // recording a value).
  __extension__ typedef unsigned __int128 Sum;
  Sum sum_ = 0;
};

}  // namespace cutover
