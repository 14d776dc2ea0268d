#include "metrics/calibration.hpp"

#include <gtest/gtest.h>

namespace cutover {
namespace {

RunResult result(std::uint64_t dropped, double p99, std::optional<double> rollback, bool valid = true) {
  RunResult r;
  r.verdict.valid = valid;
  for (std::uint64_t i = 0; i < dropped; ++i) r.summary.outcomes.add(Outcome::reset);
  r.summary.outcomes.add(Outcome::ok);
  r.summary.latency.count = 1;
  r.summary.latency.p50_ms = p99 / 4;
  r.summary.latency.p99_ms = p99;
  if (rollback) r.measures["rollback_detect_latency_ms"] = *rollback;
  return r;
}

TEST(Calibration, DroppedAgreeOnlyWhenEqualAndBothRunsValid) {
  auto row = calibrate("kill", result(40, 220, std::nullopt), result(40, 200, std::nullopt), 1000);
  EXPECT_TRUE(row.dropped_agrees);
  EXPECT_EQ(*row.dropped.difference(), 0.0);
  EXPECT_DOUBLE_EQ(*row.p99_ms.difference(), 20.0);
  EXPECT_FALSE(row.rollback_agrees.has_value());  // neither rolled back: nothing to compare
  EXPECT_FALSE(calibrate("kill", result(41, 220, std::nullopt), result(40, 200, std::nullopt), 1000).dropped_agrees);
  EXPECT_FALSE(
      calibrate("kill", result(40, 220, std::nullopt, false), result(40, 200, std::nullopt), 1000).dropped_agrees);
}

TEST(Calibration, RollbackDetectWithinOneHealthCheckInterval) {
  EXPECT_TRUE(*calibrate("g", result(0, 30, 99.0), result(0, 19, 106.9), 500).rollback_agrees);
  EXPECT_TRUE(*calibrate("g", result(0, 30, 600.0), result(0, 19, 100.0), 500).rollback_agrees);  // 500: the bound
  EXPECT_FALSE(*calibrate("g", result(0, 30, 700.0), result(0, 19, 100.0), 500).rollback_agrees);
  // One mode rolled back, the other did not: they disagree.
  const auto one = calibrate("g", result(0, 30, 99.0), result(0, 19, std::nullopt), 500);
  ASSERT_TRUE(one.rollback_agrees.has_value());
  EXPECT_FALSE(*one.rollback_agrees);
  EXPECT_FALSE(one.rollback_detect_ms.difference().has_value());
}

TEST(Calibration, NoResponsesMeansNoLatencyToCompare) {
  RunResult empty;
  empty.verdict.valid = true;
  const auto row = calibrate("x", empty, result(0, 10, std::nullopt), 1000);
  EXPECT_FALSE(row.p99_ms.live.has_value());
  EXPECT_FALSE(row.p99_ms.difference().has_value());
}

}  // namespace
}  // namespace cutover
