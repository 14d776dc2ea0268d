// The simulation through the real binary (issue 8): `cutover run --mode sim`
// gives a byte-identical report.json for the same file and seed, and a
// different one for another seed; `cutover calibrate` finds live and
// simulated runs agreeing where they must.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;

std::string scenarioPath(const std::string& name) { return std::string(CUTOVER_SOURCE_DIR) + "/scenarios/" + name; }

// Runs FILE in sim mode with SEED into DIR/NAME and returns its report.json.
std::string simReport(const fs::path& dir, const std::string& name, const std::string& file, int seed) {
  const auto out = dir / name;
  const int rc = runCutoverShell("run --mode sim -q " + file + " --seed " + std::to_string(seed) + " --out " + out.string());
  EXPECT_TRUE(rc == 0 || rc == 1) << name << ": exit " << rc;  // pass or failed expectation; not bad input/invalid
  return slurp(out / "report.json");
}

class SimDeterminism : public ::testing::TestWithParam<const char*> {};

TEST_P(SimDeterminism, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto dir = tempDir("sim", std::string(GetParam()).substr(0, std::string(GetParam()).find('.')));
  const auto file = scenarioPath(GetParam());
  const auto a = simReport(dir, "a", file, 7);
  const auto b = simReport(dir, "b", file, 7);
  const auto c = simReport(dir, "c", file, 8);
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "same seed, different report.json: diff " << (dir / "a") << " " << (dir / "b");
  EXPECT_NE(a, c) << "seeds 7 and 8 gave the same report.json";
  const auto j = nlohmann::json::parse(a);
  EXPECT_EQ(j["scenario"]["mode"], "sim");
  EXPECT_EQ(j["scenario"]["started_utc"], "");  // no wall clock in a sim report
  EXPECT_EQ(j["scenario"]["seed"], 7);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Library, SimDeterminism,
                         ::testing::Values("quickstart.yaml", "kill-old-at-once.yaml"));

// Dropped counts decided by the scenario (in flight at a kill, at the drain
// timeout, at the SIGKILL after an ignored SIGTERM) agree between a live and
// a simulated run: exactly, or within one request for kill-old-at-once;
// rollback detect latency within one health-check interval. Each lesson puts
// its steps half an arrival period off the arrival grid (its margin below);
// a live run whose steps, SIGKILLs or sends slipped by more than that
// against the simulation (calibration's live_slip_ms: a busy machine) may
// count a request on the other side, and is run again (3 tries); a
// difference with the live run on time fails at once. Full length: at
// --time-scale 0.5 the margins halve. Not under the sanitizers: they slow
// the live side, and this compares timing.
TEST(Calibrate, LiveAndSimAgreeOnDecidedDropsAndRollbackDetect) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "live timing under a sanitizer is not what the simulation models";
#endif
  struct Decided {
    double margin_ms, allowed;  // the live run's timing margin; the difference the test allows
  };
  const std::map<std::string, Decided> decided = {
      {"kill-old-at-once", {2.5, 1}}, {"drain-timeout-too-short", {50, 0}}, {"sigterm-ignored", {12.5, 0}}};
  const auto dir = tempDir("calibrate", "lessons");
  const std::string files = scenarioPath("kill-old-at-once.yaml") + " " + scenarioPath("drain-timeout-too-short.yaml") +
                            " " + scenarioPath("sigterm-ignored.yaml") + " " +
                            scenarioPath("green-fails-after-switch.yaml");
  nlohmann::json doc;
  std::string retried;  // why each earlier try did not count
  for (int attempt = 0; attempt < 3; ++attempt) {
    fs::remove_all(dir);
    const int rc = runCutoverShell("calibrate -q " + files + " --out " + dir.string(), std::chrono::seconds(180));
    if (rc != 0) {  // 3: a live run fell behind on a busy machine and was invalid
      retried += "try " + std::to_string(attempt + 1) + ": exit " + std::to_string(rc) + "\n";
      continue;
    }
    doc = readJson(dir / "calibration.json");
    std::string slipped;
    for (const auto& row : doc["scenarios"]) {
      const auto d = decided.find(row["scenario"].get<std::string>());
      if (d == decided.end()) continue;
      const double diff = std::abs(row["dropped"]["live"].get<double>() - row["dropped"]["sim"].get<double>());
      if (diff > d->second.allowed && row["live_slip_ms"].get<double>() >= d->second.margin_ms)
        slipped += row.dump() + "\n";
    }
    if (slipped.empty()) break;
    retried += "try " + std::to_string(attempt + 1) + ": live slipped past the margin: " + slipped;
    doc = nullptr;
  }
  ASSERT_FALSE(doc.is_null()) << "no try ran on time:\n" << retried;
  ASSERT_EQ(doc["scenarios"].size(), 4u);
  int checked = 0;
  for (const auto& row : doc["scenarios"]) {
    const std::string name = row["scenario"];
    if (name == "green-fails-after-switch") {
      EXPECT_EQ(row["rollback_agrees"], true) << row.dump();
      EXPECT_LE(std::abs(row["rollback_detect_latency_ms"]["live"].get<double>() -
                         row["rollback_detect_latency_ms"]["sim"].get<double>()),
                row["rollback_tolerance_ms"].get<double>());
    } else if (name == "kill-old-at-once") {
      EXPECT_EQ(row["dropped"]["sim"].get<double>(), 40) << row.dump();
      EXPECT_NEAR(row["dropped"]["live"].get<double>(), 40, 1) << row.dump();
    } else {
      EXPECT_EQ(row["dropped_agrees"], true) << row.dump();
      EXPECT_GT(row["dropped"]["live"].get<double>(), 0) << row.dump();
      EXPECT_EQ(row["dropped"]["live"], row["dropped"]["sim"]) << row.dump();
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
  EXPECT_NE(slurp(dir / "calibration.md").find("| drain-timeout-too-short | yes / yes | 15 / 15 |"), std::string::npos)
      << slurp(dir / "calibration.md");
  if (!retried.empty()) std::cerr << "calibrate tries that did not count:\n" << retried;
  fs::remove_all(dir);
}

TEST(Calibrate, BadInputRunsNothing) {
  const auto dir = tempDir("calibrate", "bad");
  const auto bad = dir / "bad.yaml";
  fs::create_directories(dir);
  std::ofstream(bad) << "name: bad\nduration: -1s\n";
  EXPECT_EQ(runCutoverShell("calibrate -q " + scenarioPath("kill-old-at-once.yaml") + " " + bad.string() +
                            " --out " + (dir / "out").string()),
            2);
  EXPECT_FALSE(fs::exists(dir / "out"));  // nothing ran, nothing written
  fs::remove_all(dir);
}

// `cutover explore` on the quickstart's explore block: failing seeds found,
// each with its replay command; the shrunk file is a plain scenario that
// fails when run on its own; the same seed replays the same failure.
TEST(Explore, FindsShrinksAndReplaysFailingSeeds) {
  const auto dir = tempDir("explore", "quickstart");
  const std::string file = std::string(CUTOVER_SOURCE_DIR) + "/scenarios/quickstart.yaml";
  ASSERT_EQ(runCutoverShell("explore " + file + " --runs 12 --shrink 1 --out " + dir.string() + " > " +
                            (dir.string() + ".txt")),
            1);
  const auto text = slurp(dir.string() + ".txt");
  const auto doc = readJson(dir / "explore.json");
  ASSERT_GE(doc["failures"].size(), 1u) << text;
  EXPECT_EQ(doc["runs"], 12);
  const auto& first = doc["failures"][0];
  const auto seed = first["seed"].get<std::uint64_t>();
  EXPECT_NE(text.find("reproduce: cutover explore " + file + " --seed " + std::to_string(seed) + " --runs 1"),
            std::string::npos)
      << text;
  ASSERT_TRUE(first.contains("minimal")) << first.dump();
  EXPECT_EQ(first["minimal"]["confirmed"], true);
  // It fails the way the seed did (a shrink once traded a seed's invalid run
  // for another fault's dropped requests and said "still fails").
  EXPECT_FALSE(first["kind"].get<std::string>().empty()) << first.dump();
  EXPECT_EQ(first["minimal"]["kind"], first["kind"]) << first.dump();
  EXPECT_LE(first["minimal"]["faults"].size(), first["faults"].size());
  EXPECT_GE(first["minimal"]["faults"].size(), 1u);
  // The minimal file fails on its own (exit 1 or 3), as a plain `run`.
  const std::string minimal = first["minimal"]["file"];
  const int rc = runCutoverShell("run --mode sim -q " + minimal + " --out " + (dir / "replay").string());
  EXPECT_TRUE(rc == 1 || rc == 3) << rc;
  EXPECT_EQ(slurp(minimal).find("explore:"), std::string::npos);
  // The same seed replays the same failure.
  ASSERT_EQ(runCutoverShell("explore " + file + " --seed " + std::to_string(seed) + " --runs 1 --shrink 0 --out " +
                            (dir / "again").string()),
            1);
  const auto again = readJson(dir / "again" / "explore.json");
  ASSERT_EQ(again["failures"].size(), 1u);
  EXPECT_EQ(again["failures"][0]["reason"], first["reason"]);
  EXPECT_EQ(again["failures"][0]["faults"], first["faults"]);
  // A later explore into the same directory leaves no minimal file of the
  // earlier one: here none of its seeds fail.
  ASSERT_EQ(runCutoverShell("explore " + file + " --runs 3 --shrink 1 --set 'explore.faults=[{between: [5s, 5s], "
                            "heal: blue}]' --out " + dir.string()),
            0);
  EXPECT_FALSE(fs::exists(minimal)) << minimal;
  fs::remove_all(dir);
  fs::remove(dir.string() + ".txt");
}

// A 0 dropped that the switcher's retries bought is no zero-downtime proof:
// the retries are a measure of every report, and `expect.switcher_retries`
// holds a run to a bound on them.
TEST(SwitcherRetries, AreReportedAndCanBeExpected) {
  const auto dir = tempDir("sim", "retries");
  const auto file = scenarioPath("instance-crash-retried.yaml");
  const auto run = [&](const std::string& name, const std::string& extra) {
    return runCutoverShell("run --mode sim -q " + file + " " + extra + " --out " + (dir / name).string());
  };
  ASSERT_EQ(run("plain", ""), 0);
  const auto plain = nlohmann::json::parse(slurp(dir / "plain" / "report.json"));
  const double retried = plain["measures"]["switcher_retries"].get<double>();
  EXPECT_GT(retried, 0.0) << plain["measures"].dump();
  EXPECT_EQ(plain["summary"]["dropped"], 0);
  EXPECT_NE(slurp(dir / "plain" / "summary.md").find("| switcher retries (upstream attempts after the first) | "),
            std::string::npos);
  EXPECT_NE(slurp(dir / "plain" / "report.html").find("switcher retries"), std::string::npos);

  ASSERT_EQ(run("none", "--set expect.switcher_retries=0"), 1);
  const auto none = nlohmann::json::parse(slurp(dir / "none" / "report.json"));
  ASSERT_EQ(none["verdict"]["failures"].size(), 1u) << none["verdict"].dump();
  EXPECT_NE(none["verdict"]["failures"][0].get<std::string>().find("switcher_retries: measured"), std::string::npos)
      << none["verdict"].dump();
  EXPECT_EQ(run("some", "--set 'expect.switcher_retries=<= " + std::to_string(static_cast<long>(retried)) + "'"), 0);
  EXPECT_EQ(run("bad", "--set expect.switcher_retries=many"), 2);
  fs::remove_all(dir);
}

TEST(Explore, AFileWithoutAnExploreBlockIsBadInput) {
  EXPECT_EQ(runCutoverShell("explore " + std::string(CUTOVER_SOURCE_DIR) + "/scenarios/kill-old-at-once.yaml"), 2);
}

// Where explore's files cannot go: an --out that is a file is bad input
// before anything runs; an explore.json that cannot be written is exit 3
// (it said "explore.json" and exit 0 with nothing written).
TEST(Explore, FilesThatCannotBeWrittenAreNotReportedAsWritten) {
  const auto dir = tempDir("explore", "unwritable");
  const std::string file = scenarioPath("quickstart.yaml");
  std::ofstream(dir / "afile") << "x";
  EXPECT_EQ(runCutoverShell("explore " + file + " --runs 2 --out " + (dir / "afile").string()), 2);
  fs::create_directories(dir / "out" / "explore.json" / "in-the-way");
  EXPECT_EQ(runCutoverShell("explore " + file + " --runs 2 --shrink 0 --out " + (dir / "out").string()), 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cutover::testing
