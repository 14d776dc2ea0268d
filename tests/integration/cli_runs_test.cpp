// cutover run --repeat / matrix:, --time-scale, --mode sim, and cutover report,
// through the real binary. Sim mode keeps these fast and exact.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;

const char* kMatrix = R"(name: mx
duration: 2s
services:
  blue: { version: v1, instances: 1, latency: 20ms }
  green: { version: v2, instances: 1, latency: 20ms }
load:
  - { rate: 100/s, connections: 8 }
timeline:
  - { at: 0s, start: blue }
  - { at: 200ms, start: green }
  - { at: 1s, switch: green }
  - { at: 1s, kill: blue }
matrix:
  load.0.rate: [100/s, 200/s]
  services.blue.latency: [20ms, 40ms]
expect: { final_active: green }
)";

TEST(CliRuns, MatrixTimesRepeatWritesOneReportPerRunAndAnAggregate) {
  const auto dir = tempDir("cli", "matrix");
  std::ofstream(dir / "mx.yaml") << kMatrix;
  const int rc = runCutoverShell("run --mode sim -q --repeat 2 " + (dir / "mx.yaml").string() + " --out " + (dir / "out").string());
  EXPECT_EQ(rc, 0);
  const auto agg = readJson(dir / "out" / "aggregate.json");
  ASSERT_EQ(agg["combinations"].size(), 4u);
  ASSERT_TRUE(fs::exists(dir / "out" / "aggregate.md"));
  for (const auto& c : agg["combinations"]) {
    EXPECT_EQ(c["passed"], 2) << c.dump();
    ASSERT_EQ(c["runs"].size(), 2u);
    EXPECT_EQ(c["runs"][1]["seed"].get<int>(), c["runs"][0]["seed"].get<int>() + 1);
    for (const auto& r : c["runs"]) EXPECT_TRUE(fs::exists(fs::path(r["dir"].get<std::string>()) / "report.json"));
    // Killing blue with requests in flight drops rate x latency of them: the
    // aggregate holds min <= median <= max, and the grid shows the product.
    const auto& d = c["stats"]["dropped"];
    EXPECT_LE(d["min"].get<double>(), d["median"].get<double>());
    EXPECT_LE(d["median"].get<double>(), d["max"].get<double>());
  }
  const auto dropsOf = [&](int i) { return agg["combinations"][i]["stats"]["dropped"]["median"].get<double>(); };
  // Order: rate 100 x (20ms, 40ms), rate 200 x (20ms, 40ms).
  EXPECT_LT(dropsOf(0), dropsOf(1));
  EXPECT_LT(dropsOf(0), dropsOf(2));
  EXPECT_LT(dropsOf(2), dropsOf(3));
  fs::remove_all(dir);
}

// kMatrix with one value list replaced, run in sim into DIR/out: the exit code.
int runMatrixWith(const fs::path& dir, const std::string& list, const std::string& with) {
  std::string text = kMatrix;
  text.replace(text.find(list), list.size(), with);
  std::ofstream(dir / "mx.yaml") << text;
  return runCutoverShell("run --mode sim -q " + (dir / "mx.yaml").string() + " --out " + (dir / "out").string());
}

TEST(CliRuns, ABadMatrixValueStopsBeforeAnythingRuns) {
  const auto dir = tempDir("cli", "badmatrix");
  EXPECT_EQ(runMatrixWith(dir, "[20ms, 40ms]", "[20ms, soon]"), 2);
  EXPECT_FALSE(fs::exists(dir / "out"));
  fs::remove_all(dir);
}

TEST(CliRuns, TimeScaleShortensTheRunAndIsRecorded) {
  const auto dir = tempDir("cli", "scale");
  std::ofstream(dir / "mx.yaml") << std::string(kMatrix).substr(0, std::string(kMatrix).find("matrix:"));
  ASSERT_EQ(runCutoverShell("run --mode sim -q --time-scale 0.5 " + (dir / "mx.yaml").string() + " --out " + (dir / "out").string()), 0);
  const auto r = readJson(dir / "out" / "report.json");
  EXPECT_DOUBLE_EQ(r["scenario"]["duration_s"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r["scenario"]["time_scale"].get<double>(), 0.5);
  EXPECT_EQ(r["summary"]["intended"].get<int>(), 100);  // 100/s for 1 s: rates are not scaled
  fs::remove_all(dir);
}

TEST(CliRuns, ReportRendersEveryFormatAgainFromReportJson) {
  const auto dir = tempDir("cli", "report");
  std::ofstream(dir / "mx.yaml") << std::string(kMatrix).substr(0, std::string(kMatrix).find("matrix:"));
  ASSERT_EQ(runCutoverShell("run --mode sim -q " + (dir / "mx.yaml").string() + " --out " + (dir / "out").string()), 0);
  for (const char* f : {"junit.xml", "summary.md", "report.html"}) {
    ASSERT_TRUE(fs::exists(dir / "out" / f)) << f;
    fs::remove(dir / "out" / f);
  }
  EXPECT_EQ(runCutoverShell("report " + (dir / "out").string()), 0);
  for (const char* f : {"junit.xml", "summary.md", "report.html"}) EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  EXPECT_EQ(runCutoverShell("report " + (dir / "nowhere").string()), 2);
  fs::remove_all(dir);
}

// A live run (the built-in switcher is always there); it checks compare's
// plumbing, not pacing, so the lateness rule is loosened.
TEST(CliRuns, CompareWritesATableAndEachSwitchersFullReports) {
  const auto dir = tempDir("cli", "compare");
  const int rc = runCutoverShell("compare " + sourceDir() + "/scenarios/kill-old-at-once.yaml -q --switchers builtin " +
                            "--time-scale 0.5 --set validity.max_late_sends=100% --out " + (dir / "out").string());
  EXPECT_EQ(rc, 0);
  const auto table = readJson(dir / "out" / "compare.json");
  ASSERT_EQ(table["switchers"].size(), 1u);
  const auto& row = table["switchers"][0];
  EXPECT_EQ(row["switcher"], "builtin");
  EXPECT_GT(row["dropped"].get<int>(), 0);  // blue is killed with requests in flight
  EXPECT_TRUE(fs::exists(dir / "out" / "compare.md"));
  // The requests in flight at the kill were retried (and failed again).
  EXPECT_GT(row["measures"]["switcher_retries"].get<double>(), 0.0) << row.dump();
  EXPECT_NE(slurp(dir / "out" / "compare.md").find("| retries |"), std::string::npos);
  // The run behind the row has the same reports as `cutover run`, dropped list included.
  const auto report = readJson(dir / "out" / "builtin" / "report.json");
  EXPECT_EQ(report["dropped_requests"]["total"], row["dropped"]);
  for (const char* f : {"junit.xml", "summary.md", "report.html"}) EXPECT_TRUE(fs::exists(dir / "out" / "builtin" / f)) << f;
  fs::remove_all(dir);
}

// A report that cannot be written (here summary.md is a directory) leaves
// no report at all: before, report.json and junit.xml said PASS beside exit 3.
TEST(CliRuns, AReportThatCannotBeWrittenLeavesNoneThatLooksLikeSuccess) {
  const auto dir = tempDir("cli", "unwritable");
  std::ofstream(dir / "one.yaml") << R"(name: one
duration: 1s
services: { blue: { version: v1 } }
load: [ { rate: 100/s } ]
timeline: [ { at: 0s, start: blue } ]
expect: { dropped: 0 }
)";
  fs::create_directories(dir / "out" / "summary.md" / "in-the-way");
  const int rc = runCutoverShell("run --mode sim -q " + (dir / "one.yaml").string() + " --out " + (dir / "out").string());
  EXPECT_EQ(rc, 3);
  for (const char* f : {"report.json", "junit.xml", "report.html", "summary.md.tmp"})
    EXPECT_FALSE(fs::exists(dir / "out" / f)) << f;
  fs::remove_all(dir);
}

// Flags that would run something other than asked are bad input (exit 2):
// an empty --out (the default directory instead), a switcher named twice
// in compare (one directory for two runs).
TEST(CliRuns, FlagsThatWouldRunSomethingElseAreBadInput) {
  const std::string file = sourceDir() + "/scenarios/quickstart.yaml";
  EXPECT_EQ(runCutoverShell("run --mode sim -q " + file + " --out ''"), 2);
  EXPECT_EQ(runCutoverShell("compare -q " + file + " --switchers builtin,builtin"), 2);
  EXPECT_EQ(runCutoverShell("explore " + file + " --runs 2 --seed 9223372036854775807"), 2);
  // --repeat's seeds run past the largest one a run could be replayed with.
  EXPECT_EQ(runCutoverShell("run --mode sim -q " + file + " --seed 9223372036854775807 --repeat 3"), 2);
  // Nothing serves /metrics in virtual time: the flag would do nothing.
  EXPECT_EQ(runCutoverShell("run --mode sim -q " + file + " --metrics-port 9464"), 2);
  // A key inside a service the file lacks is a typo, not a new service.
  EXPECT_EQ(runCutoverShell("run --mode sim -q " + file + " --set services.gren.instances=3"), 2);
}

// A file past the live limits but fine for the simulator is listed as such,
// not as invalid (exit 2 before).
TEST(CliRuns, ListShowsSimOnlyFilesAsSuch) {
  const auto dir = tempDir("cli", "list");
  const auto log = dir / "list.txt";
  EXPECT_EQ(runCutoverShell("list " + sourceDir() + "/scenarios/sim-only > " + log.string()), 0);
  EXPECT_NE(slurp(log).find("hour-at-50k.yaml             (--mode sim only)"), std::string::npos) << slurp(log);
  fs::remove_all(dir);
}

// Two matrix combinations that would share a directory (a value listed
// twice) would overwrite each other's runs: refused before anything runs.
TEST(CliRuns, MatrixCombinationsSharingADirectoryAreBadInput) {
  const auto dir = tempDir("cli", "samedir");
  EXPECT_EQ(runMatrixWith(dir, "[100/s, 200/s]", "[100/s, 100/s]"), 2);
  EXPECT_FALSE(fs::exists(dir / "out" / "aggregate.json"));
  fs::remove_all(dir);
}

// --repeat into the directory of an earlier single run: that run's
// junit.xml and summary.md (PASS) must not stay beside a failing aggregate.
TEST(CliRuns, ARepeatRemovesTheReportsOfAnEarlierSingleRunThere) {
  const auto dir = tempDir("cli", "stale");
  const std::string file = sourceDir() + "/scenarios/quickstart.yaml";
  const auto out = " --out " + (dir / "out").string();
  ASSERT_EQ(runCutoverShell("run --mode sim -q " + file + out), 0);
  ASSERT_TRUE(fs::exists(dir / "out" / "junit.xml"));
  EXPECT_EQ(runCutoverShell("run --mode sim -q --repeat 2 " + file + out + " --set 'expect.dropped=> 0'"), 1);
  EXPECT_TRUE(fs::exists(dir / "out" / "aggregate.json"));
  for (const char* f : {"report.json", "junit.xml", "summary.md", "report.html"})
    EXPECT_FALSE(fs::exists(dir / "out" / f)) << f;
  // And the other way: a single run removes the repeat's aggregate.
  ASSERT_EQ(runCutoverShell("run --mode sim -q " + file + out), 0);
  EXPECT_FALSE(fs::exists(dir / "out" / "aggregate.json"));
  EXPECT_FALSE(fs::exists(dir / "out" / "aggregate.md"));
  fs::remove_all(dir);
}

// A --repeat 3 after a --repeat 4 into the same directory: run-4 is not part
// of the new aggregate and is removed; a directory holding a file of the
// user's is left as it is.
TEST(CliRuns, ASmallerRepeatRemovesTheRunsPastItsCount) {
  const auto dir = tempDir("cli", "runs-past");
  const std::string file = sourceDir() + "/scenarios/quickstart.yaml";
  const auto out = " --out " + (dir / "out").string();
  ASSERT_EQ(runCutoverShell("run --mode sim -q --repeat 4 " + file + out), 0);
  ASSERT_TRUE(fs::exists(dir / "out" / "base" / "run-4" / "report.json"));
  fs::create_directories(dir / "out" / "base" / "run-17");
  std::ofstream(dir / "out" / "base" / "run-17" / "mine.txt") << "not a report\n";
  ASSERT_EQ(runCutoverShell("run --mode sim -q --repeat 3 " + file + out), 0);
  EXPECT_TRUE(fs::exists(dir / "out" / "base" / "run-3" / "report.json"));
  EXPECT_FALSE(fs::exists(dir / "out" / "base" / "run-4"));
  EXPECT_TRUE(fs::exists(dir / "out" / "base" / "run-17" / "mine.txt"));
  fs::remove_all(dir);
}

// A batch killed midway (kill -9, a CI timeout) must not leave an earlier
// batch's aggregate or the reports of runs it never made: they are removed
// before the first run starts. Killed here as run 2 of 3 starts.
TEST(CliRuns, ARepeatKilledMidwayLeavesNoEarlierAggregateOrRunReports) {
  const auto dir = tempDir("cli", "killed-batch");
  const std::string file = sourceDir() + "/scenarios/quickstart.yaml";
  const auto out = dir / "out";
  fs::create_directories(out / "base" / "run-3");
  std::ofstream(out / "aggregate.json") << "{\"stale\": true}\n";
  std::ofstream(out / "aggregate.md") << "all passed (stale)\n";
  std::ofstream(out / "base" / "run-3" / "junit.xml") << "<testsuites failures=\"0\"/>\n";
  // About 300k simulated requests a run: long enough to be killed in run 2.
  auto child = spawnCutover({"run", "--mode", "sim", "--repeat", "3", file, "--set", "load.0.rate=50k/s", "--out",
                             out.string()});
  ASSERT_GT(child.pid, 0);
  ASSERT_TRUE(child.readUntil(std::regex(R"(run 2/3)"), 1, std::chrono::seconds(60))) << child.err;
  ::kill(child.pid, SIGKILL);
  EXPECT_EQ(waitExit(child, std::chrono::seconds(10)), 128 + SIGKILL);
  EXPECT_TRUE(fs::exists(out / "base" / "run-1" / "report.json"));
  EXPECT_FALSE(fs::exists(out / "aggregate.json"));
  EXPECT_FALSE(fs::exists(out / "aggregate.md"));
  EXPECT_FALSE(fs::exists(out / "base" / "run-3" / "junit.xml"));
  fs::remove_all(dir);
}

// `cutover run ... 2>&1 | tee log`, and a Ctrl-C that ends tee first: every
// later write to the terminal fails with EPIPE (run ignores SIGPIPE). A run
// once aborted there (fmt::print threw) and left no report. Here stdout and
// stderr are a pipe nobody reads from from the start.
int runIntoAClosedPipe(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  ::close(fds[0]);  // no reader: each write gets EPIPE
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    std::vector<char*> argv;
    const std::string binary = cutoverBinary();
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return waitExit(pid, std::chrono::seconds(90));
}

TEST(CliRuns, ARunWhoseTerminalPipeClosedStillEndsInAVerdictAndReports) {
  const auto dir = tempDir("cli", "closed-pipe");
  const std::string file = sourceDir() + "/scenarios/quickstart.yaml";
  EXPECT_EQ(runIntoAClosedPipe({"run", "--mode", "sim", file, "--out", (dir / "sim").string()}), 0);
  EXPECT_TRUE(fs::exists(dir / "sim" / "report.json"));
  EXPECT_TRUE(fs::exists(dir / "sim" / "summary.md"));
  // Live: the runner's own progress lines too. Its verdict is not the point
  // (a loaded machine may fail an expectation): a verdict and the reports are.
  const int live = runIntoAClosedPipe({"run", file, "--time-scale", "0.5", "--set", "validity.max_late_sends=100%",
                                       "--out", (dir / "live").string()});
  EXPECT_TRUE(live == 0 || live == 1) << live;
  EXPECT_TRUE(fs::exists(dir / "live" / "report.json"));
  EXPECT_TRUE(fs::exists(dir / "live" / "report.html"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cutover::testing
