#pragma once
// Shared by the metrics tests: the nearest-rank percentile by sorting, the
// definition the summaries and windows must match.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace cutover::testing {

inline double exactMs(std::vector<std::int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return static_cast<double>(v[std::clamp<std::size_t>(rank, 1, v.size()) - 1]) / 1e6;
}

}  // namespace cutover::testing
