#include "sim/scenario/timeline.hpp"

#include <gtest/gtest.h>

namespace cutover::scenario {
namespace {

using namespace std::chrono_literals;
using scenario::Condition;
using scenario::TimelineStep;

TimelineStep timed(Duration at, std::string pool) { return {at, std::nullopt, scenario::SwitchAction{std::move(pool)}, {}, {}}; }

TimelineStep when(Condition::Kind kind, std::string pool, Duration within, Duration at = 0s) {
  Condition c;
  c.kind = kind;
  c.pool = pool;
  c.within = within;
  c.text = "test";
  return {at, c, scenario::StopAction{std::move(pool)}, {}, {}};
}

TEST(Timeline, TimedStepsFireOnceInOrder) {
  Timeline t({timed(2s, "b"), timed(1s, "a")});
  EXPECT_TRUE(t.due(500ms).empty());
  EXPECT_EQ(t.nextDeadline(500ms), 1s);
  const auto d = t.due(2s);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(std::get<scenario::SwitchAction>(d[0].action).pool, "a");
  EXPECT_TRUE(t.due(3s).empty());
  EXPECT_TRUE(t.done());
}

TEST(Timeline, DrainedFiresOnTheEventAfterArmingOnly) {
  Timeline t({when(Condition::Kind::drained, "blue", 5s, 1s)});
  t.observe("drained", "blue", 500ms);  // before arming: does not count
  EXPECT_TRUE(t.due(1s).empty());
  t.observe("drained", "green", 1200ms);  // other pool
  EXPECT_TRUE(t.due(1300ms).empty());
  t.observe("drain_timeout", "blue", 1400ms);
  const auto d = t.due(1500ms);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<scenario::StopAction>(d[0].action));
  EXPECT_TRUE(t.due(2s).empty());  // once
  EXPECT_TRUE(t.missed(10s).empty());
  EXPECT_TRUE(t.done());
}

TEST(Timeline, AMissedConditionIsReportedOnceAtItsDeadline) {
  Timeline t({when(Condition::Kind::switched, "green", 2s)});
  EXPECT_TRUE(t.missed(2s).empty());  // the deadline itself is still in time
  EXPECT_EQ(t.pending().size(), 1u);
  EXPECT_GT(*t.nextDeadline(1s), 2s);
  t.observe("switched", "green", 2500ms);  // too late
  EXPECT_TRUE(t.due(2500ms).empty());
  EXPECT_EQ(t.missed(2500ms).size(), 1u);
  EXPECT_TRUE(t.missed(3s).empty());
  EXPECT_TRUE(t.pending().empty());
}

TEST(Timeline, HealthyAsksTheCallerAndRolledBackAnyPool) {
  Timeline t({when(Condition::Kind::healthy, "green", 10s), when(Condition::Kind::rolled_back, "", 10s)});
  bool greenHealthy = false;
  const Timeline::HealthyFn healthy = [&](const std::string& p) { return p == "green" && greenHealthy; };
  EXPECT_TRUE(t.due(1s, healthy).empty());
  greenHealthy = true;
  EXPECT_EQ(t.due(2s, healthy).size(), 1u);
  t.observe("rollback", "blue", 3s);
  EXPECT_EQ(t.due(3s, healthy).size(), 1u);
  EXPECT_TRUE(t.done());
}

TEST(Timeline, NextDeadlineNeverLiesInThePast) {
  Timeline t({when(Condition::Kind::healthy, "green", 1s, 2s)});
  EXPECT_EQ(t.nextDeadline(0s), 2s);  // arming
  EXPECT_GT(*t.nextDeadline(2s), 3s - 1ms);  // then its deadline
  EXPECT_FALSE(t.nextDeadline(5s).has_value());
}

}  // namespace
}  // namespace cutover::scenario
