// The "in any 1 s window" expectations: loaded with their units (scaled by
// --time-scale like every duration), judged against summary.worst_window,
// and a run with no window at all is not measured (invalid), not passed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/scenario/loader.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::scenario {
namespace {

using ::testing::HasSubstr;

const char* kWindows = R"(name: windows
duration: 10s
services: { blue: { version: v1 } }
load:
  - { rate: 100/s }
timeline:
  - { at: 0s, start: blue }
expect:
  p99: "< 100ms"
  p99_in_any_1s: "< 250ms"
  p90_in_any_1s: "< 50ms"
  dropped_rate_in_any_1s: "< 5%"
)";

RunResult withWorstWindow(double p90, double p99, double dropped) {
  RunResult r;
  r.verdict.valid = true;
  r.summary.sent = 1000;
  r.summary.latency.count = 1000;
  r.summary.latency.p99_ms = 30;
  r.summary.worst_window.width_s = 1;
  r.summary.worst_window.windows = 91;
  r.summary.worst_window.latency_windows = 91;
  r.summary.worst_window.p90_ms = p90;
  r.summary.worst_window.p99_ms = p99;
  r.summary.worst_window.dropped_rate = dropped;
  return r;
}

TEST(WindowExpectations, LoadWithTheirUnitsAndScale) {
  const auto out = loadScenarioText(kWindows, "w.yaml");
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto& m = out.scenario->expect.measures;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].key, "p90_in_any_1s");
  EXPECT_EQ(m[1].measure, "summary.worst_window.p90_ms");
  EXPECT_DOUBLE_EQ(m[2].bound.value, 250.0);
  EXPECT_DOUBLE_EQ(m[3].bound.value, 0.05);
  LoadOptions half;
  half.time_scale = 0.5;
  const auto scaled = loadScenarioText(kWindows, "w.yaml", half);
  ASSERT_TRUE(scaled.errors.empty());
  EXPECT_DOUBLE_EQ(scaled.scenario->expect.measures[2].bound.value, 125.0);
  EXPECT_DOUBLE_EQ(scaled.scenario->expect.measures[3].bound.value, 0.05);  // a rate: not scaled
}

TEST(WindowExpectations, OneSlowSecondFailsThoughTheWholeRunP99Holds) {
  const auto s = *loadScenarioText(kWindows, "w.yaml").scenario;
  auto ok = withWorstWindow(20, 200, 0.01);
  judge(s, ok);
  EXPECT_TRUE(ok.verdict.passed) << ::testing::PrintToString(ok.verdict.failures);
  auto slow = withWorstWindow(20, 400, 0.01);
  judge(s, slow);
  EXPECT_FALSE(slow.verdict.passed);
  ASSERT_EQ(slow.verdict.failures.size(), 1u);
  EXPECT_THAT(slow.verdict.failures[0], HasSubstr("p99_in_any_1s: measured 400 ms, expected < 250ms"));
  auto drops = withWorstWindow(20, 200, 0.2);
  judge(s, drops);
  ASSERT_EQ(drops.verdict.failures.size(), 1u);
  EXPECT_THAT(drops.verdict.failures[0], HasSubstr("dropped_rate_in_any_1s"));
}

TEST(WindowExpectations, NoWindowIsNotMeasuredAndMakesTheRunInvalid) {
  const auto s = *loadScenarioText(kWindows, "w.yaml").scenario;
  RunResult r;
  r.verdict.valid = true;
  judge(s, r);
  EXPECT_FALSE(r.verdict.valid);
}

// Every request went out and none got a service's response (all timed out,
// or all were the switcher's own errors): there is no latency, not 0 ms, and
// a latency bound fails; the run itself did its work (valid).
TEST(WindowExpectations, NoResponseFromAServiceFailsTheLatencyBoundsNotPassesThem) {
  const auto s = *loadScenarioText(kWindows, "w.yaml").scenario;
  auto r = withWorstWindow(0, 0, 1.0);
  r.summary.latency = {};
  r.summary.latency.p99_ms = 0;
  r.summary.worst_window.latency_windows = 0;
  r.summary.outcomes.n[static_cast<std::size_t>(Outcome::timeout)] = 1000;
  judge(s, r);
  EXPECT_TRUE(r.verdict.valid) << ::testing::PrintToString(r.verdict.invalid_reasons);
  EXPECT_FALSE(r.verdict.passed);
  const auto failures = ::testing::PrintToString(r.verdict.failures);
  EXPECT_THAT(failures, HasSubstr("p99: no latency to measure: no request got a response from a service (1000 dropped)"));
  EXPECT_THAT(failures, HasSubstr("p99_in_any_1s: no latency to measure"));
  EXPECT_THAT(failures, HasSubstr("p90_in_any_1s: no latency to measure"));
  EXPECT_THAT(failures, HasSubstr("dropped_rate_in_any_1s: measured 1"));
}

}  // namespace
}  // namespace cutover::scenario
