// `cutover plan` through the real binary (issue 8, capacity planning): the
// grid and its files, a monotone check on an overloaded grid, the answer
// line, the Erlang-C estimate against M/M/1 closed forms, bad input -> 2.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;

struct Ran {
  int rc = -1;
  std::string out;  // stdout and stderr
};

Ran plan(const fs::path& dir, const std::string& args) {
  const auto log = dir / "plan.log";
  const int rc = runCutoverShell("plan -q " + args + " >" + log.string() + " 2>&1");
  return {rc, slurp(log)};
}

// Queueing dominates: lognormal 10 ms (mean ~11.5 ms), 2 slots per instance,
// a long FIFO; one green instance serves ~175/s, so 400/s needs 3.
constexpr const char* kQueueing = R"(name: plan-queueing
seed: 5
duration: 3s
services:
  blue:
    version: v1
    instances: 4
    latency: { distribution: lognormal, p50: 10ms, p99: 30ms }
    capacity: { max_in_flight: 2, overflow: queue, queue: 2000 }
  green:
    version: v2
    instances: 2
    latency: { distribution: lognormal, p50: 10ms, p99: 30ms }
    capacity: { max_in_flight: 2, overflow: queue, queue: 2000 }
load:
  - { arrivals: poisson, rate: 400/s, connections: 256, timeout: 2s }
timeline:
  - { at: 0s, start: blue }
  - { at: 0s, start: green }
  - { at: 1s, switch: green }
  - { at: 2s, signal: { target: blue, signal: SIGTERM } }
)";

fs::path writeScenario(const fs::path& dir, const std::string& text) {
  const auto p = dir / "scenario.yaml";
  std::ofstream(p) << text;
  return p;
}


TEST(Plan, TwoKeyGridGivesEveryPointAndTheThreeFiles) {
  const auto dir = tempDir("plan", "grid");
  const auto file = writeScenario(dir, kQueueing);
  const auto r = plan(dir, file.string() + " --sweep services.green.instances=2..4 --sweep load.0.rate=100/s..300/s"
                                           " --steps 2 --out " + (dir / "out").string());
  ASSERT_EQ(r.rc, 0) << r.out;  // no question asked
  const auto j = readJson(dir / "out" / "plan.json");
  ASSERT_EQ(j["points"].size(), 6u);
  EXPECT_EQ(j["sweeps"][1]["values"], nlohmann::json({"100/s", "300/s"}));
  for (const auto& p : j["points"]) {
    EXPECT_TRUE(p.contains("p99_switch_window_ms") && p["p99_switch_window_ms"].is_number()) << p.dump();
    EXPECT_TRUE(p["utilisation"].is_number());
    EXPECT_TRUE(p["erlang_c"].is_object());
  }
  std::ifstream md(dir / "out" / "plan.md");
  std::string line;
  int rows = 0;
  while (std::getline(md, line)) rows += line.starts_with("| 2 |") || line.starts_with("| 3 |") || line.starts_with("| 4 |");
  EXPECT_EQ(rows, 6);
  std::ifstream svgIn(dir / "out" / "plan.svg");
  std::ostringstream svg;
  svg << svgIn.rdbuf();
  std::size_t lines = 0;
  for (auto at = svg.str().find("<polyline"); at != std::string::npos; at = svg.str().find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u) << "one line per rate";
  EXPECT_TRUE(svg.str().starts_with("<svg"));
}

TEST(Plan, MoreInstancesNeverRaiseSwitchWindowP99MuchOnAnOverloadedGrid) {
  const auto dir = tempDir("plan", "monotone");
  const auto file = writeScenario(dir, kQueueing);
  const auto r = plan(dir, file.string() + " --sweep services.green.instances=1..5 --min-window 1s --out " +
                               (dir / "out").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = readJson(dir / "out" / "plan.json");
  ASSERT_EQ(j["points"].size(), 5u);
  std::vector<double> p99;
  for (const auto& p : j["points"]) p99.push_back(p["p99_switch_window_ms"].get<double>());
  for (std::size_t i = 1; i < p99.size(); ++i)
    EXPECT_LE(p99[i], p99[i - 1] * 1.25 + 5.0) << "instances " << i + 1 << " vs " << i;
  EXPECT_GT(p99[0], 5 * p99[4]) << "one instance is overloaded (utilisation > 2), five are not";
  EXPECT_GT(j["points"][0]["utilisation"].get<double>(), 2.0);
  EXPECT_FALSE(j["points"][0]["erlang_c"]["stable"].get<bool>());
}

TEST(Plan, AnswerLineForAKnownCaseAndNoneInTheGrid) {
  const auto dir = tempDir("plan", "answer");
  const auto file = writeScenario(dir, kQueueing);
  // A 2 s window (the switch to the end): at 400/s two instances run at
  // utilisation 1.1 and their queue grows for 2 s (p99 over 200 ms at seeds
  // 5, 6 and 7); three run at 0.75 (p99 about 32 ms). A shorter window would
  // end before the queue has grown and make the answer a matter of the draws.
  const std::string grid = file.string() +
                           " --sweep services.green.instances=1..5 --sweep load.0.rate=200/s,400/s --min-window 2s";
  const auto r = plan(dir, grid + " --p99-under 50ms --rate 0.4k/s --out " + (dir / "a").string());
  EXPECT_EQ(r.rc, 0) << r.out;
  const std::string want =
      "smallest services.green.instances with p99 < 50ms in the switch window and 0 dropped from the switch on at "
      "load.0.rate=0.4k/s: 3";
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
  std::ifstream md(dir / "a" / "plan.md");
  std::ostringstream s;
  s << md.rdbuf();
  EXPECT_NE(s.str().find(want), std::string::npos);
  EXPECT_EQ(readJson(dir / "a" / "plan.json")["question"]["answer"], "3");

  const auto none = plan(dir, grid + " --p99-under 1ms --rate 400/s --out " + (dir / "b").string());
  EXPECT_EQ(none.rc, 1) << none.out;
  EXPECT_NE(none.out.find(": none in the grid"), std::string::npos) << none.out;
}

// Drops before the switch are the old pool's: blue resets requests at
// 0.2-0.4 s, green is sized by the question. The answer counts drops from
// the switch window on (it once counted the whole run: "none in the grid").
// The capacity is green's when the switch is made: 3 instances after its
// `scale:` step, whatever it started with.
TEST(Plan, TheQuestionCountsDropsFromTheSwitchOnAndCapacityFollowsScaleSteps) {
  const auto dir = tempDir("plan", "pre-switch");
  std::string text = kQueueing;
  text.replace(text.find("  - { at: 1s, switch: green }"), 0,
               "  - { at: 200ms, fault: { target: blue, kind: reset } }\n  - { at: 400ms, heal: blue }\n"
               "  - { at: 500ms, scale: { pool: green, instances: 3 } }\n");
  const auto file = writeScenario(dir, text);
  const auto r = plan(dir, file.string() + " --sweep services.green.instances=1..2 --p99-under 50ms --min-window 1500ms"
                                           " --out " + (dir / "out").string());
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("0 dropped from the switch on: 1"), std::string::npos) << r.out;
  const auto doc = readJson(dir / "out" / "plan.json");
  for (const auto& p : doc["points"]) {
    EXPECT_GT(p["dropped"].get<int>(), 0) << p.dump();  // the resets before the switch
    EXPECT_EQ(p["dropped_from_switch"], 0) << p.dump();
    EXPECT_EQ(p["capacity"]["instances"], 3) << p.dump();
    // --min-window: the window is at least 1.5 s from the switch at 1 s.
    EXPECT_GE(p["switch_window"]["to_s"].get<double>(), 2.5) << p.dump();
  }
  EXPECT_EQ(doc["question"]["min_window_ms"], 1500.0);
  fs::remove_all(dir);
}

// An old pool that never drains (a hang holds blue-1): the window is switch
// + 2 s, or --min-window when longer (it was 2 s whatever the flag said).
TEST(Plan, TheMinimumWindowHoldsWhenTheOldPoolNeverDrains) {
  const auto dir = tempDir("plan", "never-drains");
  std::string text = kQueueing;
  text.replace(text.find("duration: 3s"), 12, "duration: 6s");
  text.replace(text.find("  - { at: 2s, signal: { target: blue, signal: SIGTERM } }"), 57,
               "  - { at: 500ms, fault: { target: blue-1, kind: hang } }");
  const auto file = writeScenario(dir, text);
  for (const char* w : {"0s", "3s"}) {
    const auto out = dir / w;
    ASSERT_EQ(plan(dir, file.string() + " --sweep services.green.instances=3 --min-window " + w + " --out " +
                            out.string()).rc,
              0);
    const auto doc = readJson(out / "plan.json");
    const auto& win = doc["points"][0]["switch_window"];
    const double length = win["to_s"].get<double>() - win["from_s"].get<double>();
    EXPECT_GE(length, std::string(w) == "3s" ? 3.0 : 2.0) << w << " " << win.dump();
    EXPECT_LT(length, std::string(w) == "3s" ? 3.2 : 2.2) << w << " " << win.dump();
  }
  fs::remove_all(dir);
}

TEST(Plan, ErlangCMatchesMM1ClosedForms) {
  const auto dir = tempDir("plan", "mm1");
  const auto file = writeScenario(dir, R"(name: plan-mm1
duration: 2s
services:
  blue: { version: v1, instances: 1, latency: 10ms, capacity: { max_in_flight: 1, overflow: queue, queue: 5000 } }
load:
  - { arrivals: poisson, rate: 50/s, connections: 64, timeout: 5s }
timeline:
  - { at: 0s, start: blue }
)");
  const auto r = plan(dir, file.string() + " --sweep services.blue.instances=1 --out " + (dir / "out").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = readJson(dir / "out" / "plan.json");
  const auto& p = j["points"][0];
  EXPECT_NEAR(p["utilisation"].get<double>(), 0.5, 1e-9);  // 50/s x 10 ms / 1
  const auto& e = p["erlang_c"];
  EXPECT_NEAR(e["p_wait"].get<double>(), 0.5, 1e-9);                     // M/M/1: rho
  EXPECT_NEAR(e["mean_wait_ms"].get<double>(), 10.0, 1e-6);              // rho / (mu - lambda)
  EXPECT_NEAR(e["response_p99_ms"].get<double>(), 1e3 * std::log(100.0) / 50.0, 1e-3);  // Exp(mu - lambda)
  EXPECT_TRUE(p["switch_window"].is_null());  // no switch in this scenario
}

TEST(Plan, BadSweepsExitTwoBeforeAnythingRuns) {
  const auto dir = tempDir("plan", "bad");
  const auto file = writeScenario(dir, kQueueing).string();
  const auto out = " --out " + (dir / "out").string();
  const auto unknown = plan(dir, file + " --sweep services.green.instancez=1..3" + out);
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.out.find("services.green.instancez"), std::string::npos) << unknown.out;
  const auto badValue = plan(dir, file + " --sweep load.0.rate=fast,slow" + out);
  EXPECT_EQ(badValue.rc, 2);
  EXPECT_NE(badValue.out.find("load.0.rate"), std::string::npos) << badValue.out;
  EXPECT_EQ(plan(dir, file + " --sweep load.0.rate=1k/s..5ms" + out).rc, 2);
  EXPECT_EQ(plan(dir, file + " --sweep services.green.instances=5..2" + out).rc, 2);
  EXPECT_EQ(plan(dir, file + " --sweep services.green.instances" + out).rc, 2);
  const auto big = plan(dir, file + " --sweep services.green.instances=1..30 --sweep load.0.rate=1/s..30/s --steps 20" + out);
  EXPECT_EQ(big.rc, 2);
  EXPECT_NE(big.out.find("600 points"), std::string::npos) << big.out;
  const auto rateOff = plan(dir, file + " --sweep services.green.instances=1..2 --sweep load.0.rate=100/s,200/s"
                                        " --p99-under 50ms --rate 300/s" + out);
  EXPECT_EQ(rateOff.rc, 2);
  EXPECT_NE(rateOff.out.find("not a value of load.0.rate"), std::string::npos) << rateOff.out;
  EXPECT_EQ(plan(dir, file + " --sweep services.green.instances=1..2 --max-app-errors 0" + out).rc, 2);
  EXPECT_EQ(plan(dir, file + " --sweep services.green.instances=1..2 --rate 400/s" + out).rc, 2);
  // --steps 1 would keep only the lower end of a range.
  const auto oneStep = plan(dir, file + " --sweep load.0.rate=100/s..200/s --steps 1" + out);
  EXPECT_EQ(oneStep.rc, 2);
  EXPECT_NE(oneStep.out.find("needs --steps 2 or more"), std::string::npos) << oneStep.out;
  EXPECT_EQ(plan(dir, file + " --sweep services.green.instances=1..2 --seed -1" + out).rc, 2);
  // The rate the question fixes cannot be the key it answers.
  const auto rateFirst = plan(dir, file + " --sweep load.0.rate=100/s,200/s --p99-under 50ms --rate 150/s" + out);
  EXPECT_EQ(rateFirst.rc, 2);
  EXPECT_NE(rateFirst.out.find("the key the question answers"), std::string::npos) << rateFirst.out;
  // A switch window longer than the run was once accepted (every point's window ran past its end).
  const auto longWindow = plan(dir, file + " --sweep services.green.instances=1..2 --min-window 1000h" + out);
  EXPECT_EQ(longWindow.rc, 2);
  EXPECT_NE(longWindow.out.find("--min-window 1000h is longer than the run"), std::string::npos) << longWindow.out;
  EXPECT_FALSE(fs::exists(dir / "out" / "plan.json"));
}

// A plan whose files cannot be written (here plan.json is a directory)
// leaves none of them: exit 3, as a run whose reports failed.
TEST(Plan, FilesThatCannotBeWrittenLeaveNone) {
  const auto dir = tempDir("plan", "unwritable");
  const auto file = writeScenario(dir, kQueueing).string();
  fs::create_directories(dir / "out" / "plan.json" / "in-the-way");
  const auto r = plan(dir, file + " --sweep services.green.instances=1..2 --out " + (dir / "out").string());
  EXPECT_EQ(r.rc, 3) << r.out;
  for (const char* f : {"plan.md", "plan.svg", "plan.json.tmp"}) EXPECT_FALSE(fs::exists(dir / "out" / f)) << f;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cutover::testing
