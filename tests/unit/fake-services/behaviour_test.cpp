#include "fake-services/behaviour.hpp"
#include "tests/unit/fake-services/behaviour_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace cutover::service {
namespace {

using testing::drain;
using testing::names;

constexpr Instant kStart = fromNanos(1'000'000'000);



const Exit* findExit(const std::vector<Action>& actions) {
  for (const auto& a : actions) {
    if (const auto* e = std::get_if<Exit>(&a)) return e;
  }
  return nullptr;
}

using Names = std::vector<std::string>;

// Percentile p (0..1) of service times drawn n times.
Duration percentile(std::vector<Duration> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

std::vector<Duration> draws(const LatencySpec& latency, int n, std::uint64_t seed = 42) {
  BehaviourSpec spec;
  spec.latency = latency;
  Behaviour b(spec, Rng(seed), kStart);
  std::vector<Duration> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(b.drawServiceTime());
  return out;
}

void expectNear(Duration actual, Duration expected, double rel) {
  const double a = static_cast<double>(actual.count());
  const double e = static_cast<double>(expected.count());
  EXPECT_NEAR(a, e, e * rel) << "actual " << actual.count() << "ns expected " << expected.count() << "ns";
}

// A behaviour that is already listening and ready at kStart.
Behaviour readyBehaviour(const BehaviourSpec& spec) {
  Behaviour b(spec, Rng(7), kStart);
  b.onTimeout(kStart);
  drain(b);
  return b;
}

TEST(BehaviourLatency, FixedIsConstant) {
  LatencySpec l;
  l.distribution = LatencyDistribution::fixed;
  l.value = 300ms;
  for (const auto d : draws(l, 100)) EXPECT_EQ(d, 300ms);
}

TEST(BehaviourLatency, UniformStaysInRangeAndIsFlat) {
  LatencySpec l;
  l.distribution = LatencyDistribution::uniform;
  l.min = 10ms;
  l.max = 30ms;
  const auto v = draws(l, 20000);
  for (const auto d : v) {
    EXPECT_GE(d, 10ms);
    EXPECT_LE(d, 30ms);
  }
  expectNear(percentile(v, 0.5), 20ms, 0.03);
  expectNear(percentile(v, 0.25), 15ms, 0.03);
  expectNear(percentile(v, 0.99), Duration{29'800'000}, 0.01);
}

TEST(BehaviourLatency, NormalHitsP50AndP99) {
  LatencySpec l;
  l.distribution = LatencyDistribution::normal;
  l.p50 = 100ms;
  l.p99 = 130ms;
  const auto v = draws(l, 50000);
  expectNear(percentile(v, 0.5), 100ms, 0.01);
  expectNear(percentile(v, 0.99), 130ms, 0.02);
}

TEST(BehaviourLatency, LognormalHitsP50AndP99) {
  LatencySpec l;
  l.distribution = LatencyDistribution::lognormal;
  l.p50 = 2ms;
  l.p99 = 20ms;
  const auto v = draws(l, 50000);
  expectNear(percentile(v, 0.5), 2ms, 0.03);
  expectNear(percentile(v, 0.99), 20ms, 0.08);
  EXPECT_GT(*std::min_element(v.begin(), v.end()), Duration{0});
}

// meanServiceTime is the mean of what drawServiceTime draws, for every
// distribution (200k draws: the lognormal's mean has a standard error ~0.3%).
TEST(BehaviourLatency, MeanServiceTimeIsTheMeanOfTheDraws) {
  std::vector<LatencySpec> specs(6);
  specs[0].distribution = LatencyDistribution::fixed;
  specs[0].value = 7ms;
  specs[1].distribution = LatencyDistribution::uniform;
  specs[1].min = 1ms;
  specs[1].max = 9ms;
  specs[2].distribution = LatencyDistribution::normal;
  specs[2].p50 = 10ms;
  specs[2].p99 = 14ms;
  specs[3].distribution = LatencyDistribution::lognormal;
  specs[3].p50 = 2ms;
  specs[3].p99 = 20ms;
  specs[4].distribution = LatencyDistribution::empirical;
  specs[4].samples = {1ms, 2ms, 6ms};
  // A wide normal: 28% of its draws fall below 0 and are served in 0, so its
  // mean is 13.0 ms, not its p50 (capacity planning once took 10 ms).
  specs[5].distribution = LatencyDistribution::normal;
  specs[5].p50 = 10ms;
  specs[5].p99 = 50ms;
  for (const auto& l : specs) {
    const auto v = draws(l, 200000);
    double sum = 0;
    for (const auto d : v) sum += static_cast<double>(d.count());
    const auto mean = Duration{static_cast<std::int64_t>(sum / static_cast<double>(v.size()))};
    expectNear(meanServiceTime(l), mean, 0.015);
  }
  EXPECT_NEAR(static_cast<double>(meanServiceTime(specs[5]).count()), 12.99e6, 0.01e6);
  EXPECT_NEAR(static_cast<double>(meanServiceTime(specs[3]).count()), 2e6 * std::exp(0.5 * std::pow(std::log(10.0) / 2.3263, 2)),
              1.0);  // p50 e^(sigma^2 / 2): 3.2 ms for p50 2 ms, p99 20 ms
}

TEST(BehaviourLatency, EmpiricalPicksSamplesUniformly) {
  LatencySpec l;
  l.distribution = LatencyDistribution::empirical;
  l.samples = {1ms, 2ms, 3ms, 4ms};
  const auto v = draws(l, 40000);
  for (const auto s : l.samples) {
    const auto n = std::count(v.begin(), v.end(), s);
    EXPECT_NEAR(static_cast<double>(n), 10000.0, 400.0) << s.count();
  }
  EXPECT_EQ(std::count_if(v.begin(), v.end(), [](Duration d) { return d > 4ms || d < 1ms; }), 0);
}

TEST(BehaviourLatency, SameSeedSameDraws) {
  LatencySpec l;  // lognormal default
  EXPECT_EQ(draws(l, 1000, 5), draws(l, 1000, 5));
  EXPECT_NE(draws(l, 1000, 5), draws(l, 1000, 6));
}

TEST(BehaviourRequests, ErrorRateIsHonoured) {
  BehaviourSpec spec;
  spec.error_rate = 0.2;
  spec.error_status = 503;
  Behaviour b = readyBehaviour(spec);
  int errors = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    const auto plan = b.planRequest(kStart);
    EXPECT_TRUE(plan.status == 200 || plan.status == 503);
    errors += plan.status == 503 ? 1 : 0;
    b.handle(RequestFinished{}, kStart);
  }
  EXPECT_NEAR(errors, 0.2 * kN, 0.01 * kN);
  EXPECT_EQ(b.inFlight(), 0u);
}

TEST(BehaviourRequests, NoErrorsAtZeroRate) {
  Behaviour b = readyBehaviour(BehaviourSpec{});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.planRequest(kStart).status, 200);
  EXPECT_EQ(b.inFlight(), 1000u);
}

TEST(BehaviourStartup, ListensThenBecomesReadyOnTime) {
  BehaviourSpec spec;
  spec.startup.listen_after = 500ms;
  spec.startup.ready_after = 2s;
  Behaviour b(spec, Rng(1), kStart);
  ASSERT_EQ(b.nextDeadline(), kStart + 500ms);
  b.onTimeout(kStart + 499ms);
  EXPECT_TRUE(drain(b).empty());
  EXPECT_FALSE(b.listening());
  b.onTimeout(kStart + 500ms);
  EXPECT_EQ(names(drain(b)), Names{"open-listener"});
  EXPECT_TRUE(b.listening());
  EXPECT_FALSE(b.ready());
  ASSERT_EQ(b.nextDeadline(), kStart + 2500ms);
  b.onTimeout(kStart + 2499ms);
  EXPECT_FALSE(b.ready());
  b.onTimeout(kStart + 2500ms);
  EXPECT_EQ(names(drain(b)), Names{"ready"});
  EXPECT_TRUE(b.ready());
  EXPECT_EQ(b.nextDeadline(), std::nullopt);
}

TEST(BehaviourStartup, ZeroDelaysOpenAndReadyAtOnce) {
  Behaviour b(BehaviourSpec{}, Rng(1), kStart);
  EXPECT_EQ(b.nextDeadline(), kStart);
  b.onTimeout(kStart);
  EXPECT_EQ(names(drain(b)), (Names{"open-listener", "ready"}));
  EXPECT_TRUE(b.ready());
}

TEST(BehaviourShutdown, GracefulKeepsServingDuringPreStopThenDrains) {
  BehaviourSpec spec;
  spec.shutdown.on_sigterm = OnSigterm::graceful;
  spec.shutdown.pre_stop_delay = 1s;
  spec.shutdown.drain_timeout = 5s;
  Behaviour b = readyBehaviour(spec);
  const Instant sig = kStart + 10s;
  (void)b.planRequest(sig - 1ms);  // one in flight
  b.handle(SignalReceived{Signal::term}, sig);
  EXPECT_TRUE(names(drain(b)).empty());  // only a note
  EXPECT_TRUE(b.ready());
  EXPECT_EQ(b.phase(), ShutdownPhase::pre_stop);
  // Still serving, but telling keep-alive clients to go (close_keepalive).
  const auto during = b.planRequest(sig + 500ms);
  EXPECT_TRUE(during.close_connection);
  EXPECT_EQ(during.status, 200);
  EXPECT_EQ(b.nextDeadline(), sig + 1s);
  b.onTimeout(sig + 999ms);
  EXPECT_TRUE(drain(b).empty());
  b.onTimeout(sig + 1s);
  EXPECT_EQ(names(drain(b)), (Names{"fail-readiness", "close-listener", "close-idle"}));
  EXPECT_FALSE(b.ready());
  EXPECT_TRUE(b.closeConnections());
  EXPECT_EQ(b.nextDeadline(), sig + 6s);
  b.handle(RequestFinished{}, sig + 1100ms);
  EXPECT_TRUE(drain(b).empty());  // one still in flight
  b.handle(RequestFinished{}, sig + 1200ms);
  const auto actions = drain(b);
  const Exit* e = findExit(actions);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, kExitClean);
  EXPECT_FALSE(e->reset_in_flight);
  EXPECT_EQ(b.phase(), ShutdownPhase::exited);
  EXPECT_EQ(b.nextDeadline(), std::nullopt);
}

TEST(BehaviourShutdown, GracefulWithNothingInFlightExitsAtOnce) {
  Behaviour b = readyBehaviour(BehaviourSpec{});
  b.handle(SignalReceived{Signal::term}, kStart + 1s);
  EXPECT_EQ(names(drain(b)), (Names{"fail-readiness", "close-listener", "close-idle", "exit"}));
}

TEST(BehaviourShutdown, DrainTimeoutExitsAndResetsInFlight) {
  BehaviourSpec spec;
  spec.shutdown.drain_timeout = 2s;
  Behaviour b = readyBehaviour(spec);
  (void)b.planRequest(kStart);
  (void)b.planRequest(kStart);
  const Instant sig = kStart + 1s;
  b.handle(SignalReceived{Signal::term}, sig);
  drain(b);
  b.handle(RequestFinished{}, sig + 100ms);
  EXPECT_EQ(findExit(drain(b)), nullptr);
  EXPECT_EQ(b.nextDeadline(), sig + 2s);
  b.onTimeout(sig + 1999ms);
  EXPECT_TRUE(drain(b).empty());
  b.onTimeout(sig + 2s);
  const auto actions = drain(b);
  const Exit* e = findExit(actions);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, kExitDrainTimeout);
  EXPECT_TRUE(e->reset_in_flight);
  EXPECT_NE(e->reason.find("1 in flight"), std::string::npos) << e->reason;
}

TEST(BehaviourShutdown, CloseKeepaliveOffKeepsConnectionsWhileDraining) {
  BehaviourSpec spec;
  spec.shutdown.close_keepalive = false;
  Behaviour b = readyBehaviour(spec);
  (void)b.planRequest(kStart);
  b.handle(SignalReceived{Signal::term}, kStart);
  EXPECT_EQ(b.phase(), ShutdownPhase::draining);
  EXPECT_FALSE(b.closeConnections());
  EXPECT_FALSE(b.planRequest(kStart).close_connection);
}

TEST(BehaviourShutdown, ImmediateExitsAtOnceWithReset) {
  BehaviourSpec spec;
  spec.shutdown.on_sigterm = OnSigterm::immediate;
  Behaviour b = readyBehaviour(spec);
  (void)b.planRequest(kStart);
  b.handle(SignalReceived{Signal::term}, kStart + 1s);
  const auto actions = drain(b);
  EXPECT_EQ(names(actions), Names{"exit"});
  const Exit* e = findExit(actions);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, 143);
  EXPECT_TRUE(e->reset_in_flight);
}

TEST(BehaviourShutdown, SigintImmediateExitCode) {
  BehaviourSpec spec;
  spec.shutdown.on_sigterm = OnSigterm::immediate;
  Behaviour b = readyBehaviour(spec);
  b.handle(SignalReceived{Signal::interrupt}, kStart);
  const auto actions = drain(b);
  ASSERT_NE(findExit(actions), nullptr);
  EXPECT_EQ(findExit(actions)->code, 130);
}

TEST(BehaviourShutdown, IgnoreKeepsServing) {
  BehaviourSpec spec;
  spec.shutdown.on_sigterm = OnSigterm::ignore;
  Behaviour b = readyBehaviour(spec);
  for (int i = 0; i < 3; ++i) {
    b.handle(SignalReceived{Signal::term}, kStart + std::chrono::seconds(i));
    const auto actions = drain(b);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<Note>(actions[0]));
  }
  EXPECT_TRUE(b.ready());
  EXPECT_EQ(b.phase(), ShutdownPhase::none);
  EXPECT_EQ(b.nextDeadline(), std::nullopt);
  EXPECT_EQ(b.planRequest(kStart + 5s).status, 200);
}

TEST(BehaviourShutdown, SecondSignalWhileDrainingIsIgnored) {
  Behaviour b = readyBehaviour(BehaviourSpec{});
  (void)b.planRequest(kStart);
  b.handle(SignalReceived{Signal::term}, kStart);
  drain(b);
  b.handle(SignalReceived{Signal::interrupt}, kStart + 1ms);
  EXPECT_TRUE(names(drain(b)).empty());
  EXPECT_EQ(b.phase(), ShutdownPhase::draining);
}

TEST(BehaviourShutdown, SignalBeforeListeningNeverOpensListener) {
  BehaviourSpec spec;
  spec.startup.listen_after = 1s;
  spec.shutdown.pre_stop_delay = 2s;
  Behaviour b(spec, Rng(1), kStart);
  b.handle(SignalReceived{Signal::term}, kStart + 100ms);
  b.onTimeout(kStart + 1s);
  EXPECT_TRUE(names(drain(b)).empty());
  EXPECT_EQ(b.nextDeadline(), kStart + 2100ms);
  b.onTimeout(kStart + 2100ms);
  EXPECT_EQ(names(drain(b)), (Names{"fail-readiness", "close-listener", "close-idle", "exit"}));
}

TEST(BehaviourFaults, ErrorRateLatencyHangAndHeal) {
  BehaviourSpec spec;
  spec.latency.distribution = LatencyDistribution::fixed;
  spec.latency.value = 10ms;
  Behaviour b = readyBehaviour(spec);
  b.handle(FaultInjected{1.0, std::nullopt, std::nullopt}, kStart);
  EXPECT_EQ(b.planRequest(kStart).status, spec.error_status);
  b.handle(FaultInjected{std::nullopt, 100ms, std::nullopt}, kStart);
  auto plan = b.planRequest(kStart);
  EXPECT_EQ(plan.status, spec.error_status);  // error fault still on
  EXPECT_EQ(plan.service_time, 110ms);
  b.handle(FaultInjected{std::nullopt, std::nullopt, true}, kStart);
  EXPECT_EQ(b.planRequest(kStart).service_time, std::nullopt);
  b.handle(Healed{}, kStart);
  plan = b.planRequest(kStart);
  EXPECT_EQ(plan.status, 200);
  EXPECT_EQ(plan.service_time, 10ms);
}

TEST(BehaviourFaults, ParsesControlCommands) {
  auto e = parseControlCommand("fault error_rate=0.5\n");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(std::holds_alternative<FaultInjected>(e.value()));
  EXPECT_EQ(std::get<FaultInjected>(e.value()).error_rate, 0.5);
  e = parseControlCommand("fault latency=+100ms");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<FaultInjected>(e.value()).extra_latency, 100ms);
  e = parseControlCommand("fault hang");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<FaultInjected>(e.value()).hang, true);
  e = parseControlCommand("heal");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(std::holds_alternative<Healed>(e.value()));
  EXPECT_FALSE(parseControlCommand("fault error_rate=2").ok());
  EXPECT_FALSE(parseControlCommand("fault latency=+fast").ok());
  EXPECT_FALSE(parseControlCommand("reboot").ok());
}

}  // namespace
}  // namespace cutover::service
