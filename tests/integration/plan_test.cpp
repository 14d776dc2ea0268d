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
      "smallest services.green.instances with p99 < 50ms and 0 dropped during the cutover at load.0.rate=0.4k/s: 3";
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
