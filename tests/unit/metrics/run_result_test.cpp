#include "metrics/run_result.hpp"

#include <gtest/gtest.h>

#include "tests/unit/metrics/exact_percentile.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/core/rng.hpp"

namespace cutover {
namespace {

constexpr std::int64_t kT0 = 1'000'000'000'000;  // t=0 on the records' clock
constexpr std::int64_t kMs = 1'000'000;

RequestRecord rec(std::int64_t intended_ms, std::int64_t latency_ms, Outcome o, std::uint16_t version,
                  std::int64_t late_ns = 0) {
  RequestRecord r;
  r.intended_ns = kT0 + intended_ms * kMs;
  r.sent_ns = r.intended_ns + late_ns;
  r.done_ns = r.intended_ns + latency_ms * kMs;
  r.outcome = o;
  r.version = version;
  r.status = o == Outcome::ok ? 200 : o == Outcome::app_error ? 500 : o == Outcome::switch_error ? 503 : 0;
  return r;
}

using testing::exactMs;

TEST(Summarize, HistogramPercentilesMatchSortedValuesWithinPrecision) {
  Rng rng(5);
  std::vector<RequestRecord> records;
  std::vector<std::int64_t> latencies;
  for (int i = 0; i < 20000; ++i) {
    RequestRecord r;
    r.intended_ns = kT0 + i * 100'000;
    r.sent_ns = r.intended_ns;
    const auto lat = static_cast<std::int64_t>(std::exp(std::log(1e5) + rng.uniform() * std::log(1e5)));
    r.done_ns = r.intended_ns + lat;
    r.status = 200;
    r.version = 0;
    records.push_back(r);
    latencies.push_back(lat);
  }
  const auto s = summarize(records, {"v1"}, 20000, 2.0);
  EXPECT_EQ(s.latency.count, 20000u);
  for (auto [p, got] : {std::pair{50.0, s.latency.p50_ms}, {90.0, s.latency.p90_ms}, {99.0, s.latency.p99_ms},
                        {99.9, s.latency.p999_ms}}) {
    const double want = exactMs(latencies, p);
    EXPECT_NEAR(got, want, want * 1e-3) << "p" << p;
  }
  EXPECT_DOUBLE_EQ(s.latency.max_ms, exactMs(latencies, 100));
  EXPECT_EQ(s.latency_by_version.at("v1").count, 20000u);
  EXPECT_DOUBLE_EQ(s.latency_by_version.at("v1").p99_ms, s.latency.p99_ms);
}

TEST(Summarize, CountsByOutcomeAndVersionAndLatencyPerOutcome) {
  const std::vector<RequestRecord> records = {
      rec(0, 5, Outcome::ok, 0),           rec(10, 7, Outcome::ok, 1),
      rec(20, 9, Outcome::app_error, 1),   rec(30, 2000, Outcome::timeout, kNoName),
      rec(40, 1, Outcome::switch_error, kNoName), rec(50, 3, Outcome::reset, kNoName)};
  const auto s = summarize(records, {"v1", "v2"}, 6, 1.0);
  EXPECT_EQ(s.outcomes.total(), 6u);
  EXPECT_EQ(s.outcomes.dropped(), 3u);
  EXPECT_EQ(s.by_version.at("v1").of(Outcome::ok), 1u);
  EXPECT_EQ(s.by_version.at("v2").of(Outcome::app_error), 1u);
  EXPECT_EQ(s.by_version.at("unknown").dropped(), 3u);
  EXPECT_EQ(s.latency.count, 3u);  // responses services gave: ok, ok, app_error (not the switcher's 503)
  EXPECT_DOUBLE_EQ(s.latency_by_outcome.at("timeout").max_ms, 2000.0);
  EXPECT_EQ(s.latency_by_outcome.at("ok").count, 2u);
  EXPECT_FALSE(s.latency_by_outcome.count("refused"));
  EXPECT_EQ(s.latency_by_outcome.at("switch_error").count, 1u);  // the switcher's 503: here only
  EXPECT_EQ(s.latency_by_version.count("unknown"), 0u);
}

TEST(Summarize, TimeBucketsFromT0WithCountsAndExactPercentiles) {
  std::vector<RequestRecord> records;
  // Bucket 0 (0..99 ms): 100 requests of 1..100 ms; bucket 2: one failure.
  for (int i = 0; i < 100; ++i) records.push_back(rec(i, i + 1, Outcome::ok, 0));
  records.push_back(rec(250, 4, Outcome::refused, kNoName));
  SummaryOptions o;
  o.intended = 101;
  o.length_s = 0.3;
  o.t0_ns = kT0;
  const auto s = summarize(records, {"v1"}, o);
  ASSERT_EQ(s.series.size(), 3u);
  EXPECT_DOUBLE_EQ(s.bucket_width_s, 0.1);
  EXPECT_DOUBLE_EQ(s.series[1].t_s, 0.1);
  EXPECT_EQ(s.series[0].outcomes.of(Outcome::ok), 100u);
  EXPECT_EQ(s.series[0].by_version.at("v1").total(), 100u);
  EXPECT_EQ(s.series[0].responses, 100u);
  EXPECT_DOUBLE_EQ(s.series[0].p50_ms, 50.0);
  EXPECT_DOUBLE_EQ(s.series[0].p99_ms, 99.0);
  EXPECT_EQ(s.series[1].outcomes.total(), 0u);
  EXPECT_EQ(s.series[2].outcomes.of(Outcome::refused), 1u);
  EXPECT_EQ(s.series[2].by_version.at("unknown").total(), 1u);
  EXPECT_EQ(s.series[2].responses, 0u);
}

TEST(Summarize, BucketsAreRelativeToT0AndBounded) {
  std::vector<RequestRecord> records = {rec(-50, 1, Outcome::ok, 0), rec(1000, 1, Outcome::ok, 0)};
  SummaryOptions o;
  o.t0_ns = kT0;
  o.bucket = std::chrono::milliseconds(250);
  o.max_buckets = 3;
  const auto s = summarize(records, {"v1"}, o);
  ASSERT_EQ(s.series.size(), 3u);
  EXPECT_EQ(s.series[0].outcomes.total(), 1u);  // before t0: first bucket
  EXPECT_EQ(s.series[2].outcomes.total(), 1u);  // past the bound: last bucket
  EXPECT_DOUBLE_EQ(s.series[2].t_s, 0.5);
}

TEST(Summarize, SendLatenessDistributionAndLateFraction) {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 1000; ++i) records.push_back(rec(i, 1, Outcome::ok, 0, i < 980 ? 100'000 : 20 * kMs));
  RequestRecord never;  // intended, never sent, no outcome
  never.intended_ns = kT0;
  records.push_back(never);
  const auto s = summarize(records, {"v1"}, 1001, 1.0);
  EXPECT_EQ(s.sent, 1000u);
  EXPECT_EQ(s.late_sends, 20u);
  EXPECT_EQ(s.lateness.late, 20u);
  EXPECT_DOUBLE_EQ(s.lateness.late_fraction, 0.02);
  EXPECT_NEAR(s.lateness.p50_ms, 0.1, 1e-4);
  EXPECT_NEAR(s.lateness.p99_ms, 20.0, 0.02);
  EXPECT_DOUBLE_EQ(s.lateness.max_ms, 20.0);
  EXPECT_DOUBLE_EQ(s.max_send_lateness_ms, 20.0);
  EXPECT_DOUBLE_EQ(s.achieved_rate_per_s, 1000.0);
}

TEST(Summarize, EmptyRunIsAllZeros) {
  const auto s = summarize({}, {}, 0, 0);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_TRUE(s.series.empty());
  EXPECT_EQ(s.lateness.p99_ms, 0);
  EXPECT_EQ(s.achieved_rate_per_s, 0);
}

TEST(RequestRecord, SwitcherReasonNamesRoundTrip) {
  for (std::size_t i = 1; i + 1 < kSwitcherReasonCount; ++i) {
    const auto r = static_cast<SwitcherReason>(i);
    EXPECT_EQ(switcherReasonFromName(switcherReasonName(r)), r);
  }
  EXPECT_EQ(switcherReasonFromName("brand_new_reason"), SwitcherReason::other);
  EXPECT_EQ(switcherReasonFromName(""), SwitcherReason::none);
  EXPECT_LE(sizeof(RequestRecord), 64u);
}

}  // namespace
}  // namespace cutover
