// The rollback policy of switcher::Core on a manual clock: each trigger,
// its minimum count and window, the bake window, keep_previous_for,
// rollback_impossible and manual rollback.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/switcher/core.hpp"

namespace cutover::switcher {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Instant kT0 = fromNanos(1'000'000'000);

std::vector<Event> eventsOf(Core& core, const std::string& kind) {
  std::vector<Event> out;
  for (auto& e : core.takeEvents())
    if (e.kind == kind) out.push_back(std::move(e));
  return out;
}

// blue active, then switched to green at kT0; the queue of events emptied.
Core switchedToGreen(RollbackOptions rollback, Policy policy = Policy::round_robin) {
  CoreOptions o;
  o.policy = policy;
  o.rollback = std::move(rollback);
  o.rollback.latency_eval_every = Duration{0};
  Core core(o);
  core.addBackend("blue", "blue-1", 9001, kT0 - seconds(10));
  core.addBackend("blue", "blue-2", 9002, kT0 - seconds(10));
  core.addBackend("green", "green-1", 9101, kT0 - seconds(10));
  core.addBackend("green", "green-2", 9102, kT0 - seconds(10));
  EXPECT_TRUE(core.switchTo("blue", kT0 - seconds(10)).ok);
  EXPECT_TRUE(core.switchTo("green", kT0).ok);
  core.takeEvents();
  return core;
}

// One request through the core; returns the pool that served it.
std::string request(Core& core, Instant now, Upstream outcome, Duration latency = milliseconds(1)) {
  const Route r = core.route(now);
  if (!r) return "";
  const std::string pool = core.backend(r.backend)->pool;
  core.onRequestDone(r.backend, now, outcome, latency);
  return pool;
}

RollbackOptions errorRate5() {
  RollbackOptions r;
  r.on = {RollbackTrigger::errorRate(0.05, seconds(1), 20)};
  return r;
}

TEST(RollbackPolicy, RollsBackWhenErrorRateExceedsBudget) {
  Core core = switchedToGreen(errorRate5());
  Instant now = kT0;
  // 18 ok + 2 errors = 10 % of 20: over 5 %, at exactly min_requests.
  for (int i = 0; i < 18; ++i) EXPECT_EQ(request(core, now += milliseconds(1), Upstream::response), "green");
  EXPECT_EQ(request(core, now += milliseconds(1), Upstream::server_error), "green");
  EXPECT_EQ(core.activePool(), "green");  // 19 requests: below min_requests
  EXPECT_EQ(request(core, now += milliseconds(1), Upstream::reset), "green");
  EXPECT_EQ(core.activePool(), "blue");
  const auto events = core.takeEvents();
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "rollback");
  EXPECT_EQ(events[0].at, now);
  EXPECT_EQ(events[0].pool, "blue");
  EXPECT_EQ(events[0].detail, "from green: error rate 10.0% > 5.0% over 1.000 s (2 of 20 requests)");
  EXPECT_EQ(request(core, now, Upstream::response), "blue");  // atomic
  EXPECT_FALSE(core.baking());
  EXPECT_EQ(core.previousPool(), "");
}

TEST(RollbackPolicy, ErrorRateAtTheBudgetDoesNotRollBack) {
  Core core = switchedToGreen(errorRate5());
  Instant now = kT0;
  for (int i = 0; i < 100; ++i)
    request(core, now += milliseconds(1), i % 20 == 19 ? Upstream::server_error : Upstream::response);
  EXPECT_EQ(core.activePool(), "green");  // never above 5 %, exactly 5 % at every 20th
  EXPECT_TRUE(eventsOf(core, "rollback").empty());
}

TEST(RollbackPolicy, OldErrorsLeaveTheSlidingWindow) {
  Core core = switchedToGreen(errorRate5());
  Instant now = kT0;
  for (int i = 0; i < 3; ++i) request(core, now += milliseconds(1), Upstream::server_error);
  now += milliseconds(1500);  // the three errors are out of the 1 s window
  for (int i = 0; i < 40; ++i) request(core, now += milliseconds(1), Upstream::response);
  EXPECT_EQ(core.activePool(), "green");
}

TEST(RollbackPolicy, SwitcherErrorsOfTheNewPoolCount) {
  Core core = switchedToGreen(errorRate5());
  Instant now = kT0;
  for (int i = 0; i < 18; ++i) request(core, now += milliseconds(1), Upstream::response);
  ASSERT_TRUE(core.setHealthy("green-1", false, now));
  ASSERT_TRUE(core.setHealthy("green-2", false, now));
  EXPECT_EQ(core.route(now).error, RouteError::no_backend);  // switcher 503s: 1 of 19
  EXPECT_EQ(core.activePool(), "green");
  const Route over = core.route(now);  // 2 of 20: over budget, rolled back within route()
  EXPECT_EQ(over.error, RouteError::no_backend);
  EXPECT_EQ(core.activePool(), "blue");
  EXPECT_EQ(core.poolName(over.pool), "green");  // the pool that had no backend, for x-cutover-switcher-pool
  const Route r = core.route(now);  // rolled back to blue already
  ASSERT_TRUE(r);
  EXPECT_EQ(core.backend(r.backend)->pool, "blue");
  EXPECT_EQ(core.activePool(), "blue");
}

TEST(RollbackPolicy, RollsBackWhenLatencyPercentileExceedsItsBound) {
  RollbackOptions r;
  r.on = {RollbackTrigger::latency(0.99, milliseconds(100), seconds(2), 10)};
  Core core = switchedToGreen(r);
  Instant now = kT0;
  // Nearest rank: p99 of n samples is the ceil(0.99 n)-th smallest.
  for (int i = 0; i < 199; ++i) request(core, now += milliseconds(1), Upstream::response, milliseconds(5));
  request(core, now += milliseconds(1), Upstream::response, milliseconds(300));
  request(core, now += milliseconds(1), Upstream::response, milliseconds(300));
  EXPECT_EQ(core.activePool(), "green");  // 2 slow of 201: the 199th smallest is 5 ms
  request(core, now += milliseconds(1), Upstream::response, milliseconds(300));
  EXPECT_EQ(core.activePool(), "blue");  // 3 slow of 202: the 200th is 300 ms
  const auto events = eventsOf(core, "rollback");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].detail, "from green: p99 latency 300.0 ms > 100.0 ms over 2.000 s (202 requests)");
}

TEST(RollbackPolicy, LatencyNeedsItsMinimumCount) {
  RollbackOptions r;
  r.on = {RollbackTrigger::latency(0.5, milliseconds(100), seconds(2), 5)};
  Core core = switchedToGreen(r);
  Instant now = kT0;
  for (int i = 0; i < 4; ++i) request(core, now += milliseconds(1), Upstream::response, seconds(1));
  EXPECT_EQ(core.activePool(), "green");
  request(core, now += milliseconds(1), Upstream::response, seconds(1));
  EXPECT_EQ(core.activePool(), "blue");
}

TEST(RollbackPolicy, RollsBackWhenHealthyCountFallsBelowTheFloor) {
  RollbackOptions r;
  r.on = {RollbackTrigger::healthyBelow(2)};
  Core core = switchedToGreen(r);
  ASSERT_TRUE(core.setHealthy("green-2", false, kT0 + milliseconds(40)));
  EXPECT_EQ(core.activePool(), "blue");
  const auto events = eventsOf(core, "rollback");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at, kT0 + milliseconds(40));
  EXPECT_EQ(events[0].detail, "from green: 1 healthy backends, below the floor of 2");
}

TEST(RollbackPolicy, NoRollbackAfterTheBakeWindow) {
  RollbackOptions r = errorRate5();
  r.bake = seconds(5);
  Core core = switchedToGreen(r);
  EXPECT_TRUE(core.baking());
  ASSERT_EQ(core.nextDeadline(), kT0 + seconds(5));
  core.onTimeout(kT0 + seconds(5));
  const auto passed = eventsOf(core, "bake_passed");
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_EQ(passed[0].pool, "green");
  Instant now = kT0 + seconds(5);
  for (int i = 0; i < 40; ++i) request(core, now += milliseconds(1), Upstream::server_error);
  EXPECT_EQ(core.activePool(), "green");
  EXPECT_EQ(core.previousPool(), "blue");  // still kept: a manual rollback works
  EXPECT_TRUE(core.rollback(now).ok);
  EXPECT_EQ(core.activePool(), "blue");
}

TEST(RollbackPolicy, RollbackImpossibleWhenThePreviousPoolIsGone) {
  Core core = switchedToGreen(errorRate5());
  ASSERT_TRUE(core.removeBackend("blue-1", kT0));
  ASSERT_TRUE(core.removeBackend("blue-2", kT0));
  Instant now = kT0;
  for (int i = 0; i < 20; ++i) request(core, now += milliseconds(1), Upstream::server_error);
  EXPECT_EQ(core.activePool(), "green");
  const auto events = eventsOf(core, "rollback_impossible");
  ASSERT_EQ(events.size(), 1u);  // once per bake, not per request
  EXPECT_EQ(events[0].pool, "green");
  EXPECT_EQ(events[0].detail,
            "previous pool blue has no healthy backend; trigger: error rate 100.0% > 5.0% over 1.000 s "
            "(20 of 20 requests)");
  EXPECT_FALSE(core.baking());
}

TEST(RollbackPolicy, RollbackImpossibleAfterKeepPreviousFor) {
  RollbackOptions r = errorRate5();
  r.keep_previous_for = seconds(3);
  r.bake = seconds(10);
  Core core = switchedToGreen(r);
  ASSERT_EQ(core.nextDeadline(), kT0 + seconds(3));
  core.onTimeout(kT0 + seconds(3));
  const auto released = eventsOf(core, "previous_released");
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].pool, "blue");
  EXPECT_EQ(core.previousPool(), "");
  Instant now = kT0 + seconds(3);
  for (int i = 0; i < 20; ++i) request(core, now += milliseconds(1), Upstream::timeout);
  EXPECT_EQ(core.activePool(), "green");
  const auto impossible = eventsOf(core, "rollback_impossible");
  ASSERT_EQ(impossible.size(), 1u);
  EXPECT_EQ(impossible[0].detail.rfind("no previous pool kept; trigger: error rate", 0), 0u);
}

TEST(RollbackPolicy, ManualRollback) {
  Core core = switchedToGreen(RollbackOptions{});  // no triggers: not baking
  EXPECT_FALSE(core.baking());
  const auto r = core.rollback(kT0 + seconds(1));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(core.activePool(), "blue");
  auto events = core.takeEvents();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "rollback");
  EXPECT_EQ(events[0].detail, "from green: manual");
  EXPECT_EQ(events[1].kind, "drained");  // green had nothing in flight
  EXPECT_EQ(events[1].pool, "green");
  // A rollback is not itself rolled back: nothing is kept now.
  const auto again = core.rollback(kT0 + seconds(2));
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.reason, "no previous pool kept");
  EXPECT_EQ(eventsOf(core, "rollback_impossible").size(), 1u);
}

TEST(RollbackPolicy, InFlightRequestsOfTheOldPoolAreNotSamples) {
  // Requests routed to blue before the switch complete with errors afterwards.
  CoreOptions o;
  o.rollback = errorRate5();
  Core c(o);
  c.addBackend("blue", "blue-1", 9001, kT0);
  c.addBackend("green", "green-1", 9101, kT0);
  ASSERT_TRUE(c.switchTo("blue", kT0).ok);
  std::vector<Route> held;
  for (int i = 0; i < 30; ++i) held.push_back(c.route(kT0));
  ASSERT_TRUE(c.switchTo("green", kT0 + milliseconds(1)).ok);
  for (const auto& r : held) c.onRequestDone(r.backend, kT0 + milliseconds(2), Upstream::server_error);
  EXPECT_EQ(c.activePool(), "green");
  EXPECT_TRUE(eventsOf(c, "rollback").empty());
}

TEST(RollbackPolicy, ARollbackDrainsTheFaultyPool) {
  Core core = switchedToGreen(errorRate5());
  Instant now = kT0;
  const Route slow = core.route(now);  // stays in flight on green
  for (int i = 0; i < 20; ++i) request(core, now += milliseconds(1), Upstream::server_error);
  ASSERT_EQ(core.activePool(), "blue");
  EXPECT_TRUE(core.isDraining("green"));
  core.onRequestDone(slow.backend, now + milliseconds(5), Upstream::response);
  EXPECT_FALSE(core.isDraining("green"));
  EXPECT_EQ(eventsOf(core, "drained").size(), 1u);
}

}  // namespace
}  // namespace cutover::switcher
