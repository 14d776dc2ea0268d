// Model tests for capacity, health modes, the faults added to the control
// channel, warm-up and per-path overrides: a manual clock, asserted actions.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "fake-services/behaviour.hpp"
#include "tests/unit/fake-services/behaviour_support.hpp"

namespace cutover::service {
namespace {

using testing::drain;
using testing::names;

constexpr Instant kT0 = fromNanos(5'000'000'000);



using Names = std::vector<std::string>;

BehaviourSpec fixedSpec(Duration latency) {
  BehaviourSpec spec;
  spec.latency.distribution = LatencyDistribution::fixed;
  spec.latency.value = latency;
  return spec;
}

Behaviour readyAt(const BehaviourSpec& spec, Instant t = kT0) {
  Behaviour b(spec, Rng(3), t);
  b.onTimeout(t);
  drain(b);
  return b;
}

// --- capacity ---------------------------------------------------------------

TEST(BehaviourCapacity, RejectBeyondMaxInFlightWithOverflowStatus) {
  BehaviourSpec spec = fixedSpec(10ms);
  spec.capacity.max_in_flight = 2;
  spec.capacity.overflow = Overflow::reject;
  spec.capacity.overflow_status = 429;
  Behaviour b = readyAt(spec);
  const auto p1 = b.planRequest(kT0);
  const auto p2 = b.planRequest(kT0);
  const auto p3 = b.planRequest(kT0);
  EXPECT_EQ(p1.start, Start::now);
  EXPECT_EQ(p2.start, Start::now);
  EXPECT_EQ(p3.start, Start::reject);
  EXPECT_EQ(p3.status, 429);
  EXPECT_EQ(p3.service_time, Duration{0});
  EXPECT_EQ(b.inFlight(), 2u);  // a rejected request is never in flight
  b.handle(RequestFinished{p1.id}, kT0 + 10ms);
  EXPECT_EQ(b.planRequest(kT0 + 10ms).start, Start::now);
  EXPECT_TRUE(names(drain(b)).empty());
}

TEST(BehaviourCapacity, QueueStartsWaitersInOrderAndRejectsWhenFull) {
  BehaviourSpec spec = fixedSpec(10ms);
  spec.capacity.max_in_flight = 1;
  spec.capacity.overflow = Overflow::queue;
  spec.capacity.queue_length = 2;
  Behaviour b = readyAt(spec);
  const auto p1 = b.planRequest(kT0);
  const auto q1 = b.planRequest(kT0);
  const auto q2 = b.planRequest(kT0);
  const auto over = b.planRequest(kT0);
  EXPECT_EQ(p1.start, Start::now);
  EXPECT_EQ(q1.start, Start::queued);
  EXPECT_EQ(q2.start, Start::queued);
  EXPECT_EQ(over.start, Start::reject);
  EXPECT_EQ(over.status, 503);
  EXPECT_EQ(b.inFlight(), 3u);
  EXPECT_EQ(b.queued(), 2u);

  b.handle(RequestFinished{p1.id}, kT0 + 10ms);
  auto actions = drain(b);
  ASSERT_EQ(names(actions), (Names{"start-request"}));
  EXPECT_EQ(std::get<StartRequest>(actions[0]).id, q1.id);
  // q2's connection dies while it waits: it leaves the queue, nothing starts.
  b.handle(RequestFinished{q2.id}, kT0 + 11ms);
  EXPECT_TRUE(names(drain(b)).empty());
  EXPECT_EQ(b.inFlight(), 1u);
  b.handle(RequestFinished{q1.id}, kT0 + 20ms);
  EXPECT_EQ(b.inFlight(), 0u);
}

TEST(BehaviourCapacity, QueuedRequestsAreDrainedBeforeAGracefulExit) {
  BehaviourSpec spec = fixedSpec(10ms);
  spec.capacity.max_in_flight = 1;
  spec.capacity.overflow = Overflow::queue;
  Behaviour b = readyAt(spec);
  const auto p1 = b.planRequest(kT0);
  const auto q1 = b.planRequest(kT0);
  b.handle(SignalReceived{Signal::term}, kT0 + 1ms);
  EXPECT_EQ(names(drain(b)), (Names{"fail-readiness", "close-listener", "close-idle"}));
  b.handle(RequestFinished{p1.id}, kT0 + 10ms);
  EXPECT_EQ(names(drain(b)), (Names{"start-request"}));
  b.handle(RequestFinished{q1.id}, kT0 + 20ms);
  EXPECT_EQ(names(drain(b)), (Names{"exit"}));
}

TEST(BehaviourCapacity, RefuseClosesTheListenerWhileFullAndReopensBelow) {
  BehaviourSpec spec = fixedSpec(10ms);
  spec.capacity.max_in_flight = 2;
  spec.capacity.overflow = Overflow::refuse;
  Behaviour b = readyAt(spec);
  const auto p1 = b.planRequest(kT0);
  EXPECT_TRUE(names(drain(b)).empty());
  (void)b.planRequest(kT0);
  EXPECT_EQ(names(drain(b)), (Names{"close-listener"}));
  EXPECT_FALSE(b.listenerOpen());
  // A keep-alive connection still sends: it is reset, not served.
  EXPECT_EQ(b.planRequest(kT0).start, Start::refuse);
  EXPECT_EQ(b.inFlight(), 2u);
  b.handle(RequestFinished{p1.id}, kT0 + 10ms);
  EXPECT_EQ(names(drain(b)), (Names{"open-listener"}));
  EXPECT_TRUE(b.listenerOpen());
}

TEST(BehaviourCapacity, ZeroMeansUnlimited) {
  Behaviour b = readyAt(fixedSpec(1ms));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.planRequest(kT0).start, Start::now);
  EXPECT_EQ(b.inFlight(), 1000u);
}

// --- health -----------------------------------------------------------------

TEST(BehaviourHealth, HealthyFollowsReadinessAndDrain) {
  BehaviourSpec spec = fixedSpec(1ms);
  spec.startup.ready_after = 1s;
  spec.health.delay = 300ms;
  Behaviour b(spec, Rng(1), kT0);
  b.onTimeout(kT0);
  EXPECT_EQ(b.health(kT0).status, 503);
  EXPECT_EQ(b.health(kT0).delay, 300ms);
  b.onTimeout(kT0 + 1s);
  EXPECT_EQ(b.health(kT0 + 1s).status, 200);
  b.handle(SignalReceived{Signal::term}, kT0 + 2s);
  EXPECT_EQ(b.health(kT0 + 2s).status, 503);
}

TEST(BehaviourHealth, FailingIsAlways503) {
  BehaviourSpec spec = fixedSpec(1ms);
  spec.health.mode = HealthMode::failing;
  Behaviour b = readyAt(spec);
  EXPECT_EQ(b.health(kT0 + 1h).status, 503);
  EXPECT_EQ(b.planRequest(kT0).status, 200);  // requests still succeed
}

TEST(BehaviourHealth, FlappingAlternatesEveryHalfPeriodFromReadiness) {
  BehaviourSpec spec = fixedSpec(1ms);
  spec.health.mode = HealthMode::flapping;
  spec.health.flap_period = 2s;
  spec.startup.ready_after = 500ms;
  Behaviour b(spec, Rng(1), kT0);
  b.onTimeout(kT0);
  b.onTimeout(kT0 + 500ms);
  const Instant r = kT0 + 500ms;
  EXPECT_EQ(b.health(r).status, 200);
  EXPECT_EQ(b.health(r + 999ms).status, 200);
  EXPECT_EQ(b.health(r + 1s).status, 503);
  EXPECT_EQ(b.health(r + 1999ms).status, 503);
  EXPECT_EQ(b.health(r + 2s).status, 200);
  EXPECT_EQ(b.health(r + 3500ms).status, 503);
}

TEST(BehaviourHealth, LyingAnswers200WhileEveryRequestFails) {
  BehaviourSpec spec = fixedSpec(1ms);
  spec.health.mode = HealthMode::lying;
  spec.error_status = 502;
  spec.startup.ready_after = 10s;
  Behaviour b(spec, Rng(1), kT0);
  b.onTimeout(kT0);
  EXPECT_EQ(b.health(kT0).status, 200);  // lies before ready, too
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.planRequest(kT0).status, 502);
}

TEST(BehaviourHealth, HealthFaultChangesTheModeAndHealRestoresIt) {
  Behaviour b = readyAt(fixedSpec(1ms));
  FaultInjected f;
  f.health = HealthMode::failing;
  b.handle(f, kT0);
  EXPECT_EQ(b.health(kT0).status, 503);
  b.handle(Healed{}, kT0);
  EXPECT_EQ(b.health(kT0).status, 200);
}

// --- faults -----------------------------------------------------------------

TEST(BehaviourFaults, CloseAndResetChooseHowRequestsEnd) {
  Behaviour b = readyAt(fixedSpec(5ms));
  FaultInjected close;
  close.close = true;
  b.handle(close, kT0);
  auto p = b.planRequest(kT0);
  EXPECT_EQ(p.ending, Ending::close);
  EXPECT_EQ(p.service_time, 5ms);  // ends when its service time is up
  b.handle(Healed{}, kT0);
  FaultInjected reset;
  reset.reset = true;
  b.handle(reset, kT0);
  EXPECT_EQ(b.planRequest(kT0).ending, Ending::reset);
  b.handle(Healed{}, kT0);
  EXPECT_EQ(b.planRequest(kT0).ending, Ending::respond);
}

TEST(BehaviourFaults, RefuseClosesTheListenerUntilHeal) {
  Behaviour b = readyAt(fixedSpec(1ms));
  FaultInjected f;
  f.refuse = true;
  b.handle(f, kT0);
  EXPECT_EQ(names(drain(b)), (Names{"close-listener"}));
  b.handle(f, kT0 + 1ms);  // again: no second close
  EXPECT_TRUE(names(drain(b)).empty());
  b.handle(Healed{}, kT0 + 2ms);
  EXPECT_EQ(names(drain(b)), (Names{"open-listener"}));
}

TEST(BehaviourFaults, RefuseBeforeListeningKeepsTheListenerClosed) {
  BehaviourSpec spec = fixedSpec(1ms);
  spec.startup.listen_after = 1s;
  Behaviour b(spec, Rng(1), kT0);
  FaultInjected f;
  f.refuse = true;
  b.handle(f, kT0);
  b.onTimeout(kT0 + 1s);
  EXPECT_FALSE(b.listenerOpen());
  EXPECT_TRUE(b.listening());
  drain(b);
  b.handle(Healed{}, kT0 + 2s);
  EXPECT_EQ(names(drain(b)), (Names{"open-listener"}));
}

TEST(BehaviourFaults, PauseHoldsUntilHealThenResumes) {
  Behaviour b = readyAt(fixedSpec(1ms));
  FaultInjected f;
  f.pause = true;
  b.handle(f, kT0);
  EXPECT_TRUE(b.paused());
  EXPECT_TRUE(names(drain(b)).empty());
  b.handle(Healed{}, kT0 + 1s);
  EXPECT_FALSE(b.paused());
  EXPECT_EQ(names(drain(b)), (Names{"resume-paused"}));
  b.handle(Healed{}, kT0 + 2s);  // not paused: nothing to resume
  EXPECT_TRUE(names(drain(b)).empty());
}

TEST(BehaviourFaults, CrashExitsAtOnceResettingInFlight) {
  Behaviour b = readyAt(fixedSpec(1s));
  (void)b.planRequest(kT0);
  FaultInjected f;
  f.crash = true;
  b.handle(f, kT0 + 1ms);
  const auto actions = drain(b);
  ASSERT_EQ(names(actions), (Names{"exit"}));
  const auto& exit = std::get<Exit>(actions.back());
  EXPECT_EQ(exit.code, kExitCrash);
  EXPECT_TRUE(exit.reset_in_flight);
  EXPECT_TRUE(exit.crash);
  EXPECT_EQ(b.phase(), ShutdownPhase::exited);
  b.handle(Healed{}, kT0 + 2ms);
  EXPECT_TRUE(drain(b).empty());
}

TEST(BehaviourFaults, ParsesTheNewControlCommands) {
  const auto fault = [](std::string_view line) {
    auto e = parseControlCommand(line);
    EXPECT_TRUE(e.ok()) << line;
    return e.ok() ? std::get<FaultInjected>(e.value()) : FaultInjected{};
  };
  EXPECT_EQ(fault("fault close").close, true);
  EXPECT_EQ(fault("fault reset\n").reset, true);
  EXPECT_EQ(fault("fault refuse").refuse, true);
  EXPECT_EQ(fault("fault pause").pause, true);
  EXPECT_EQ(fault("fault crash").crash, true);
  EXPECT_EQ(fault("fault health=lying").health, HealthMode::lying);
  EXPECT_EQ(fault("fault health=flapping").health, HealthMode::flapping);
  EXPECT_FALSE(parseControlCommand("fault health=sick").ok());
  EXPECT_FALSE(parseControlCommand("fault explode").ok());
  EXPECT_FALSE(parseControlCommand("fault").ok());
}

// --- warm-up and per-path overrides -----------------------------------------

TEST(BehaviourWarmup, MultipliesLatencyUntilTheWarmupEnds) {
  BehaviourSpec spec = fixedSpec(10ms);
  spec.startup.ready_after = 1s;
  spec.startup.warmup = 5s;
  spec.startup.warmup_factor = 3.0;
  Behaviour b(spec, Rng(1), kT0);
  b.onTimeout(kT0);
  EXPECT_EQ(b.planRequest(kT0 + 500ms).service_time, 30ms);  // before ready: cold
  b.onTimeout(kT0 + 1s);
  EXPECT_EQ(b.planRequest(kT0 + 5999ms).service_time, 30ms);
  EXPECT_EQ(b.planRequest(kT0 + 6s).service_time, 10ms);
}

TEST(BehaviourPaths, FirstMatchingPrefixOverridesLatencyAndErrors) {
  BehaviourSpec spec = fixedSpec(10ms);
  PathOverride slow;
  slow.prefix = "/slow";
  slow.latency = LatencySpec{};
  slow.latency->distribution = LatencyDistribution::fixed;
  slow.latency->value = 700ms;
  PathOverride broken;
  broken.prefix = "/api/broken";
  broken.error_rate = 1.0;
  broken.error_status = 502;
  PathOverride api;
  api.prefix = "/api";
  api.error_rate = 0.0;
  spec.paths = {slow, broken, api};
  spec.error_rate = 1.0;
  Behaviour b = readyAt(spec);
  auto p = b.planRequest(kT0, "/slow/report");
  EXPECT_EQ(p.service_time, 700ms);
  EXPECT_EQ(p.status, 500);  // error rate not overridden: the service's
  p = b.planRequest(kT0, "/api/broken/1");
  EXPECT_EQ(p.status, 502);
  EXPECT_EQ(p.service_time, 10ms);
  EXPECT_EQ(b.planRequest(kT0, "/api/ok").status, 200);
  EXPECT_EQ(b.planRequest(kT0, "/other").status, 500);
  FaultInjected f;  // a fault overrides every path
  f.error_rate = 0.0;
  b.handle(f, kT0);
  EXPECT_EQ(b.planRequest(kT0, "/api/broken").status, 200);
}

}  // namespace
}  // namespace cutover::service
