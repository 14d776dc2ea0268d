// Active health checks and passive outlier ejection in switcher::Core, on a
// manual clock: the Core says when a check is due, the test plays the shell.
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

std::vector<StartHealthCheck> checks(Core& core) {
  std::vector<StartHealthCheck> out;
  while (auto a = core.pollAction()) out.push_back(std::get<StartHealthCheck>(*a));
  return out;
}

CoreOptions checked(Duration jitter = Duration{0}) {
  CoreOptions o;
  o.health_check.enabled = true;
  o.health_check.interval = milliseconds(100);
  o.health_check.jitter = jitter;
  o.health_check.healthy_threshold = 2;
  o.health_check.unhealthy_threshold = 3;
  return o;
}

bool healthy(const Core& core, const std::string& instance) {
  return core.backend(*core.findBackend(instance))->healthy;
}

// Runs one round: fires the timer at its deadline, answers every due check.
Instant round(Core& core, bool passed, const std::string& detail = "") {
  const auto at = core.nextDeadline();
  EXPECT_TRUE(at.has_value());
  core.onTimeout(*at);
  for (const auto& c : checks(core)) core.onHealthCheckResult(c.backend, c.check, passed, *at, detail);
  return *at;
}

TEST(HealthCheck, DefaultsAreDocumentedAndOff) {
  const HealthCheckOptions d;
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.path, "/health");
  EXPECT_EQ(d.interval, seconds(1));
  EXPECT_EQ(d.timeout, milliseconds(500));
  EXPECT_EQ(d.healthy_threshold, 2u);
  EXPECT_EQ(d.unhealthy_threshold, 3u);
  Core core;  // checks off: no deadline, no action
  core.addBackend("blue", "blue-1", 9001, kT0);
  EXPECT_FALSE(core.nextDeadline());
  core.onTimeout(kT0 + seconds(5));
  EXPECT_FALSE(core.pollAction());
}

TEST(HealthCheck, FirstCheckIsDueAtOnceThenEveryInterval) {
  Core core(checked());
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_EQ(core.nextDeadline(), kT0);
  core.onTimeout(kT0);
  auto due = checks(core);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].port, 9001);
  EXPECT_EQ(due[0].instance, "blue-1");
  // At most one check in flight: no deadline and no second check meanwhile.
  EXPECT_FALSE(core.nextDeadline());
  core.onTimeout(kT0 + seconds(1));
  EXPECT_TRUE(checks(core).empty());
  core.onHealthCheckResult(due[0].backend, due[0].check, true, kT0 + milliseconds(3));
  EXPECT_EQ(core.nextDeadline(), kT0 + milliseconds(103));  // interval after the result
}

TEST(HealthCheck, JitterComesFromTheRngAndStaysInRange) {
  std::vector<Instant> first;
  for (int run = 0; run < 2; ++run) {
    Core core(checked(milliseconds(50)), Rng(7));
    for (int i = 0; i < 8; ++i)
      core.addBackend("blue", "blue-" + std::to_string(i), static_cast<std::uint16_t>(9000 + i), kT0);
    const auto next = core.nextDeadline();
    ASSERT_TRUE(next);
    EXPECT_GE(*next, kT0);
    EXPECT_LT(*next, kT0 + milliseconds(50));
    first.push_back(*next);
  }
  EXPECT_EQ(first[0], first[1]);  // same seed, same schedule
}

TEST(HealthCheck, UnhealthyAfterExactlyUnhealthyThresholdFailures) {
  Core core(checked());
  core.addBackend("blue", "blue-1", 9001, kT0);
  round(core, false, "status 503");
  round(core, false, "status 503");
  EXPECT_TRUE(healthy(core, "blue-1"));
  EXPECT_TRUE(eventsOf(core, "health_changed").empty());
  const Instant at = round(core, false, "timeout");
  EXPECT_FALSE(healthy(core, "blue-1"));
  const auto changed = eventsOf(core, "health_changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].at, at);
  EXPECT_EQ(changed[0].pool, "blue");
  EXPECT_EQ(changed[0].detail, "blue-1 unhealthy: 3 checks failed in a row (last: timeout)");
}

TEST(HealthCheck, HealthyAfterExactlyHealthyThresholdPasses) {
  Core core(checked());
  core.addBackend("green", "green-1", 9101, kT0, /*healthy=*/false);
  round(core, true);
  EXPECT_FALSE(healthy(core, "green-1"));
  round(core, true);
  EXPECT_TRUE(healthy(core, "green-1"));
  const auto changed = eventsOf(core, "health_changed");
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].detail, "green-1 healthy: 2 checks passed in a row");
}

TEST(HealthCheck, FlappingResultsKeepTheState) {
  Core core(checked());
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("green", "green-1", 9101, kT0, false);
  for (int i = 0; i < 30; ++i) round(core, i % 2 == 0);
  EXPECT_TRUE(healthy(core, "blue-1"));
  EXPECT_FALSE(healthy(core, "green-1"));
  EXPECT_TRUE(eventsOf(core, "health_changed").empty());
}

TEST(HealthCheck, UnhealthyBackendLeavesRoutingAndComesBack) {
  Core core(checked());
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  for (int i = 0; i < 3; ++i) round(core, false);
  EXPECT_EQ(core.route(kT0 + seconds(1)).error, RouteError::no_backend);
  for (int i = 0; i < 2; ++i) round(core, true);
  EXPECT_TRUE(core.route(kT0 + seconds(2)));
}

TEST(HealthCheck, ReadinessGateUsesCheckedHealth) {
  CoreOptions o = checked();
  o.readiness.kind = ReadinessGate::Kind::all;
  Core core(o);
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("green", "green-1", 9101, kT0, false);
  core.addBackend("green", "green-2", 9102, kT0, false);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  EXPECT_FALSE(core.switchTo("green", kT0).ok);
  round(core, true);
  round(core, true);
  EXPECT_TRUE(core.switchTo("green", kT0 + seconds(1)).ok);
}

TEST(HealthCheck, ResultOfARemovedOrReplacedBackendIsIgnored) {
  Core core(checked());
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.onTimeout(kT0);
  const auto stale = checks(core);
  ASSERT_EQ(stale.size(), 1u);
  core.addBackend("blue", "blue-1", 9005, kT0, false);  // replaced (same instance, new port)
  core.onHealthCheckResult(stale[0].backend, stale[0].check, true, kT0);
  core.onHealthCheckResult(stale[0].backend, stale[0].check, true, kT0);
  EXPECT_FALSE(healthy(core, "blue-1"));
  core.onHealthCheckResult(stale[0].backend, 0, true, kT0);  // never a valid id
  core.onHealthCheckResult(kNoBackend, 1, true, kT0);
  EXPECT_FALSE(healthy(core, "blue-1"));
}

// ---- outlier ejection --------------------------------------------------------------

CoreOptions outliers() {
  CoreOptions o;
  o.policy = Policy::round_robin;
  o.outlier.consecutive_5xx = 3;
  o.outlier.ejection = seconds(1);
  o.outlier.max_ejection = milliseconds(2500);
  o.outlier.max_ejection_percent = 50;
  return o;
}

// Sends n requests to `instance` (round robin over the pool) with `outcome`.
void hit(Core& core, const std::string& instance, int n, Upstream outcome, Instant now) {
  int sent = 0;
  for (int guard = 0; sent < n && guard < 100; ++guard) {
    const Route r = core.route(now);
    ASSERT_TRUE(r);
    const bool target = core.backend(r.backend)->instance == instance;
    core.onRequestDone(r.backend, now, target ? outcome : Upstream::response);
    sent += target ? 1 : 0;
  }
  ASSERT_EQ(sent, n);
}

TEST(OutlierEjection, ConsecutiveFailuresEjectAndTheTimeGrowsCapped) {
  Core core(outliers());
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("blue", "blue-2", 9002, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.takeEvents();
  hit(core, "blue-1", 2, Upstream::server_error, kT0);
  hit(core, "blue-1", 1, Upstream::response, kT0);  // a success resets the count
  hit(core, "blue-1", 2, Upstream::connect_failed, kT0);
  EXPECT_FALSE(core.backend(*core.findBackend("blue-1"))->ejected);
  hit(core, "blue-1", 1, Upstream::reset, kT0);
  auto ejected = eventsOf(core, "ejected");
  ASSERT_EQ(ejected.size(), 1u);
  EXPECT_EQ(ejected[0].detail, "blue-1 for 1.000 s after 3 failures in a row (ejection 1)");
  for (int i = 0; i < 4; ++i) {  // every request now goes to blue-2
    const Route r = core.route(kT0);
    EXPECT_EQ(core.backend(r.backend)->instance, "blue-2");
    core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  ASSERT_EQ(core.nextDeadline(), kT0 + seconds(1));
  core.onTimeout(kT0 + seconds(1));
  EXPECT_EQ(eventsOf(core, "unejected").size(), 1u);
  const std::vector<std::string> expected = {"2.000 s", "2.500 s", "2.500 s"};  // 2x, then capped
  Instant now = kT0 + seconds(1);
  for (const auto& length : expected) {
    hit(core, "blue-1", 3, Upstream::timeout, now);
    ejected = eventsOf(core, "ejected");
    ASSERT_EQ(ejected.size(), 1u);
    EXPECT_NE(ejected[0].detail.find("for " + length), std::string::npos) << ejected[0].detail;
    now = *core.nextDeadline();
    core.onTimeout(now);
  }
  EXPECT_EQ(core.backend(*core.findBackend("blue-1"))->times_ejected, 4u);
}

TEST(OutlierEjection, MaxEjectionPercentKeepsPartOfThePool) {
  CoreOptions o = outliers();
  o.outlier.max_ejection_percent = 50;
  Core core(o);
  for (int i = 1; i <= 4; ++i)
    core.addBackend("blue", "blue-" + std::to_string(i), static_cast<std::uint16_t>(9000 + i), kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  for (int i = 0; i < 12; ++i) {  // every backend fails 3 times in a row
    const Route r = core.route(kT0);
    ASSERT_TRUE(r);
    core.onRequestDone(r.backend, kT0, Upstream::server_error);
  }
  EXPECT_EQ(eventsOf(core, "ejected").size(), 2u);  // 50 % of 4
  EXPECT_EQ(core.healthyCount("blue"), 2u);
}

TEST(OutlierEjection, OneBackendMayAlwaysBeEjected) {
  CoreOptions o = outliers();
  o.outlier.max_ejection_percent = 10;
  Core core(o);
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("blue", "blue-2", 9002, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  for (int i = 0; i < 12; ++i) {
    const Route r = core.route(kT0);
    ASSERT_TRUE(r);
    core.onRequestDone(r.backend, kT0, Upstream::server_error);
  }
  EXPECT_EQ(eventsOf(core, "ejected").size(), 1u);
}

TEST(OutlierEjection, OffByDefaultAndCancelledDoesNotCount) {
  Core core;
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  for (int i = 0; i < 50; ++i) {
    const Route r = core.route(kT0);
    core.onRequestDone(r.backend, kT0, Upstream::server_error);
  }
  EXPECT_TRUE(eventsOf(core, "ejected").empty());
  Core counted(outliers());
  counted.addBackend("blue", "blue-1", 9001, kT0);
  counted.addBackend("blue", "blue-2", 9002, kT0);
  ASSERT_TRUE(counted.switchTo("blue", kT0).ok);
  hit(counted, "blue-1", 2, Upstream::server_error, kT0);
  hit(counted, "blue-1", 5, Upstream::cancelled, kT0);
  EXPECT_TRUE(eventsOf(counted, "ejected").empty());
  hit(counted, "blue-1", 1, Upstream::server_error, kT0);
  EXPECT_EQ(eventsOf(counted, "ejected").size(), 1u);
}

}  // namespace
}  // namespace cutover::switcher
