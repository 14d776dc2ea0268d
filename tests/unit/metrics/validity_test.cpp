#include "metrics/validity.hpp"

#include <gtest/gtest.h>

namespace cutover {
namespace {

RunSummary summary(std::uint64_t intended, std::uint64_t sent, std::uint64_t late, double rate) {
  RunSummary s;
  s.intended = intended;
  s.sent = sent;
  s.late_sends = late;
  s.achieved_rate_per_s = rate;
  s.lateness.p99_ms = 12.5;
  s.max_send_lateness_ms = 40;
  return s;
}

bool mentions(const std::vector<std::string>& reasons, const std::string& word) {
  for (const auto& r : reasons)
    if (r.find(word) != std::string::npos) return true;
  return false;
}

TEST(LoadValidity, HealthyRunHasNoProblems) {
  EXPECT_TRUE(loadValidityProblems(summary(5000, 5000, 0, 1000), 1000).empty());
  EXPECT_TRUE(loadValidityProblems(summary(5000, 4950, 49, 990), 1000).empty());  // at the limits
}

TEST(LoadValidity, NothingSentIsInvalidAlone) {
  const auto r = loadValidityProblems(summary(5000, 0, 0, 0), 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], "no request was sent");
}

TEST(LoadValidity, RateUnder99PercentOfTarget) {
  const auto r = loadValidityProblems(summary(5000, 4949, 0, 989.8), 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(mentions(r, "achieved 989.8/s of a 1000.0/s target")) << r[0];
}

TEST(LoadValidity, WithoutTargetComparesSentWithIntended) {
  EXPECT_TRUE(mentions(loadValidityProblems(summary(1000, 989, 0, 0), 0), "sent 989 of 1000"));
  EXPECT_TRUE(loadValidityProblems(summary(1000, 990, 0, 0), 0).empty());
}

// A refused connect was never written, but the client tried: the system
// under test refused it. It is a drop (refused), not a load shortfall.
TEST(LoadValidity, RefusedConnectsCountAsDelivered) {
  auto s = summary(1000, 950, 0, 95.0);
  EXPECT_TRUE(mentions(loadValidityProblems(s, 0), "sent 950 of 1000"));
  EXPECT_TRUE(mentions(loadValidityProblems(s, 100), "achieved 95.0/s"));
  s.outcomes.n[static_cast<std::size_t>(Outcome::refused)] = 50;
  EXPECT_TRUE(loadValidityProblems(s, 0).empty());
  EXPECT_TRUE(loadValidityProblems(s, 100).empty());
  auto all = summary(1000, 0, 0, 0);
  all.outcomes.n[static_cast<std::size_t>(Outcome::refused)] = 1000;
  EXPECT_TRUE(loadValidityProblems(all, 0).empty());
}

// A timed step fired more than 500 ms after its `at` invalidates the run,
// unless the file declares a slow harness (max_late_sends: 100%).
TEST(LoadValidity, ATimedStepFiredMoreThan500msLate) {
  using std::chrono::milliseconds;
  EXPECT_EQ(lateStepProblem("heal blue", milliseconds(2000), milliseconds(2500), {}), "");
  EXPECT_EQ(lateStepProblem("heal blue", milliseconds(2000), milliseconds(2610), {}),
            "timeline step 'heal blue' due at 2.000 s fired 610.0 ms late (more than 500.0 ms)");
  ValidityLimits slow;
  slow.max_late_fraction = 1.0;
  EXPECT_EQ(lateStepProblem("heal blue", milliseconds(2000), milliseconds(9000), slow), "");
}

TEST(LoadValidity, MoreThanOnePercentLateSends) {
  const auto r = loadValidityProblems(summary(1000, 1000, 11, 1000), 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(mentions(r, "1.10% of sends later than 10 ms")) << r[0];
  EXPECT_TRUE(mentions(r, "p99 12.500 ms")) << r[0];
}

TEST(LoadValidity, SimulatedLateSendsBlameBusyConnectionsNotTheGenerator) {
  const auto r = loadValidityProblems(summary(1000, 500, 100, 500), 1000, {}, LoadSender::simulated);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& reason : r) {
    EXPECT_EQ(reason.find("fell behind"), std::string::npos) << reason;
    EXPECT_NE(reason.find("every client connection was busy"), std::string::npos) << reason;
    EXPECT_NE(reason.find("load.connections"), std::string::npos) << reason;
  }
}

// Live, with a block whose connections were all open at once: the late sends
// may have waited for a connection, so the reasons name load.connections.
TEST(LoadValidity, LiveLateSendsWithEveryConnectionBusyNameTheConnections) {
  const auto r = loadValidityProblems(summary(1000, 500, 100, 500), 1000, {}, LoadSender::live_connections_busy);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& reason : r) {
    EXPECT_NE(reason.find("every client connection was busy at times"), std::string::npos) << reason;
    EXPECT_NE(reason.find("raise load.connections"), std::string::npos) << reason;
  }
  for (const auto& reason : loadValidityProblems(summary(1000, 500, 100, 500), 1000))
    EXPECT_EQ(reason.find("load.connections"), std::string::npos) << reason;
}

TEST(LoadValidity, BothRulesReportedTogether) {
  EXPECT_EQ(loadValidityProblems(summary(1000, 500, 100, 500), 1000).size(), 2u);
}

TEST(MissingMeasures, ExpectedMeasureWithoutItsInputs) {
  const std::map<std::string, double> measures = {{"switch_latency_ms", 0}, {"rollback_recovery_latency_ms", 5}};
  const auto r = missingMeasures({"switch_latency_ms", "rollback_detect_latency_ms", "drain_time_ms"}, measures);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], "rollback_detect_latency_ms was expected but no rollback happened after a fault");
  EXPECT_TRUE(mentions(r, "drain_time_ms was expected"));
  EXPECT_TRUE(missingMeasures({"switch_latency_ms"}, measures).empty());
}

// A switch with no request after it shows nothing: a "0 dropped" across it
// would be a claim about no traffic (1 request a minute over 6 s passed).
TEST(SwitchValidity, ASwitchWithNoRequestAfterItIsNamed) {
  constexpr std::int64_t t0 = 1'000'000'000'000;
  std::vector<RequestRecord> records(1);
  records[0].intended_ns = t0 + 500'000'000;  // at 0.5 s
  const std::vector<TimedEvent> events = {
      {-0.1, "timeline", "switch", "blue", ""},
      {-0.1, "switcher", "switched", "blue", "from none"},       // the first activation: not a switch
      {0.5, "timeline", "switch", "blue", ""},
      {0.5, "switcher", "switched", "blue", "already active"},  // nothing changed
      {2.9, "timeline", "switch", "green", ""},
      {3.0, "switcher", "switched", "green", "from blue (readiness gate met after 100ms)"},
      {4.0, "timeline", "switch", "blue", ""},
      {4.0, "switcher", "switched", "blue", "green -> blue (nginx)"}};
  const std::vector<std::string> names;
  const std::vector<InstanceInfo> instances;
  const auto switches = [&] { return switchMeasures(RunView{records, names, events, instances, t0}); };
  ASSERT_EQ(switches().size(), 2u);
  const auto reasons = switchesWithoutLoad(switches(), records, t0);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("no request was sent after the switch to green at 3.000 s"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("to blue at 4.000 s"), std::string::npos) << reasons[1];
  records.push_back(records[0]);
  records[1].intended_ns = t0 + 3'500'000'000;  // one after the first switch only
  EXPECT_EQ(switchesWithoutLoad(switches(), records, t0).size(), 1u);
  records[1].intended_ns = t0 + 4'000'000'000;  // at the second switch: counts
  EXPECT_TRUE(switchesWithoutLoad(switches(), records, t0).empty());
}

}  // namespace
}  // namespace cutover
