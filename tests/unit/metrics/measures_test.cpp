#include "metrics/measures.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cutover {
namespace {

constexpr std::int64_t kT0 = 5'000'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

// Name table: 0 v1, 1 v2, 2 blue-1, 3 green-1.
const std::vector<std::string> kNames = {"v1", "v2", "blue-1", "green-1"};
constexpr std::uint16_t kV1 = 0, kV2 = 1, kBlue1 = 2, kGreen1 = 3;

std::vector<InstanceInfo> instances() {
  InstanceInfo b, g;
  b.id = "blue-1", b.pool = "blue", b.version = "v1";
  g.id = "green-1", g.pool = "green", g.version = "v2";
  return {b, g};
}

RequestRecord rec(std::int64_t sent_ms, std::int64_t done_ms, Outcome o, std::uint16_t version,
                  std::uint16_t instance) {
  RequestRecord r;
  r.intended_ns = r.sent_ns = kT0 + sent_ms * kMs;
  r.done_ns = kT0 + done_ms * kMs;
  r.outcome = o;
  r.status = o == Outcome::ok ? 200 : o == Outcome::app_error ? 500 : 0;
  r.version = version;
  r.instance = instance;
  return r;
}

TimedEvent ev(double t_s, std::string source, std::string kind, std::string target, std::string detail = "") {
  return {t_s, std::move(source), std::move(kind), std::move(target), std::move(detail)};
}

struct Fixture {
  std::vector<RequestRecord> records;
  std::vector<TimedEvent> events{ev(-0.5, "switcher", "switched", "blue", "from none")};
  std::vector<InstanceInfo> inst = instances();
  RunView view() const { return RunView{records, kNames, events, inst, kT0}; }
};

TEST(SwitchMeasures, LatencyIsLastOldResponseToARequestSentAfterTheCommand) {
  Fixture f;
  f.events.push_back(ev(2.0, "timeline", "switch", "green"));
  f.events.push_back(ev(2.0001, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(2.3, "switcher", "drained", "blue"));
  f.records = {
      rec(1990, 2500, Outcome::ok, kV1, kBlue1),   // sent before the command: not counted
      rec(2000, 2120, Outcome::ok, kV1, kBlue1),   // sent at the command, old pool
      rec(2001, 2004, Outcome::ok, kV2, kGreen1),  // new pool
      rec(2005, 2150, Outcome::reset, kNoName, kNoName),  // no response: not counted
  };
  const auto m = switchMeasures(f.view());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].from, "blue");
  EXPECT_EQ(m[0].to, "green");
  EXPECT_NEAR(m[0].switch_latency_ms, 120.0, 1e-6);
  ASSERT_TRUE(m[0].drain_time_ms);
  EXPECT_NEAR(*m[0].drain_time_ms, 300.0, 1e-6);
  const auto flat = deriveMeasures(f.view());
  EXPECT_NEAR(flat.at("switch_latency_ms"), 120.0, 1e-6);
  EXPECT_NEAR(flat.at("drain_time_ms"), 300.0, 1e-6);
  EXPECT_FALSE(flat.count("rollback_detect_latency_ms"));
}

TEST(SwitchMeasures, ResponsesAfterARollbackDoNotCountAsSwitchLatency) {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(3.0, "switcher", "rollback", "blue", "error rate"));
  f.records = {rec(1000, 1001, Outcome::ok, kV2, kGreen1),
               rec(3500, 3502, Outcome::ok, kV1, kBlue1),   // blue again, after the rollback
               rec(2999, 3003, Outcome::ok, kV1, kBlue1)};  // sent before it, routed after it
  const auto m = switchMeasures(f.view());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].switch_latency_ms, 0.0);
  // Blue answering while green was active still counts.
  f.records.push_back(rec(1500, 1502, Outcome::ok, kV1, kBlue1));
  EXPECT_EQ(switchMeasures(f.view())[0].switch_latency_ms, 502.0);
}

TEST(SwitchMeasures, AtomicSwitchIsZeroAndUndrainedPoolHasNoDrainTime) {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(0.5, "switcher", "drained", "blue"));  // before the command: ignored
  f.records = {rec(900, 1200, Outcome::ok, kV1, kBlue1), rec(1000, 1001, Outcome::ok, kV2, kGreen1)};
  const auto m = switchMeasures(f.view());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].switch_latency_ms, 0.0);
  EXPECT_FALSE(m[0].drain_time_ms);
  EXPECT_FALSE(deriveMeasures(f.view()).count("drain_time_ms"));
}

TEST(SwitchMeasures, VersionAttributesWhenInstanceUnknownAndSwitchToActivePoolIsSkipped) {
  Fixture f;
  f.events.push_back(ev(0.5, "timeline", "switch", "blue"));  // already active
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.001, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(3.0, "timeline", "switch", "blue"));  // switch back
  f.events.push_back(ev(3.001, "switcher", "switched", "blue", "from green"));
  f.records = {rec(1000, 1050, Outcome::ok, kV1, kNoName), rec(3000, 3010, Outcome::ok, kV2, kGreen1)};
  const auto m = switchMeasures(f.view());
  ASSERT_EQ(m.size(), 2u);
  EXPECT_NEAR(m[0].switch_latency_ms, 50.0, 1e-6);
  EXPECT_EQ(m[1].from, "green");
  EXPECT_NEAR(m[1].switch_latency_ms, 10.0, 1e-6);
}

// A switch the switcher refused (or held at its readiness gate to the end)
// did not happen: no latency, where it measured the rest of the run (1.7 s
// in the invalid fixture). One the gate let through later is measured from
// the command.
TEST(SwitchMeasures, ASwitchThatNeverHappenedHasNoLatency) {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switch_refused", "green", "unknown pool green"));
  f.records = {rec(1000, 1001, Outcome::ok, kV1, kBlue1), rec(2500, 2501, Outcome::ok, kV1, kBlue1)};
  EXPECT_TRUE(switchMeasures(f.view()).empty());
  EXPECT_FALSE(deriveMeasures(f.view()).count("switch_latency_ms"));
  f.events.push_back(ev(1.2, "switcher", "switched", "green", "from blue"));
  const auto m = switchMeasures(f.view());
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NEAR(m[0].switch_latency_ms, 1501.0, 1e-6);  // blue still answered at 2.501 s
}

TEST(SwitchMeasures, NoSwitchNoMeasure) {
  Fixture f;
  f.records = {rec(0, 1, Outcome::ok, kV1, kBlue1)};
  EXPECT_TRUE(switchMeasures(f.view()).empty());
  EXPECT_TRUE(deriveMeasures(f.view()).empty());
}

// Green takes traffic at 1 s, a fault hits green at 2 s, the switcher rolls
// back at 2.25 s; the last failure of green completes at 2.4 s.
Fixture rollbackRun() {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(2.0, "timeline", "fault", "green-1", "error_rate 1.0"));
  f.events.push_back(ev(2.25, "switcher", "rollback", "blue", "from green: error budget exceeded"));
  f.records = {
      rec(1900, 1990, Outcome::app_error, kV2, kGreen1),  // before onset: not in blast radius
      rec(2010, 2020, Outcome::app_error, kV2, kGreen1),
      rec(2100, 2110, Outcome::ok, kV2, kGreen1),
      rec(2200, 2300, Outcome::reset, kNoName, kNoName),  // unattributed, green active: counts
      rec(2240, 2400, Outcome::app_error, kV2, kGreen1),  // the last failure of green
      rec(2300, 2350, Outcome::app_error, kV1, kBlue1),   // blue's own failure: in window, not the end
      rec(2300, 2900, Outcome::timeout, kNoName, kNoName),  // sent while blue active: not green's
      rec(2500, 2510, Outcome::ok, kV1, kBlue1),
      rec(3500, 3510, Outcome::ok, kV1, kBlue1),  // the load goes on: green's failures ended
  };
  return f;
}

TEST(RollbackMeasure, DetectRecoveryAndBlastRadius) {
  const Fixture f = rollbackRun();
  const auto m = rollbackMeasure(f.view());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->faulty_pool, "green");
  ASSERT_TRUE(m->detect_latency_ms);
  EXPECT_NEAR(*m->detect_latency_ms, 250.0, 1e-6);
  EXPECT_NEAR(m->recovery_latency_ms, 400.0, 1e-6);
  EXPECT_EQ(m->blast_radius, 4u);  // 2020, 2300 reset, 2400, 2350 (blue, inside the window)
  const auto flat = deriveMeasures(f.view());
  EXPECT_NEAR(flat.at("rollback_detect_latency_ms"), 250.0, 1e-6);
  EXPECT_NEAR(flat.at("rollback_recovery_latency_ms"), 400.0, 1e-6);
  EXPECT_EQ(flat.at("blast_radius_requests"), 4.0);
}

// The onset is the fault that caused the rollback: the last disturbance of
// the pool rolled back from, at or before the decision. A harmless fault on
// blue at 0.5 s (the run's first) once made detect 1750 ms here (2117 ms in
// a helper's live run, with blast radius 0); an earlier harmless fault on
// green at 1.5 s, 750 ms.
TEST(RollbackMeasure, AFaultElsewhereOrEarlierIsNotTheOnset) {
  for (const char* other : {"blue", "green-1"}) {
    Fixture f = rollbackRun();
    f.events.insert(f.events.begin() + 1, ev(std::string(other) == "blue" ? 0.5 : 1.5, "timeline", "fault", other,
                                             "latency=+1.0 ms"));
    const auto m = rollbackMeasure(f.view());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->faulty_pool, "green") << other;
    EXPECT_DOUBLE_EQ(m->fault_s, 2.0) << other;
    EXPECT_NEAR(*m->detect_latency_ms, 250.0, 1e-6) << other;
    EXPECT_EQ(m->blast_radius, 4u) << other;
  }
}

// A kill (a signal step) can be what a healthy_below rollback answers: it is
// the onset, where only `fault` steps were (the run was invalid: "no
// rollback happened after a fault").
TEST(RollbackMeasure, AKillThatTriggersTheRollbackIsItsOnset) {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(2.0, "timeline", "signal", "green-1", "SIGKILL"));
  f.events.push_back(ev(2.6, "switcher", "rollback", "blue", "from green: 1 healthy backends, below the floor of 2"));
  f.records = {rec(1990, 2001, Outcome::reset, kV2, kGreen1), rec(2700, 2710, Outcome::ok, kV1, kBlue1),
               rec(3000, 3010, Outcome::ok, kV1, kBlue1)};
  const auto m = rollbackMeasure(f.view());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->faulty_pool, "green");
  EXPECT_NEAR(*m->detect_latency_ms, 600.0, 1e-6);
  EXPECT_NEAR(m->recovery_latency_ms, 1.0, 1e-6);
  EXPECT_EQ(m->blast_radius, 1u);
}

// Green fails every other request from the fault to the end of the run (no
// rollback, as rollback-impossible): the time of the last failure is only
// where the run stopped, so recovery is not measured and a bound on it fails.
TEST(RollbackMeasure, FailuresToTheEndAreNotARecovery) {
  Fixture f;
  f.events.push_back(ev(1.0, "timeline", "switch", "green"));
  f.events.push_back(ev(1.0, "switcher", "switched", "green", "from blue"));
  f.events.push_back(ev(2.0, "timeline", "fault", "green", "error_rate 50%"));
  for (int ms = 2000; ms < 4000; ms += 10)
    f.records.push_back(rec(ms, ms + 2, (ms / 10) % 2 ? Outcome::app_error : Outcome::ok, kV2, kGreen1));
  const auto m = rollbackMeasure(f.view());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->recovered);
  EXPECT_EQ(m->blast_radius, 100u);
  const auto flat = deriveMeasures(f.view());
  EXPECT_FALSE(flat.count("rollback_recovery_latency_ms"));
  EXPECT_FALSE(flat.count("blast_radius_requests"));
  EXPECT_EQ(flat.at("blast_radius_unrecovered_requests"), 100.0);
  // The same failures, then a second of ok answers: recovered at the last failure.
  for (int ms = 4000; ms < 5000; ms += 10) f.records.push_back(rec(ms, ms + 2, Outcome::ok, kV2, kGreen1));
  const auto later = rollbackMeasure(f.view());
  EXPECT_TRUE(later->recovered);
  EXPECT_NEAR(later->recovery_latency_ms, 1992.0, 1e-6);
  // A quiet stretch shorter than twice the longest gap between failures is not enough.
  Fixture sparse;
  sparse.events = f.events;
  sparse.records = {rec(2000, 2010, Outcome::app_error, kV2, kGreen1), rec(2300, 2310, Outcome::app_error, kV2, kGreen1),
                    rec(2600, 2610, Outcome::app_error, kV2, kGreen1), rec(3000, 3010, Outcome::ok, kV2, kGreen1)};
  EXPECT_FALSE(rollbackMeasure(sparse.view())->recovered);  // quiet 400 ms < 2 x 300 ms
  sparse.records.push_back(rec(3300, 3310, Outcome::ok, kV2, kGreen1));
  EXPECT_TRUE(rollbackMeasure(sparse.view())->recovered);  // quiet 700 ms
}

TEST(RollbackMeasure, NoRollbackLeavesDetectUnsetAndNoFailureMeansZero) {
  Fixture f;
  f.events.push_back(ev(2.0, "timeline", "fault", "blue"));
  f.records = {rec(2100, 2110, Outcome::ok, kV1, kBlue1)};
  const auto m = rollbackMeasure(f.view());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->detect_latency_ms);
  EXPECT_EQ(m->recovery_latency_ms, 0.0);
  EXPECT_EQ(m->blast_radius, 0u);
  const auto flat = deriveMeasures(f.view());
  EXPECT_FALSE(flat.count("rollback_detect_latency_ms"));
  EXPECT_EQ(flat.at("blast_radius_requests"), 0.0);
  // No request failed: no last failed request to recover at (it was
  // reported as 0 ms, and `rollback_recovery: "< 1ms"` passed).
  EXPECT_FALSE(flat.count("rollback_recovery_latency_ms"));
}

TEST(RollbackMeasure, NoFaultNoMeasure) {
  Fixture f;
  f.events.push_back(ev(2.25, "switcher", "rollback", "blue"));
  EXPECT_FALSE(rollbackMeasure(f.view()));
}

}  // namespace
}  // namespace cutover
