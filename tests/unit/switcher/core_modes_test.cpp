// switcher::Core's l4 pinning, panic routing, readiness wait and retries on
// another backend, driven with a manual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/switcher/core.hpp"

namespace cutover::switcher {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Instant kT0 = fromNanos(1'000'000'000);

std::vector<std::string> kinds(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.kind);
  return out;
}

std::vector<Event> switchEvents(Core& core) {
  std::vector<Event> out;
  for (auto& e : core.takeEvents())
    if (e.kind.rfind("backend_", 0) != 0 && e.kind != "health_changed") out.push_back(std::move(e));
  return out;
}

std::string instanceOf(const Core& core, const Route& r) {
  const auto view = core.backend(r.backend);
  return view ? view->instance : "?";
}

Core blueGreen(CoreOptions options) {
  options.policy = Policy::round_robin;
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("blue", "blue-2", 9002, kT0);
  core.addBackend("green", "green-1", 9101, kT0);
  core.addBackend("green", "green-2", 9102, kT0);
  return core;
}

// ---- l4 ----------------------------------------------------------------------------

TEST(SwitcherL4, ModeIsL7ByDefaultAndIgnoresTheConnection) {
  Core core = blueGreen({});
  EXPECT_EQ(core.options().mode, Mode::l7);
  EXPECT_EQ(modeName(Mode::l4), "l4");
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route a = core.route(kT0, 7);
  const Route b = core.route(kT0, 7);
  EXPECT_NE(a.backend, b.backend);  // round robin per request
  EXPECT_EQ(core.pinnedConnections(), 0u);
}

TEST(SwitcherL4, AConnectionStaysOnItsBackendAcrossASwitch) {
  CoreOptions options;
  options.mode = Mode::l4;
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route first = core.route(kT0, 1);
  ASSERT_TRUE(first);
  EXPECT_EQ(instanceOf(core, first), "blue-1");
  core.onRequestDone(first.backend, kT0, Upstream::response);
  // The pin counts as in flight until the connection closes.
  EXPECT_EQ(core.poolInFlight("blue"), 1u);
  EXPECT_EQ(core.pinnedConnections(), 1u);
  for (int i = 0; i < 3; ++i) {
    const Route r = core.route(kT0, 1);
    EXPECT_EQ(r.backend, first.backend);
    core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  ASSERT_TRUE(core.switchTo("green", kT0 + seconds(1)).ok);
  switchEvents(core);
  for (int i = 0; i < 3; ++i) {
    const Route r = core.route(kT0 + seconds(1), 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(instanceOf(core, r), "blue-1");  // the old pool, after the switch
    core.onRequestDone(r.backend, kT0 + seconds(1), Upstream::response);
  }
  const Route fresh = core.route(kT0 + seconds(1), 2);  // a new connection: green
  EXPECT_EQ(core.backend(fresh.backend)->pool, "green");
  core.onRequestDone(fresh.backend, kT0 + seconds(1), Upstream::response);
  EXPECT_TRUE(core.isDraining("blue"));
  EXPECT_TRUE(switchEvents(core).empty());
  core.closeConnection(1, kT0 + seconds(2));
  const auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"drained"}));
  EXPECT_EQ(events[0].pool, "blue");
  EXPECT_EQ(events[0].detail, "drain time 1.000 s");
  EXPECT_EQ(core.pinnedConnections(), 1u);  // connection 2 on green
  core.closeConnection(2, kT0 + seconds(2));
  core.closeConnection(99, kT0 + seconds(2));  // unknown: ignored
  EXPECT_EQ(core.poolInFlight("green"), 0u);
}

TEST(SwitcherL4, PinnedConnectionsHitTheDrainTimeout) {
  CoreOptions options;
  options.mode = Mode::l4;
  options.drain_timeout = seconds(3);
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route r = core.route(kT0, 1);
  core.onRequestDone(r.backend, kT0, Upstream::response);
  ASSERT_TRUE(core.switchTo("green", kT0 + seconds(1)).ok);
  switchEvents(core);
  EXPECT_EQ(core.nextDeadline(), kT0 + seconds(4));
  core.onTimeout(kT0 + seconds(4));
  EXPECT_EQ(kinds(switchEvents(core)), (std::vector<std::string>{"drain_timeout"}));
}

TEST(SwitcherL4, ARemovedPinnedBackendIsAStaleEntry) {
  CoreOptions options;
  options.mode = Mode::l4;
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route r = core.route(kT0, 5);
  core.onRequestDone(r.backend, kT0, Upstream::response);
  const std::string pinned = instanceOf(core, r);
  core.removeBackend(pinned, kT0);
  const Route stale = core.route(kT0, 5);
  EXPECT_FALSE(stale);
  EXPECT_EQ(stale.error, RouteError::pinned_backend_gone);
  EXPECT_EQ(routeErrorName(stale.error), "pinned_backend_gone");
  // The slot is held by the pin, so it is not reused underneath it.
  core.addBackend("blue", "blue-9", 9009, kT0);
  EXPECT_NE(core.findBackend("blue-9"), r.backend);
  core.closeConnection(5, kT0);
  EXPECT_EQ(core.backend(r.backend), std::nullopt);  // released with the pin
  EXPECT_EQ(core.poolInFlight("blue"), 0u);
  // An unhealthy pinned backend still gets its connection's requests.
  const Route again = core.route(kT0, 6);
  core.onRequestDone(again.backend, kT0, Upstream::response);
  core.setHealthy(instanceOf(core, again), false, kT0);
  EXPECT_EQ(core.route(kT0, 6).backend, again.backend);
}

TEST(SwitcherL4, PinsAreBoundedAndNoRetryInL4) {
  CoreOptions options;
  options.mode = Mode::l4;
  options.max_pins = 1;
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  (void)core.route(kT0, 1);
  const Route a = core.route(kT0, 2);  // past the bound: per request
  const Route b = core.route(kT0, 2);
  EXPECT_EQ(core.pinnedConnections(), 1u);
  EXPECT_NE(a.backend, b.backend);
  EXPECT_FALSE(core.mayRetry("GET", 0, true));
  EXPECT_FALSE(core.mayRetry("GET", 0, false));
}

// ---- panic -------------------------------------------------------------------------

TEST(SwitcherPanic, OffFailsFastWithNoBackend) {
  Core core = blueGreen({});
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.setHealthy("blue-1", false, kT0);
  core.setHealthy("blue-2", false, kT0);
  EXPECT_EQ(core.route(kT0).error, RouteError::no_backend);
  EXPECT_FALSE(core.panicking());
}

TEST(SwitcherPanic, RoutesAmongAllBackendsAndEndsWhenOneRecovers) {
  CoreOptions options;
  options.panic = true;
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.setHealthy("blue-1", false, kT0);
  core.setHealthy("blue-2", false, kT0);
  switchEvents(core);
  std::vector<std::string> picked;
  for (int i = 0; i < 4; ++i) {
    const Route r = core.route(kT0 + milliseconds(i));
    ASSERT_TRUE(r);
    picked.push_back(instanceOf(core, r));
    core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  EXPECT_EQ(picked, (std::vector<std::string>{"blue-1", "blue-2", "blue-1", "blue-2"}));
  EXPECT_TRUE(core.panicking());
  auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"panic"}));  // once
  EXPECT_EQ(events[0].pool, "blue");
  EXPECT_EQ(events[0].at, kT0);
  core.setHealthy("blue-2", true, kT0 + seconds(1));
  events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"panic_ended"}));
  EXPECT_EQ(events[0].at, kT0 + seconds(1));
  EXPECT_FALSE(core.panicking());
  EXPECT_EQ(instanceOf(core, core.route(kT0 + seconds(1))), "blue-2");
}

TEST(SwitcherPanic, EndsWhenAnotherPoolBecomesActiveAndNeedsBackends) {
  CoreOptions options;
  options.panic = true;
  Core core = blueGreen(options);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.setHealthy("blue-1", false, kT0);
  core.setHealthy("blue-2", false, kT0);
  ASSERT_TRUE(core.route(kT0));
  ASSERT_TRUE(core.switchTo("green", kT0 + seconds(1)).ok);
  const auto events = switchEvents(core);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, "panic_ended");
  EXPECT_EQ(events.back().pool, "blue");
  // An empty pool cannot panic.
  core.removeBackend("green-1", kT0);
  core.removeBackend("green-2", kT0);
  EXPECT_EQ(core.route(kT0).error, RouteError::no_backend);
  EXPECT_FALSE(core.panicking());
}

// ---- readiness wait ------------------------------------------------------------------

CoreOptions waiting(Duration wait) {
  CoreOptions options;
  options.readiness.wait = wait;
  return options;
}

TEST(SwitcherReadinessWait, ZeroRefusesAtOnce) {
  Core core = blueGreen({});
  core.setHealthy("green-1", false, kT0);
  core.setHealthy("green-2", false, kT0);
  const auto r = core.switchTo("green", kT0);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.pending);
  EXPECT_EQ(kinds(switchEvents(core)), (std::vector<std::string>{"switch_requested", "switch_refused"}));
}

TEST(SwitcherReadinessWait, ADeclaredEmptyPoolIsWaitedForAnUnknownOneRefused) {
  CoreOptions options = waiting(seconds(5));
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.addPool("green");  // started, nothing ready yet
  const auto r = core.switchTo("green", kT0 + seconds(1));
  EXPECT_TRUE(r.pending);
  EXPECT_NE(r.reason.find("has no backend"), std::string::npos) << r.reason;
  core.addBackend("green", "green-1", 9101, kT0 + seconds(2), true);
  EXPECT_EQ(core.activePool(), "green");  // the gate held the moment its backend came
  const auto unknown = core.switchTo("purple", kT0 + seconds(3));
  EXPECT_FALSE(unknown.ok);
  EXPECT_FALSE(unknown.pending);
  EXPECT_NE(unknown.reason.find("unknown pool"), std::string::npos);
}

// `all` means every declared instance: with two declared, the first one
// ready does not open the gate (the lesson switch-with-readiness-gate).
TEST(SwitcherReadinessWait, AllWaitsForEveryDeclaredInstanceNotOnlyThoseAddedSoFar) {
  CoreOptions options = waiting(seconds(5));
  options.readiness.kind = ReadinessGate::Kind::all;
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.addPool("green", 2);
  EXPECT_TRUE(core.switchTo("green", kT0 + seconds(1)).pending);
  core.addBackend("green", "green-1", 9101, kT0 + seconds(2), true);
  EXPECT_EQ(core.activePool(), "blue");  // 1 of 2: still pending
  EXPECT_EQ(core.pendingPool(), "green");
  core.addBackend("green", "green-2", 9102, kT0 + seconds(3), true);
  EXPECT_EQ(core.activePool(), "green");
  // Scaled up to 3: a switch back and forth now needs the third as well.
  core.addPool("green", 3);
  ASSERT_TRUE(core.switchTo("blue", kT0 + seconds(4)).ok);
  const auto r = core.switchTo("green", kT0 + seconds(4));
  EXPECT_TRUE(r.pending);
  EXPECT_NE(r.reason.find("2 of 3"), std::string::npos) << r.reason;
}

TEST(SwitcherReadinessWait, RequireZeroIsNoGate) {
  CoreOptions options;
  options.readiness.count = 0;
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.addPool("green");
  EXPECT_TRUE(core.switchTo("green", kT0 + seconds(1)).ok);  // nothing ready: switched anyway
  const auto route = core.route(kT0 + seconds(1));
  EXPECT_FALSE(route);
  EXPECT_EQ(route.error, RouteError::no_backend);  // the client gets a marked 503
}

TEST(SwitcherReadinessWait, SwitchesTheMomentTheGateHolds) {
  Core core = blueGreen(waiting(seconds(5)));
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.setHealthy("green-1", false, kT0);
  core.setHealthy("green-2", false, kT0);
  switchEvents(core);
  const auto r = core.switchTo("green", kT0 + seconds(1));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.pending);
  EXPECT_NE(r.reason.find("0 healthy"), std::string::npos);
  EXPECT_EQ(core.pendingPool(), "green");
  EXPECT_EQ(core.activePool(), "blue");
  EXPECT_EQ(core.nextDeadline(), kT0 + seconds(6));
  auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"switch_requested", "switch_pending"}));
  EXPECT_NE(events[1].detail.find("waiting up to 5.000 s"), std::string::npos);
  core.setHealthy("green-2", true, kT0 + milliseconds(2500));
  EXPECT_EQ(core.activePool(), "green");
  EXPECT_EQ(core.pendingPool(), "");
  events = switchEvents(core);
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "switched");
  EXPECT_EQ(events[0].at, kT0 + milliseconds(2500));
  EXPECT_EQ(events[0].detail, "from blue (readiness gate met after 1.500 s)");
  core.onTimeout(kT0 + seconds(6));  // the old deadline: nothing
  for (const auto& e : switchEvents(core)) EXPECT_NE(e.kind, "switch_refused");
}

TEST(SwitcherReadinessWait, RefusedAtTheDeadline) {
  Core core = blueGreen(waiting(seconds(2)));
  core.setHealthy("green-1", false, kT0);
  core.setHealthy("green-2", false, kT0);
  switchEvents(core);
  EXPECT_TRUE(core.switchTo("green", kT0).pending);
  switchEvents(core);
  ASSERT_EQ(core.nextDeadline(), kT0 + seconds(2));
  core.onTimeout(kT0 + milliseconds(1999));
  EXPECT_TRUE(switchEvents(core).empty());
  core.onTimeout(kT0 + seconds(2));
  const auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"switch_refused"}));
  EXPECT_EQ(events[0].pool, "green");
  EXPECT_EQ(events[0].detail.rfind("readiness gate still not met after 2.000 s", 0), 0u) << events[0].detail;
  EXPECT_EQ(core.activePool(), "");
  EXPECT_EQ(core.nextDeadline(), std::nullopt);
  core.setHealthy("green-1", true, kT0 + seconds(3));  // too late: no switch
  EXPECT_EQ(core.activePool(), "");
}

TEST(SwitcherReadinessWait, ALaterSwitchOrRollbackCancelsIt) {
  Core core = blueGreen(waiting(seconds(5)));
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.setHealthy("green-1", false, kT0);
  core.setHealthy("green-2", false, kT0);
  switchEvents(core);
  EXPECT_TRUE(core.switchTo("green", kT0).pending);
  ASSERT_TRUE(core.switchTo("blue", kT0 + seconds(1)).ok);
  auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"switch_requested", "switch_pending", "switch_requested",
                                                     "switch_refused", "switched"}));
  EXPECT_EQ(events[3].pool, "green");
  EXPECT_EQ(events[3].detail, "cancelled by a later switch to blue");
  core.setHealthy("green-1", true, kT0 + seconds(2));
  EXPECT_EQ(core.activePool(), "blue");

  core.setHealthy("green-1", false, kT0 + seconds(2));
  EXPECT_TRUE(core.switchTo("green", kT0 + seconds(2)).pending);
  switchEvents(core);
  (void)core.rollback(kT0 + seconds(3));
  events = switchEvents(core);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].kind, "switch_refused");
  EXPECT_EQ(events[0].detail, "cancelled by a rollback");
  EXPECT_EQ(core.pendingPool(), "");
}

TEST(SwitcherReadinessWait, AnAddedBackendCanOpenTheGate) {
  Core core(waiting(seconds(5)));
  core.addBackend("blue", "blue-1", 9001, kT0, false);
  EXPECT_TRUE(core.switchTo("blue", kT0).pending);
  core.addBackend("blue", "blue-2", 9002, kT0 + seconds(1), true);
  EXPECT_EQ(core.activePool(), "blue");
}

// ---- retry ---------------------------------------------------------------------------

TEST(SwitcherRetry, RulesForMethodsAttemptsAndSwitch) {
  Core core = blueGreen({});
  EXPECT_TRUE(core.options().retry.enabled);
  EXPECT_EQ(core.options().retry.attempts, 1u);
  for (const char* m : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}) EXPECT_TRUE(core.mayRetry(m, 0, true)) << m;
  // Sent: a non-idempotent request the backend may have acted on is not sent twice.
  for (const char* m : {"POST", "PATCH", "CONNECT", "get"}) EXPECT_FALSE(core.mayRetry(m, 0, true)) << m;
  // Never sent (the connect failed): any method.
  for (const char* m : {"GET", "POST", "PATCH"}) EXPECT_TRUE(core.mayRetry(m, 0, false)) << m;
  EXPECT_FALSE(core.mayRetry("GET", 1, true));  // once
  EXPECT_FALSE(core.mayRetry("POST", 1, false));
  CoreOptions off;
  off.retry.enabled = false;
  EXPECT_FALSE(Core(off).mayRetry("GET", 0, true));
  EXPECT_FALSE(Core(off).mayRetry("POST", 0, false));
  CoreOptions twice;
  twice.retry.attempts = 2;
  EXPECT_TRUE(Core(twice).mayRetry("GET", 1, true));
}

TEST(SwitcherRetry, TheStaleConnectionRetryIsOnceForAnIdempotentRequestOnAReusedConnection) {
  using A = Core::FailedAttempt;
  const A stale{.reused = true};
  for (const char* m : {"GET", "HEAD", "PUT", "DELETE"}) EXPECT_TRUE(Core::mayRetryStale(m, stale)) << m;
  for (const char* m : {"POST", "PATCH"}) EXPECT_FALSE(Core::mayRetryStale(m, stale)) << m;
  EXPECT_FALSE(Core::mayRetryStale("GET", A{}));  // a fresh connection failed: not the keep-alive race
  EXPECT_FALSE(Core::mayRetryStale("GET", {.reused = true, .stale_retried = true}));  // once
  EXPECT_FALSE(Core::mayRetryStale("GET", {.reused = true, .got_bytes = true}));
  EXPECT_FALSE(Core::mayRetryStale("GET", {.reused = true, .timed_out = true}));
  EXPECT_FALSE(Core::mayRetryStale("GET", {.reused = true, .past_deadline = true}));
  // Not switcher.retry's: it holds with the retry on another backend off.
  CoreOptions off;
  off.retry.enabled = false;
  EXPECT_FALSE(Core(off).mayRetry("GET", 0, true));
  EXPECT_TRUE(Core::mayRetryStale("GET", stale));
}

TEST(SwitcherRetry, RouteRetryPicksAnotherRoutableBackendOfTheSamePool) {
  Core core = blueGreen({});
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route first = core.route(kT0);
  ASSERT_EQ(instanceOf(core, first), "blue-1");
  // A switch between the attempt and the retry: the retry stays in blue.
  ASSERT_TRUE(core.switchTo("green", kT0).ok);
  const Route retry = core.routeRetry(kT0, first.backend);
  ASSERT_TRUE(retry);
  EXPECT_EQ(instanceOf(core, retry), "blue-2");
  core.onRequestDone(first.backend, kT0, Upstream::connect_failed);
  EXPECT_EQ(core.poolInFlight("blue"), 1u);
  core.onRequestDone(retry.backend, kT0, Upstream::response);
  EXPECT_EQ(core.poolInFlight("blue"), 0u);

  // No other routable backend: no retry.
  core.setHealthy("green-2", false, kT0);
  const Route g = core.route(kT0);
  ASSERT_EQ(instanceOf(core, g), "green-1");
  const Route none = core.routeRetry(kT0, g.backend);
  EXPECT_FALSE(none);
  EXPECT_EQ(none.error, RouteError::no_backend);
  EXPECT_FALSE(core.routeRetry(kT0, kNoBackend));
  core.onRequestDone(g.backend, kT0, Upstream::reset);
  EXPECT_EQ(core.poolInFlight("green"), 0u);
}

}  // namespace
}  // namespace cutover::switcher
