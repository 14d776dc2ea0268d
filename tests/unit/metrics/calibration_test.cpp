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

TimedEvent ev(double t, std::string source, std::string kind, std::string target) {
  return {t, std::move(source), std::move(kind), std::move(target), ""};
}

// Slip: the latest live timeline step or SIGKILL against the same event of the
// simulation, matched in order; other events (a service's exit, the
// switcher's own) do not count, and an unmatched event is skipped.
TEST(Calibration, LiveSlipIsTheLatestDecidingEventAgainstTheSimulation) {
  const std::vector<TimedEvent> sim = {ev(2.0125, "timeline", "stop", "blue"), ev(3.0125, "runner", "killed", "blue-1"),
                                       ev(3.0125, "runner", "killed", "blue-2"), ev(3.0125, "service", "exited", "blue-1")};
  std::vector<TimedEvent> live = {ev(2.0128, "timeline", "stop", "blue"), ev(3.0151, "runner", "killed", "blue-1"),
                                  ev(3.0300, "runner", "killed", "blue-2"), ev(3.5, "service", "exited", "blue-1"),
                                  ev(4.0, "timeline", "heal", "green")};
  EXPECT_NEAR(stepSlipMs(live, sim), 17.5, 1e-9);
  live[2].t_s = 3.0120;  // early is not slip
  EXPECT_NEAR(stepSlipMs(live, sim), 2.6, 1e-9);
  // The second stop of a pool is matched with the second in the simulation.
  const std::vector<TimedEvent> sim2 = {ev(1, "timeline", "stop", "blue"), ev(2, "timeline", "stop", "blue")};
  EXPECT_NEAR(stepSlipMs({ev(1.001, "timeline", "stop", "blue"), ev(2.02, "timeline", "stop", "blue")}, sim2), 20, 1e-9);
  EXPECT_EQ(stepSlipMs({}, sim2), 0);

  // The row: the larger of step slip and the live load generator's latest send.
  RunResult l = result(20, 1500, std::nullopt), s = result(20, 1500, std::nullopt);
  l.events = live;
  s.events = sim;
  l.summary.max_send_lateness_ms = 1.5;
  EXPECT_NEAR(calibrate("t", l, s, 1000).live_slip_ms, 2.6, 1e-9);
  l.summary.max_send_lateness_ms = 14;
  EXPECT_NEAR(calibrate("t", l, s, 1000).live_slip_ms, 14, 1e-9);
}

}  // namespace
}  // namespace cutover
