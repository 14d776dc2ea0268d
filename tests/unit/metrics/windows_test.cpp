#include "metrics/windows.hpp"

#include <gtest/gtest.h>

#include "tests/unit/metrics/exact_percentile.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/core/rng.hpp"

namespace cutover {
namespace {

constexpr std::int64_t kT0 = 5'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

RequestRecord rec(std::int64_t intended_ms, std::int64_t latency_ms, Outcome o = Outcome::ok) {
  RequestRecord r;
  r.intended_ns = kT0 + intended_ms * kMs;
  r.sent_ns = r.intended_ns;
  r.done_ns = r.intended_ns + latency_ms * kMs;
  r.outcome = o;
  r.status = o == Outcome::ok ? 200 : o == Outcome::app_error ? 500 : 0;
  return r;
}

using testing::exactMs;

// A 10 s run at 1 ms per request except one slow second: the whole-run p99
// hides it, the worst window finds it, where it is.
TEST(WorstWindows, FindsTheSlowSecondAWholeRunP99Hides) {
  std::vector<RequestRecord> records;
  for (int t = 0; t < 10000; t += 5) records.push_back(rec(t, t >= 4000 && t < 5000 ? 300 : 1));
  const auto w = worstWindows(records, kT0, std::chrono::seconds(10), std::chrono::seconds(1));
  EXPECT_DOUBLE_EQ(w.width_s, 1.0);
  EXPECT_EQ(w.windows, 91u);  // starts 0.0, 0.1, ..., 9.0
  EXPECT_DOUBLE_EQ(w.p99_ms, 300.0);
  EXPECT_DOUBLE_EQ(w.p90_ms, 300.0);
  // Where the first worst window starts: p99 needs more than 2 slow of 200
  // (the window from 3.1 s holds 20), p90 more than 20 (the one from 3.2 s holds 40).
  EXPECT_NEAR(w.p99_at_s, 3.1, 1e-9);
  EXPECT_NEAR(w.p90_at_s, 3.2, 1e-9);
  EXPECT_EQ(w.p99_responses, 200u);  // what the worst p99 stands on
  EXPECT_EQ(w.dropped_rate, 0.0);
  EXPECT_EQ(w.dropped_count, 0u);
}

// Against brute force on random data: every window recomputed by sorting.
TEST(WorstWindows, AgreesWithSortingEveryWindow) {
  Rng rng(9);
  std::vector<RequestRecord> records;
  for (int i = 0; i < 6000; ++i) {
    const auto t = static_cast<std::int64_t>(rng.uniform() * 3000);
    const auto lat = static_cast<std::int64_t>(1 + rng.uniform() * (t > 1700 && t < 1900 ? 500 : 50));
    records.push_back(rec(t, lat, rng.uniform() < 0.02 ? Outcome::reset : Outcome::ok));
  }
  const auto w = worstWindows(records, kT0, std::chrono::seconds(3), std::chrono::seconds(1));
  double p90 = 0, p99 = 0, dropped = -1;
  std::uint64_t windows = 0, p99_responses = 0, dropped_requests = 0, dropped_count = 0;
  for (int start = 0; start + 1000 <= 3000; start += 100) {
    std::vector<std::int64_t> lat;
    std::uint64_t n = 0, d = 0;
    for (const auto& r : records) {
      const auto t = (r.intended_ns - kT0) / kMs;
      if (t < start || t >= start + 1000) continue;
      ++n;
      if (r.outcome == Outcome::reset) ++d;
      else lat.push_back(r.done_ns - r.intended_ns);
    }
    if (n == 0) continue;
    ++windows;
    p90 = std::max(p90, exactMs(lat, 90));
    if (const double v = exactMs(lat, 99); v > p99) {  // the first worst window
      p99 = v;
      p99_responses = lat.size();
    }
    if (const double rate = static_cast<double>(d) / static_cast<double>(n); rate > dropped) {
      dropped = rate;
      dropped_requests = n;
      dropped_count = d;
    }
  }
  EXPECT_EQ(w.windows, windows);
  EXPECT_DOUBLE_EQ(w.p90_ms, p90);
  EXPECT_DOUBLE_EQ(w.p99_ms, p99);
  EXPECT_DOUBLE_EQ(w.dropped_rate, dropped);
  EXPECT_EQ(w.p99_responses, p99_responses);
  EXPECT_EQ(w.dropped_requests, dropped_requests);
  EXPECT_EQ(w.dropped_count, dropped_count);
  EXPECT_GT(dropped_count, 0u);
  EXPECT_GT(w.p99_ms, 100.0);  // the slow stretch is in some window
}

TEST(WorstWindows, DropsAreCountedPerWindowAndARunShorterThanAWindowIsOneWindow) {
  std::vector<RequestRecord> records;
  for (int t = 0; t < 500; t += 10) records.push_back(rec(t, 2, t >= 200 && t < 250 ? Outcome::switch_error : Outcome::ok));
  const auto w = worstWindows(records, kT0, std::chrono::milliseconds(500), std::chrono::seconds(1));
  EXPECT_EQ(w.windows, 1u);
  EXPECT_NEAR(w.width_s, 0.5, 1e-9);
  EXPECT_NEAR(w.dropped_rate, 5.0 / 50.0, 1e-12);
  EXPECT_EQ(w.dropped_count, 5u);
  EXPECT_EQ(w.dropped_requests, 50u);
  EXPECT_EQ(w.p99_responses, 45u);  // under 100: its p99 is the slowest of them
  EXPECT_DOUBLE_EQ(w.p99_ms, 2.0);
}

TEST(WorstWindows, NoRequestsNoWindows) {
  const auto w = worstWindows({}, kT0, std::chrono::seconds(10), std::chrono::seconds(1));
  EXPECT_EQ(w.windows, 0u);
  EXPECT_EQ(w.width_s, 0.0);
}

}  // namespace
}  // namespace cutover
