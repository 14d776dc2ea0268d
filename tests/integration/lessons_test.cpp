// The lesson library (scenarios/*.yaml, issue 6): each lesson run by the
// built `cutover` as a child process, mostly at --time-scale 0.5, asserting
// the outcome its file and scenarios/README.md document. The first lessons
// (quickstart, kill-old-at-once, sigterm-ignored, green-fails-after-switch)
// are tested in run_test.cpp.
//
// A run the load generator could not keep on schedule (the machine is
// shared) is invalid; such a run is repeated (at most twice) before the test
// judges it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using LessonRun = ScenarioRun;

// Runs a lesson (runScenario: repeated while only lateness made it invalid).
// The report is removed with the directory; the result keeps it in memory.
LessonRun runLesson(const std::string& lesson, std::vector<std::string> extra = {},
                    std::string scale = "0.5") {
  if (!scale.empty()) extra.insert(extra.end(), {"--time-scale", scale});
  const auto dir = fs::temp_directory_path() / ("cutover-lesson-" + lesson + "-" + std::to_string(::getpid()));
  auto run = runScenario(sourceDir() + "/scenarios/" + lesson + ".yaml", dir, extra);
  fs::remove_all(dir);
  return run;
}

std::string why(const LessonRun& run) {
  return run.err + (run.report.is_object() ? run.report["verdict"].dump(2) + run.report["summary"].dump(2) : "");
}

int count(const json& report, const char* outcome) { return report["summary"]["outcomes"][outcome].get<int>(); }
int dropped(const json& report) { return report["summary"]["dropped"].get<int>(); }

std::vector<json> events(const json& report, const std::string& kind) {
  std::vector<json> out;
  for (const auto& e : report["events"])
    if (e["kind"] == kind) out.push_back(e);
  return out;
}

// Dropped requests whose cause text contains `part`.
int droppedByCauseContaining(const json& report, const std::string& part) {
  int n = 0;
  for (const auto& [cause, k] : report["summary"]["dropped_by_cause"].items())
    if (cause.find(part) != std::string::npos) n += k.get<int>();
  return n;
}

// Lesson 4 without a gate: a timed switch to a green that is not ready yet
// happens anyway; every request until green is ready gets the switcher's 503.
TEST(Lessons, SwitchBeforeReadyWithoutAGateAnswers503sUntilGreenIsReady) {
  const auto run = runLesson("switch-before-ready");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(r["summary"]["outcomes"]["switch_error"].get<int>(), dropped(r));
  // Every drop is the switcher's 503 for want of a healthy backend in green,
  // named after the pool the switcher saw (x-cutover-switcher-pool), also for
  // a request sent just before the switch, and counted against green's v2.
  EXPECT_EQ(r["summary"]["dropped_by_class"]["no_healthy_backend"].get<int>(), dropped(r)) << r["summary"].dump(1);
  EXPECT_EQ(droppedByCauseContaining(r, "503: no healthy backend in green"), dropped(r)) << r["summary"].dump(1);
  EXPECT_EQ(r["summary"]["by_version"]["v2"]["switch_error"].get<int>(), dropped(r)) << r["summary"].dump(1);
  EXPECT_EQ(r["summary"]["final_active"], "green");
  // The default gate (at least one ready backend) refuses the same switch: the run is invalid.
  const auto gated = runLesson("switch-before-ready", {"--set", "switcher.switch.require_healthy=1"});
  ASSERT_EQ(gated.code, 3) << why(gated);
  EXPECT_NE(gated.report["verdict"]["invalid_reasons"].dump().find("switch to green never happened"), std::string::npos);
  EXPECT_EQ(dropped(gated.report), 0);
}

// Lesson 4 with a readiness gate that waits: the early switch is pending
// until green is ready, then happens; nothing is dropped.
TEST(Lessons, SwitchWithReadinessGateWaitsForGreenAndDropsNothing) {
  const auto run = runLesson("switch-with-readiness-gate");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  ASSERT_EQ(events(r, "switch_pending").size(), 1u) << r["events"].dump(1);
  EXPECT_EQ(r["summary"]["final_active"], "green");
  EXPECT_EQ(dropped(r), 0);
  EXPECT_GT(r["summary"]["by_version"]["v2"]["ok"].get<int>(), 0);
  // The switch happened when green was ready, not when it was asked for.
  double ready = 0;
  for (const auto& in : r["instances"])
    if (in["pool"] == "green") ready = std::max(ready, in["ready_s"].get<double>());
  double switched = -1;
  for (const auto& e : events(r, "switched"))
    if (e["target"] == "green") switched = e["t_s"].get<double>();
  EXPECT_GE(switched, ready - 0.05);
}

// Lesson 5: flapping health takes the whole active pool out at once: the
// switcher's own 503s. Panic routing keeps serving.
TEST(Lessons, HealthFlappingDropsUntilPanicRouting) {
  const auto run = runLesson("health-flapping");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(count(r, "switch_error"), dropped(r));
  EXPECT_EQ(droppedByCauseContaining(r, "503: no healthy backend in green"), dropped(r))
      << r["summary"]["dropped_by_cause"].dump(2);
  EXPECT_GE(events(r, "health_changed").size(), 4u);
  EXPECT_EQ(r["summary"]["final_active"], "green");

  const auto fixed = runLesson("health-flapping", {"--set", "switcher.panic=true", "--set", "expect.dropped=0"});
  ASSERT_EQ(fixed.code, 0) << why(fixed);
  EXPECT_EQ(dropped(fixed.report), 0);
  EXPECT_GE(events(fixed.report, "panic").size(), 1u);
}

// Lesson 7: a latency regression (every response a 200) rolled back on p99.
// Run at full length: halved, the 250 ms threshold would come within reach
// of the stalls of a loaded machine and roll back a healthy green.
TEST(Lessons, LatencyRegressionIsRolledBackOnP99) {
  const auto run = runLesson("latency-regression", {}, "");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_EQ(r["summary"]["final_active"], "blue");
  EXPECT_EQ(dropped(r), 0);
  EXPECT_EQ(count(r, "app_error"), 0);
  const auto rollbacks = events(r, "rollback");
  ASSERT_EQ(rollbacks.size(), 1u) << r["events"].dump(1);
  EXPECT_NE(rollbacks[0]["detail"].get<std::string>().find("p99"), std::string::npos) << rollbacks[0].dump();
  EXPECT_GT(rollbacks[0]["t_s"].get<double>(), 2.5) << "after the fault, not before";
  EXPECT_LT(r["measures"]["rollback_detect_latency_ms"].get<double>(), 1000.0);
}

// Lesson 8: blue scaled down after the switch; green fails; rollback impossible.
TEST(Lessons, RollbackIsImpossibleWhenBlueWasScaledDown) {
  const auto run = runLesson("rollback-impossible");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_EQ(events(r, "scaled_down").size(), 2u) << r["events"].dump(1);
  const auto impossible = events(r, "rollback_impossible");
  ASSERT_EQ(impossible.size(), 1u) << r["events"].dump(1);
  EXPECT_NE(impossible[0]["detail"].get<std::string>().find("no healthy backend"), std::string::npos)
      << impossible[0].dump();
  EXPECT_TRUE(events(r, "rollback").empty());
  EXPECT_EQ(r["summary"]["final_active"], "green");
  EXPECT_GT(r["summary"]["by_version"]["v2"]["app_error"].get<int>(), 50);
  EXPECT_EQ(dropped(r), 0);
}

// Lesson 10: SIGTERM without a pre-stop delay before the switch takes
// effect: requests routed to blue after it closed its listener fail. A
// pre-stop delay longer than the lag fixes it.
TEST(Lessons, EndpointRemovalRaceDropsWithoutAPreStopDelay) {
  const auto run = runLesson("endpoint-removal-race");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(r["summary"]["by_version"]["v2"]["switch_error"], 0);
  // Every drop falls in the 100 ms (scaled) between SIGTERM and the switch.
  for (const auto& d : r["dropped_requests"]["first"]) {
    EXPECT_GE(d["intended_s"].get<double>(), 0.99) << d.dump();
    EXPECT_LE(d["intended_s"].get<double>(), 1.12) << d.dump();
  }

  const auto fixed = runLesson("endpoint-removal-race",
                               {"--set", "services.blue.shutdown.pre_stop_delay=1s", "--set", "expect.dropped=0"});
  ASSERT_EQ(fixed.code, 0) << why(fixed);
  EXPECT_EQ(dropped(fixed.report), 0);
}

// The switcher's retry on another backend: blue-1 crashes with requests in
// flight and stays in the pool (no health checks); what it held, and every
// request routed to it after (connect refused), is served by blue-2. Without
// the retry each of them is a 502.
TEST(Lessons, AnInstanceCrashIsHiddenByTheRetryOnAnotherBackend) {
  const auto run = runLesson("instance-crash-retried");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_EQ(dropped(r), 0) << r["summary"].dump(1);
  EXPECT_EQ(count(r, "ok"), r["summary"]["intended"].get<int>());
  // The ones in flight at the crash were served twice over: their latency
  // is what they spent on blue-1 plus blue-2's 100 ms (at time scale 0.5).
  EXPECT_GT(r["summary"]["latency"]["max_ms"].get<double>(), 120.0) << r["summary"]["latency"].dump();
  // The report says what the 0 hides: the built-in proxy's retries.
  const double retried = r["measures"]["switcher_retries"].get<double>();

  const auto off = runLesson("instance-crash-retried", {"--set", "switcher.retry.enabled=false"});
  ASSERT_EQ(off.code, 1) << why(off);  // expect: dropped 0 fails
  const auto& o = off.report;
  EXPECT_GT(o["summary"]["dropped_by_class"]["in_flight_at_exit"].get<int>(), 0) << o["summary"].dump(1);
  EXPECT_GT(o["summary"]["dropped_by_class"]["backend_gone"].get<int>(), 0) << o["summary"].dump(1);
  EXPECT_EQ(droppedByCauseContaining(o, "blue-1"), dropped(o)) << o["summary"]["dropped_by_cause"].dump(2);
  // Every request lost without the retry was retried with it (each run has
  // its own timing, hence the slack of the requests in flight at the crash).
  const double in_flight = o["summary"]["dropped_by_class"]["in_flight_at_exit"].get<double>();
  EXPECT_GE(retried, dropped(o) - in_flight) << r["measures"].dump();
  EXPECT_LT(o["measures"]["switcher_retries"].get<double>(), retried) << o["measures"].dump();
}

// The same crash with POST: the requests blue-1 had are not sent twice (lost),
// the ones whose connect it refused afterwards are retried (nothing was sent).
TEST(Lessons, APostInFlightAtACrashIsNotRetried) {
  const auto run = runLesson("post-not-retried");
  ASSERT_EQ(run.code, 0) << why(run);  // expect: dropped > 0
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(r["summary"]["dropped_by_class"]["in_flight_at_exit"].get<int>(), dropped(r)) << r["summary"].dump(1);
  EXPECT_EQ(droppedByCauseContaining(r, "in flight on blue-1"), dropped(r)) << r["summary"]["dropped_by_cause"].dump(2);
  EXPECT_EQ(count(r, "ok") + dropped(r), r["summary"]["intended"].get<int>());
  EXPECT_GT(r["measures"]["switcher_retries"].get<double>(), 0.0) << r["measures"].dump();  // the refused connects

  // The same file with GET: every one of them retried.
  const auto get = runLesson("post-not-retried", {"--set", "load.0.method=GET", "--set", "expect.dropped=0"});
  ASSERT_EQ(get.code, 0) << why(get);
  EXPECT_EQ(dropped(get.report), 0);
}

// Lesson 11: a drain timeout shorter than the slowest requests resets them.
TEST(Lessons, DrainTimeoutShorterThanTheSlowestRequestsResetsThem) {
  const auto run = runLesson("drain-timeout-too-short");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(droppedByCauseContaining(r, "in flight on blue-"), dropped(r)) << r["summary"]["dropped_by_cause"].dump(2);
  for (const auto& in : r["instances"])
    if (in["pool"] == "blue") {
      EXPECT_EQ(in["exit"], "code 1") << "drain timeout expired: " << in.dump();
    }

  const auto fixed = runLesson("drain-timeout-too-short",
                               {"--set", "services.blue.shutdown.drain_timeout=3s", "--set", "expect.dropped=0"});
  ASSERT_EQ(fixed.code, 0) << why(fixed);
  EXPECT_EQ(dropped(fixed.report), 0);
  int blueInstances = 0;
  for (const auto& in : fixed.report["instances"])
    if (in["pool"] == "blue") {
      ++blueInstances;
      EXPECT_EQ(in["exit"], "code 0") << in.dump();
    }
  EXPECT_GT(blueInstances, 0);
}

// Lesson 12: a green smaller than blue is overloaded at the switch. Run at
// full length: --time-scale halves the service time and with it the
// requests in service at once (rate x time), which is what overloads green.
TEST(Lessons, UndersizedGreenIsOverloadedAtTheSwitch) {
  const auto run = runLesson("green-undersized", {}, "");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_EQ(r["summary"]["by_version"]["v1"]["app_error"], 0);
  // 12 requests in service on average against 8 places: about a third rejected.
  EXPECT_GT(r["summary"]["by_version"]["v2"]["app_error"].get<int>(), 100);
  EXPECT_EQ(dropped(r), 0);

  const auto fixed = runLesson("green-undersized",
                               {"--set", "services.green.instances=4", "--set", "expect.app_error_rate=< 1%"}, "");
  ASSERT_EQ(fixed.code, 0) << why(fixed);
  EXPECT_EQ(fixed.report["summary"]["by_version"]["v2"]["app_error"], 0);
}

// Lesson 13: the switch to a cold green makes its first requests slow.
TEST(Lessons, ColdStartMakesTheFirstSecondsAfterTheSwitchSlow) {
  const auto run = runLesson("cold-start");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_EQ(dropped(r), 0);
  // Warm service p99 is 15 ms (7.5 ms scaled); x20 while cold.
  EXPECT_GT(r["summary"]["latency_by_version"]["v2"]["p99_ms"].get<double>(), 50.0);
  // The worst window (0.5 s scaled) is worse than the run as a whole, and it
  // begins within one window before the switch or in green's cold first second.
  const auto& worst = r["summary"]["worst_window"];
  EXPECT_GE(worst["p99_ms"].get<double>(), 0.98 * r["summary"]["latency"]["p99_ms"].get<double>());
  double switched = -1;
  for (const auto& e : events(r, "switched"))
    if (e["target"] == "green") switched = e["t_s"].get<double>();
  ASSERT_GE(switched, 0.0);
#if !defined(__SANITIZE_ADDRESS__)  // a loaded ASan build has stalls of the same size elsewhere
  EXPECT_GE(worst["p99_at_s"].get<double>(), switched - worst["width_s"].get<double>()) << worst.dump();
  EXPECT_LE(worst["p99_at_s"].get<double>(), switched + 1.0) << worst.dump();
#endif

  // Switching after the warm-up (1 s scaled) keeps green's latency at
  // blue's. Judged within each run, green's p90 against blue's (warm all
  // along, same machine, same moment): a loaded sanitizer build slows both
  // (a warm green p90 of 34 ms was seen under ASan), not one against the other.
  // Dev build: cold 69.7 / 7.0 ms, after the warm-up 6.1 / 6.3 ms.
  const auto greenOverBlue = [](const json& report) {
    const auto& l = report["summary"]["latency_by_version"];
    return l["v2"]["p90_ms"].get<double>() / std::max(l["v1"]["p90_ms"].get<double>(), 0.1);
  };
  EXPECT_GT(greenOverBlue(r), 3.0) << r["summary"]["latency_by_version"].dump();
  // The warm-up counts from green's readiness, which a loaded ASan build
  // delays by a few hundred ms: switch at 4 s (2 s scaled), a whole scaled
  // second after green started, not at 3 s, where a late green was still cold
  // (green p90 31 ms against blue's 7 ms, seen in CI).
  const auto fixed = runLesson("cold-start", {"--set", "duration=6s", "--set", "timeline.2.at=4s", "--set",
                                             "expect.p99=< 1s", "--set", "expect.p99_in_any_1s=< 2s"});
  ASSERT_EQ(fixed.code, 0) << why(fixed);
  EXPECT_LT(greenOverBlue(fixed.report), 2.0) << fixed.report["summary"]["latency_by_version"].dump();
}

// Lesson 9, immediate shutdown: L4-pinned keep-alive clients stay on blue
// after the switch and fail when it exits at once.
TEST(Lessons, L4PinnedClientsFailWhenBlueExitsAtOnce) {
  const auto run = runLesson("l4-pinned-immediate-shutdown");
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  // About rate x service time (200/s x 20 ms scaled: 4) in flight on blue at
  // its exit, each dropped and named after the blue instance it was on.
  EXPECT_GT(dropped(r), 0);
  EXPECT_EQ(droppedByCauseContaining(r, "blue-"), dropped(r)) << r["summary"]["dropped_by_cause"].dump();
  // The pinned connections kept blue busy long after the switch.
  EXPECT_GT(r["measures"]["switch_latency_ms"].get<double>(), 300.0);
}

// Lesson 9, pre-stop delay and graceful drain: pinned clients get
// Connection: close from blue's SIGTERM on, reconnect and are pinned to
// green while blue still serves; nothing dropped.
TEST(Lessons, L4PinnedClientsMoveToGreenWithAPreStopDelayAndGracefulDrain) {
  const auto run = runLesson("l4-pinned-graceful-drain");
  ASSERT_EQ(run.code, 0) << why(run);
  EXPECT_EQ(dropped(run.report), 0);
  EXPECT_GT(run.report["summary"]["by_version"]["v2"]["ok"].get<int>(), 0);
  int blueInstances = 0;
  for (const auto& in : run.report["instances"])
    if (in["pool"] == "blue") {
      ++blueInstances;
      EXPECT_EQ(in["exit"], "code 0") << in.dump();
    }
  EXPECT_GT(blueInstances, 0);
}

// Lesson 14: no Connection: close while draining: requests on reused
// (pinned keep-alive) connections fail when blue closes them.
TEST(Lessons, NoConnectionCloseWhileDrainingFailsRequestsOnReusedConnections) {
  // A race: a run with none fails the file's `dropped: "> 0"` (exit 1). On
  // 2026-11-27, at the file's own times 1 of 16 runs dropped none (1 to 6
  // each otherwise); at --time-scale 0.5, 2 of 8, and a clean-clone CI run
  // met three in a row. So: the file's times, and up to six runs for one
  // that shows it.
  LessonRun run;
  for (int attempt = 0; attempt < 6; ++attempt) {
    run = runLesson("no-connection-close-while-draining", {}, "");
    if (run.code != 1) break;  // 1: "dropped > 0" did not hold
  }
  ASSERT_EQ(run.code, 0) << why(run);
  const auto& r = run.report;
  EXPECT_GT(dropped(r), 0);
  int checked = 0;
  for (const auto& d : r["dropped_requests"]["first"]) {
    // Blue's, on a reused connection (no response: the cause names the
    // instance the pinned connection led to).
    EXPECT_NE(d["cause"].get<std::string>().find("blue-"), std::string::npos) << d.dump();
    EXPECT_GT(d["connection_reuse"].get<int>(), 0) << "dropped on a reused connection: " << d.dump();
    ++checked;
  }
  EXPECT_EQ(checked, std::min(dropped(r), 100)) << "the first (up to 100) dropped requests are listed";
}

}  // namespace
}  // namespace cutover::testing
