// `when:` conditions and `scale` steps in the simulator: the same semantics as
// the live runner (sim/scenario/timeline.hpp), in virtual time.
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/des/sim_runner.hpp"
#include "sim/scenario/loader.hpp"

namespace cutover::des {
namespace {

scenario::Scenario text(const std::string& yaml) {
  const auto out = scenario::loadScenarioText(yaml, "inline.yaml");
  if (!out.errors.empty()) ADD_FAILURE() << out.errors.front().str();
  return *out.scenario;
}

const TimedEvent* find(const RunResult& r, const std::string& kind, const std::string& target = "") {
  const auto it = std::find_if(r.events.begin(), r.events.end(), [&](const TimedEvent& e) {
    return e.kind == kind && (target.empty() || e.target == target);
  });
  return it == r.events.end() ? nullptr : &*it;
}

const char* kBase = R"(name: c
duration: 4s
services:
  blue: { instances: 2, latency: 5ms }
  green: { instances: 1, latency: 5ms, startup: { ready_after: 300ms } }
load:
  - { rate: 200/s, connections: 8 }
timeline:
  - { at: 0s, start: blue }
  - { at: 500ms, start: green }
  - { at: 500ms, when: { healthy: green, within: 2s }, switch: green }
  - { when: { drained: blue, within: 3s }, stop: blue }
  - { at: 2s, scale: { pool: green, instances: 3 } }
  - { at: 3s, scale: { pool: green, instances: 1 } }
expect: { dropped: 0, final_active: green }
)";

TEST(SimConditions, SwitchWhenHealthyThenStopWhenDrainedThenScale) {
  const auto r = runSim(text(kBase), SimOptions{});
  ASSERT_TRUE(r.verdict.valid) << (r.verdict.invalid_reasons.empty() ? "" : r.verdict.invalid_reasons.front());
  const auto* met = find(r, "condition_met", "healthy: green");
  ASSERT_NE(met, nullptr);
  // Ready 300 ms after its start at 0.5 s, not before.
  EXPECT_GE(met->t_s, 0.8 - 1e-9);
  EXPECT_LT(met->t_s, 1.0);
  const auto* switched = find(r, "switched", "green");
  ASSERT_NE(switched, nullptr);
  EXPECT_DOUBLE_EQ(switched->t_s, met->t_s);
  const auto* drained = find(r, "condition_met", "drained: blue");
  ASSERT_NE(drained, nullptr);
  EXPECT_GE(drained->t_s, switched->t_s);
  EXPECT_NE(find(r, "spawned", "green-3"), nullptr);
  EXPECT_NE(find(r, "scaled_down", "green-3"), nullptr);
  EXPECT_NE(find(r, "scaled_down", "green-2"), nullptr);
  EXPECT_EQ(find(r, "scaled_down", "green-1"), nullptr);
  EXPECT_EQ(r.summary.outcomes.dropped(), 0u);
  EXPECT_EQ(r.final_active, "green");
}

TEST(SimConditions, AConditionNeverMetMakesTheRunInvalid) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("ready_after: 300ms"), 18, "ready_after: 3s");
  yaml.replace(yaml.find("healthy: green, within: 2s"), 26, "healthy: green, within: 1s");
  const auto r = runSim(text(yaml), SimOptions{});
  EXPECT_FALSE(r.verdict.valid);
  ASSERT_FALSE(r.verdict.invalid_reasons.empty());
  EXPECT_NE(r.verdict.invalid_reasons.front().find("waiting for 'healthy: green' did not happen"), std::string::npos)
      << r.verdict.invalid_reasons.front();
  EXPECT_NE(find(r, "condition_missed"), nullptr);
}

}  // namespace
}  // namespace cutover::des
