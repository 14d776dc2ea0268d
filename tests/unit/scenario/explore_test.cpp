// Fault search, the deciding part: swarm draws per seed, the timeline with
// the drawn faults, shrinking with a predicate standing in for the runs, and
// the loader's checks of the explore block.
#include "sim/scenario/explore.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "sim/scenario/loader.hpp"

namespace cutover::scenario {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const char* kFile = R"(name: ex
duration: 6s
services: { blue: { version: v1 }, green: { version: v2 } }
load:
  - { rate: 100/s }
timeline:
  - { at: 0s, start: blue }
  - { at: 1s, start: green }
  - { at: 2s, switch: green }
explore:
  faults:
    - { between: [2s, 5s], kill: green-1 }
    - { between: [1s, 4s], stop: blue }
    - { between: [3s, 3s], fault: { target: green, error_rate: 50% } }
    - { between: [0s, 6s], heal: green }
)";

Scenario load(const std::string& text = kFile) {
  const auto out = loadScenarioText(text, "ex.yaml");
  EXPECT_TRUE(out.errors.empty()) << (out.errors.empty() ? "" : out.errors.front().str());
  return *out.scenario;
}

TEST(Explore, LoadsFaultsWithTheirBoundsScaled) {
  const auto s = load();
  ASSERT_EQ(s.explore.size(), 4u);
  EXPECT_EQ(s.explore[0].from, 2s);
  EXPECT_EQ(s.explore[0].to, 5s);
  EXPECT_EQ(describeAction(s.explore[0].step.action), "SIGKILL green-1");
  LoadOptions half;
  half.time_scale = 0.5;
  const auto scaled = loadScenarioText(kFile, "ex.yaml", half);
  ASSERT_TRUE(scaled.errors.empty());
  EXPECT_EQ(scaled.scenario->explore[1].to, 2s);
}

TEST(Explore, DrawsAreDeterministicPerSeedWithinBoundsAndSwarm) {
  const auto s = load();
  std::set<std::size_t> sizes;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    Rng a(seed), b(seed);
    const auto d = drawFaults(s, a);
    EXPECT_EQ(d, drawFaults(s, b));
    sizes.insert(d.size());
    for (const auto& f : d) {
      EXPECT_GE(f.at, s.explore[f.fault].from);
      EXPECT_LE(f.at, s.explore[f.fault].to);
      EXPECT_EQ(f.at % std::chrono::milliseconds(1), Duration::zero());
    }
  }
  // Swarm: every count of faults from none to all four occurs.
  EXPECT_EQ(sizes, (std::set<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(Explore, WithFaultsAddsTimedStepsInOrderAndDropsTheBlock) {
  const auto s = load();
  const auto t = withFaults(s, {{0, 2500ms}, {2, 3s}, {1, 1500ms}});
  EXPECT_TRUE(t.explore.empty());
  ASSERT_EQ(t.timeline.size(), 6u);
  EXPECT_TRUE(std::is_sorted(t.timeline.begin(), t.timeline.end(),
                             [](const TimelineStep& a, const TimelineStep& b) { return a.at < b.at; }));
  EXPECT_EQ(describeAction(t.timeline[2].action), "stop blue");
  EXPECT_EQ(t.timeline[2].at, 1500ms);
  EXPECT_EQ(describeDraws(s, {{0, 2500ms}}), "SIGKILL green-1 at 2.500 s");
}

TEST(Explore, ShrinkKeepsOnlyWhatStillFailsAndMovesTimesToTheirStart) {
  const auto s = load();
  // Stands in for the simulations: fails whenever green-1 is killed after 2.2 s.
  int calls = 0;
  const auto fails = [&](const std::vector<FaultDraw>& d) {
    ++calls;
    return std::any_of(d.begin(), d.end(), [](const FaultDraw& f) { return f.fault == 0 && f.at > 2200ms; });
  };
  const std::vector<FaultDraw> failing = {{1, 3s}, {0, 4s}, {3, 5s}, {2, 3s}};
  const auto r = shrink(failing, s, fails);
  ASSERT_EQ(r.draws.size(), 1u);
  EXPECT_EQ(r.draws[0].fault, 0u);
  EXPECT_EQ(r.draws[0].at, 4s);  // moving it to its `from` (2 s) passes, so it stays
  EXPECT_EQ(r.runs, calls);
  // A fault that fails at any time is moved to its `from`.
  const auto any = shrink({{3, 5s}}, s, [](const std::vector<FaultDraw>& d) { return !d.empty(); });
  ASSERT_EQ(any.draws.size(), 1u);
  EXPECT_EQ(any.draws[0].at, 0s);
  // The budget bounds the runs.
  EXPECT_LE(shrink(failing, s, [](const std::vector<FaultDraw>&) { return true; }, 2).runs, 2);
}

std::string errorsOf(const std::string& extra) {
  std::string all;
  for (const auto& e : loadScenarioText(std::string(kFile) + extra, "ex.yaml").errors) all += e.str() + "\n";
  return all;
}

TEST(Explore, BadBlocksNameFileLineAndKey) {
  // Read errors, all in one pass.
  const auto read = errorsOf("    - { between: [5s, 1s], kill: green-2 }\n"
                             "    - { between: [1s], kill: blue-1 }\n"
                             "    - { at: 1s, between: [1s, 2s], kill: blue-1 }\n");
  EXPECT_THAT(read, HasSubstr("ex.yaml:16:"));
  EXPECT_THAT(read, HasSubstr("explore.faults.4.between: from must not be after to"));
  EXPECT_THAT(read, HasSubstr("explore.faults.5.between: expected [from, to]"));
  EXPECT_THAT(read, HasSubstr("explore.faults.6.at: unknown key"));
  // Checks against the rest of the file (once it reads).
  const auto semantic = errorsOf("    - { between: [1s, 9s], stop: purple }\n"
                                 "    - { between: [1s, 2s], start: green }\n");
  EXPECT_THAT(semantic, HasSubstr("explore.faults.4: no service named 'purple'"));
  EXPECT_THAT(semantic, HasSubstr("explore.faults.5.start: a fault cannot start a pool"));
}

// A window past the end of the run: `run` (which ignores the block) loads
// the file, `cutover explore` refuses it with file:line:col and key.
TEST(Explore, AWindowPastTheEndIsForExploreToRefuse) {
  const auto out = loadScenarioText(kFile, "ex.yaml", {"duration=4s"});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto late = windowsPastTheEnd(*out.scenario);
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0], "ex.yaml:12:7: explore.faults.0.between: ends at 5.000 s, after the end of the run (4.000 s)");
  EXPECT_THAT(late[1], HasSubstr("explore.faults.3.between: ends at 6.000 s"));
  EXPECT_TRUE(windowsPastTheEnd(load()).empty());
}

// An instance that does not exist (green-9 of 1): `run` loads the file, as
// it ignores the block; `cutover explore` refuses it, as it would act on nothing.
TEST(Explore, AFaultOnANonexistentInstanceIsForExploreToRefuse) {
  const auto out = loadScenarioText(kFile, "ex.yaml", {"explore.faults.0.kill=green-9"});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto missing = faultTargetsMissing(*out.scenario);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "ex.yaml:12:7: explore.faults.0: no instance named 'green-9': green's instances are green-1 "
                        "(instances, or the largest scale step)");
  EXPECT_TRUE(faultTargetsMissing(load()).empty());
}

}  // namespace
}  // namespace cutover::scenario
