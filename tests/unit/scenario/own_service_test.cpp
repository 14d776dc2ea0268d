// Keys for real switchers and a team's own service (docs/real-switchers.md):
// switcher.kind nginx|haproxy, services.<pool>.command / health_path /
// shutdown.stop_signal, expect.clean_exit, and how clean_exit is judged.
#include <csignal>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/scenario/loader.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::scenario {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* kOwn = R"(name: own
duration: 3s
services:
  blue:
    version: v1
    command: [python3, svc.py, --port, "{port}", --version, "{version}"]
    health_path: /ready
    shutdown: { stop_signal: SIGINT, grace_period: 2s }
  green: { version: v2 }
switcher: { kind: haproxy }
load:
  - { rate: 10/s }
timeline:
  - { at: 0s, start: blue }
expect: { clean_exit: true }
)";

TEST(OwnServiceKeys, LoadsCommandHealthPathStopSignalAndCleanExit) {
  const auto out = loadScenarioText(kOwn, "own.yaml");
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  const auto& s = *out.scenario;
  EXPECT_EQ(s.switcher.kind, "haproxy");
  EXPECT_THAT(s.services[0].command, ElementsAre("python3", "svc.py", "--port", "{port}", "--version", "{version}"));
  EXPECT_EQ(s.services[0].health_path, "/ready");
  EXPECT_EQ(s.services[0].stop_signal, SIGINT);
  EXPECT_EQ(s.services[0].stop_signal_name, "SIGINT");
  EXPECT_EQ(s.services[0].stop_grace, std::chrono::seconds(2));
  EXPECT_TRUE(s.services[1].command.empty());
  EXPECT_EQ(s.services[1].health_path, "/health");
  EXPECT_EQ(s.services[1].stop_signal, SIGTERM);
  ASSERT_TRUE(s.expect.clean_exit.has_value());
  EXPECT_TRUE(*s.expect.clean_exit);
}

TEST(OwnServiceKeys, RejectsBadValuesWithTheirKeys) {
  const auto out = loadScenarioText(kOwn, "own.yaml",
                                    {"services.blue.command=[]", "services.blue.health_path=ready",
                                     "services.blue.shutdown.stop_signal=SIGKILL", "switcher.kind=envoy"});
  ASSERT_FALSE(out.scenario.has_value());
  std::string all;
  for (const auto& e : out.errors) all += e.str() + "\n";
  EXPECT_THAT(all, HasSubstr("services.blue.command"));
  EXPECT_THAT(all, HasSubstr("services.blue.health_path"));
  EXPECT_THAT(all, HasSubstr("services.blue.shutdown.stop_signal"));
  EXPECT_THAT(all, HasSubstr("switcher.kind"));
}

TEST(OwnServiceKeys, AcceptsNginx) {
  const auto out = loadScenarioText(kOwn, "own.yaml", {"switcher.kind=nginx"});
  ASSERT_TRUE(out.errors.empty()) << out.errors.front().str();
  EXPECT_EQ(out.scenario->switcher.kind, "nginx");
}

RunResult withExits(std::vector<std::string> exits) {
  RunResult r;
  r.verdict.valid = true;
  for (std::size_t i = 0; i < exits.size(); ++i) {
    InstanceInfo in;
    in.id = "blue-" + std::to_string(i + 1);
    in.pool = "blue";
    in.exit = exits[i];
    r.instances.push_back(in);
  }
  return r;
}

TEST(CleanExit, PassesWhenEveryInstanceExitedZero) {
  const auto s = *loadScenarioText(kOwn, "own.yaml").scenario;
  auto r = withExits({"code 0", "code 0"});
  judge(s, r);
  EXPECT_TRUE(r.verdict.passed);
  ASSERT_EQ(r.verdict.checks.size(), 1u);
  EXPECT_EQ(r.verdict.checks[0].name, "clean_exit");
}

TEST(CleanExit, FailsOnANonZeroCodeOrASignal) {
  const auto s = *loadScenarioText(kOwn, "own.yaml").scenario;
  auto r = withExits({"code 0", "code 3"});
  judge(s, r);
  EXPECT_FALSE(r.verdict.passed);
  ASSERT_EQ(r.verdict.failures.size(), 1u);
  EXPECT_THAT(r.verdict.failures[0], HasSubstr("blue-2 (code 3)"));
}

TEST(CleanExit, FailsWhenTheRunnerKilledAnInstanceAfterItsGracePeriod) {
  const auto s = *loadScenarioText(kOwn, "own.yaml").scenario;
  auto r = withExits({"signal 9"});
  r.events.push_back({2.0, "runner", "killed", "blue-1", "did not exit within the grace period, killed"});
  judge(s, r);
  EXPECT_FALSE(r.verdict.passed);
  ASSERT_EQ(r.verdict.failures.size(), 1u);
  EXPECT_THAT(r.verdict.failures[0], HasSubstr("blue-1 (signal 9, killed after the grace period)"));
}

}  // namespace
}  // namespace cutover::scenario
