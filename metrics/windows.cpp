#include "metrics/windows.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

namespace cutover {
namespace {

constexpr std::size_t kSteps = 10;  // a window is kSteps slices; it slides by one slice

struct Slice {
  std::vector<std::int64_t> latencies;  // sorted descending once filled
  std::uint64_t requests = 0;
  std::uint64_t dropped = 0;
};

// The nearest-rank percentile p of the union of slices[from, from + n): the
// m-th largest value, m = count - ceil(p * count) + 1. It is the largest v
// with at least m values >= v, found by bisecting the value range; each
// probe counts with one binary search per (descending) slice, so the cost is
// ~log(range) * n * log(slice) whatever m is (merging the slices' heads cost
// ~m * n, and m is a tenth of the window for p90).
std::int64_t percentileOfUnion(const std::vector<Slice>& slices, std::size_t from, std::size_t n,
                               std::uint64_t count, double p) {
  const auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count)));
  const std::uint64_t m = count - std::max<std::uint64_t>(rank, 1) + 1;
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;  // the smallest and largest values
  for (std::size_t j = 0; j < n; ++j) {
    const auto& l = slices[from + j].latencies;
    if (l.empty()) continue;
    hi = std::max(hi, l.front());
    lo = std::min(lo, l.back());
  }
  const auto atLeast = [&](std::int64_t v) {
    std::uint64_t c = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const auto& l = slices[from + j].latencies;
      c += static_cast<std::uint64_t>(std::upper_bound(l.begin(), l.end(), v, std::greater<>()) - l.begin());
    }
    return c;
  };
  // Invariant: atLeast(lo) >= m (every value is >= the smallest), and
  // atLeast(hi + 1) < m after the first step (none is above the largest).
  ++hi;
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (atLeast(mid) >= m) lo = mid;
    else hi = mid;
  }
  return lo;
}

}  // namespace

WorstWindows worstWindows(const std::vector<RequestRecord>& records, std::int64_t t0_ns, Duration length,
                          Duration width) {
  WorstWindows w;
  if (width <= Duration::zero() || length <= Duration::zero()) return w;
  const std::int64_t slice_ns = std::max<std::int64_t>(width.count() / static_cast<std::int64_t>(kSteps), 1);
  const auto slices_in_run = static_cast<std::size_t>(length.count() / slice_ns);
  if (slices_in_run == 0) return w;
  std::vector<Slice> slices(slices_in_run);
  for (const auto& r : records) {
    if (r.done_ns == 0 || r.intended_ns < t0_ns) continue;
    const auto i = static_cast<std::size_t>((r.intended_ns - t0_ns) / slice_ns);
    if (i >= slices.size()) continue;
    auto& s = slices[i];
    ++s.requests;
    if (isDropped(r.outcome)) ++s.dropped;
    if (!isDropped(r.outcome)) s.latencies.push_back(r.done_ns - r.intended_ns);  // as the run's latency
  }
  for (auto& s : slices) std::sort(s.latencies.begin(), s.latencies.end(), std::greater<>());
  const std::size_t per = std::min(kSteps, slices.size());
  w.width_s = static_cast<double>(slice_ns * static_cast<std::int64_t>(per)) / 1e9;
  const auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
  std::uint64_t requests = 0, dropped = 0, responses = 0;
  for (std::size_t j = 0; j < per; ++j) {
    requests += slices[j].requests;
    dropped += slices[j].dropped;
    responses += slices[j].latencies.size();
  }
  for (std::size_t from = 0;; ++from) {
    const double at = static_cast<double>(slice_ns * static_cast<std::int64_t>(from)) / 1e9;
    if (requests > 0) {
      ++w.windows;
      const double rate = static_cast<double>(dropped) / static_cast<double>(requests);
      if (rate > w.dropped_rate || w.windows == 1) {  // the first window stands until a worse one
        w.dropped_rate = rate;
        w.dropped_at_s = at;
        w.dropped_requests = requests;
        w.dropped_count = dropped;
      }
    }
    if (responses > 0) {
      ++w.latency_windows;
      const auto worse = [&](double p, double& value, double& value_at) {
        const double v = ms(percentileOfUnion(slices, from, per, responses, p));
        if (v > value || w.latency_windows == 1) {  // the first window stands until a worse one
          value = v;
          value_at = at;
          return true;
        }
        return false;
      };
      worse(90, w.p90_ms, w.p90_at_s);
      if (worse(99, w.p99_ms, w.p99_at_s)) w.p99_responses = responses;
    }
    if (from + per >= slices.size()) break;
    const auto& out = slices[from];
    const auto& in = slices[from + per];
    requests -= out.requests;
    requests += in.requests;
    dropped -= out.dropped;
    dropped += in.dropped;
    responses -= out.latencies.size();
    responses += in.latencies.size();
  }
  if (w.windows == 0) w.width_s = 0;
  return w;
}

}  // namespace cutover
