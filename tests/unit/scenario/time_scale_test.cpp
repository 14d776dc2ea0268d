// --time-scale: every duration in the file is multiplied; rates and counts are not.
#include <gtest/gtest.h>

#include "sim/scenario/loader.hpp"

namespace cutover::scenario {
namespace {

using std::chrono::milliseconds;

const char* kFile = R"(name: t
duration: 8s
services:
  blue: { instances: 2, latency: { distribution: lognormal, p50: 4ms, p99: 40ms },
          shutdown: { pre_stop_delay: 2s, grace_period: 4s } }
  green: { latency: 8ms }
switcher:
  drain_timeout: 2s
  health_check: { interval: 1s }
  rollback: { on: [ { p99: "> 100ms", window: 2s } ] }
load:
  - { rate: 1k/s, timeout: 2s, start: 1s, duration: 4s }
timeline:
  - { at: 0s, start: blue }
  - { at: 1s, start: green }
  - { at: 4s, switch: green }
  - { at: 6s, fault: { target: green, latency: 100ms } }
expect: { dropped: 0, switch_latency: "< 400ms", app_errors: "< 8" }
)";

TEST(TimeScale, MultipliesEveryDurationButNotRatesOrCounts) {
  const auto out = loadScenarioText(kFile, "t.yaml", LoadOptions{{}, 0.25});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto& s = *out.scenario;
  EXPECT_DOUBLE_EQ(s.time_scale, 0.25);
  EXPECT_EQ(s.duration, milliseconds(2000));
  EXPECT_EQ(s.services[0].behaviour.latency.p50, milliseconds(1));
  EXPECT_EQ(s.services[0].behaviour.latency.p99, milliseconds(10));
  EXPECT_EQ(s.services[0].behaviour.shutdown.pre_stop_delay, milliseconds(500));
  EXPECT_EQ(s.services[0].stop_grace, milliseconds(1000));
  EXPECT_EQ(s.services[1].behaviour.latency.value, milliseconds(2));
  EXPECT_EQ(s.switcher.core.drain_timeout, milliseconds(500));
  EXPECT_EQ(s.switcher.core.health_check.interval, milliseconds(250));
  ASSERT_EQ(s.switcher.core.rollback.on.size(), 1u);
  EXPECT_EQ(s.switcher.core.rollback.on[0].max_latency, milliseconds(25));
  EXPECT_EQ(s.switcher.core.rollback.on[0].window, milliseconds(500));
  EXPECT_EQ(s.load[0].timeout, milliseconds(500));
  EXPECT_EQ(s.load[0].start, milliseconds(250));
  EXPECT_EQ(*s.load[0].length, milliseconds(1000));
  EXPECT_DOUBLE_EQ(s.load[0].rate_per_s, 1000.0);  // rates stay
  EXPECT_EQ(s.services[0].instances, 2);           // counts stay
  EXPECT_EQ(s.timeline[2].at, milliseconds(1000));
  EXPECT_EQ(std::get<FaultAction>(s.timeline[3].action).text, "latency=+25.0 ms");
  EXPECT_EQ(std::get<FaultAction>(s.timeline[3].action).commands.front(), "fault latency=+25000us");
  bool sawSwitch = false, sawErrors = false;
  for (const auto& m : s.expect.measures) {
    if (m.key == "switch_latency") {
      sawSwitch = true;
      EXPECT_DOUBLE_EQ(m.bound.value, 100.0);
    }
    if (m.key == "app_errors") {
      sawErrors = true;
      EXPECT_DOUBLE_EQ(m.bound.value, 8.0);
    }
  }
  EXPECT_TRUE(sawSwitch);
  EXPECT_TRUE(sawErrors);
}

TEST(TimeScale, OneChangesNothing) {
  const auto a = loadScenarioText(kFile, "t.yaml");
  const auto b = loadScenarioText(kFile, "t.yaml", LoadOptions{{}, 1.0});
  ASSERT_TRUE(a.scenario && b.scenario);
  EXPECT_EQ(a.scenario->duration, b.scenario->duration);
  EXPECT_EQ(a.scenario->services[0].behaviour.latency.p99, b.scenario->services[0].behaviour.latency.p99);
}

TEST(TimeScale, OutOfRangeIsAnError) {
  // 1e-9 once passed validate and then ran a 6 ns scenario (invalid).
  for (double bad : {0.0, -1.0, 1e-9, 0.0099, 100.5, 1000.0}) {
    const auto out = loadScenarioText(kFile, "t.yaml", LoadOptions{{}, bad});
    ASSERT_FALSE(out.scenario.has_value()) << bad;
    EXPECT_NE(out.errors.front().str().find("--time-scale"), std::string::npos);
    EXPECT_NE(out.errors.front().str().find("between 0.01 and 100"), std::string::npos);
  }
  for (double edge : {kMinTimeScale, kMaxTimeScale})
    EXPECT_TRUE(loadScenarioText(kFile, "t.yaml", LoadOptions{{}, edge}).scenario.has_value()) << edge;
}

}  // namespace
}  // namespace cutover::scenario
