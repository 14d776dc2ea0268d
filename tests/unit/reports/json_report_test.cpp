#include "reports/json_report.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "metrics/dropped_requests.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;

RunResult sample() {
  RunResult r;
  r.scenario = "demo";
  r.duration_s = 1.0;
  r.summary.intended = r.summary.sent = 3;
  r.summary.outcomes.add(Outcome::ok);
  r.summary.outcomes.add(Outcome::reset);
  r.summary.outcomes.add(Outcome::reset);
  TimeBucket b;
  b.responses = 1;
  b.outcomes = r.summary.outcomes;
  r.summary.series.push_back(b);
  r.verdict.valid = true;
  return r;
}

TEST(JsonReport, WithoutExtrasKeepsTheVersion1Keys) {
  const auto j = toJson(sample());
  EXPECT_EQ(j["schema_version"], 1);
  for (const auto* k : {"scenario", "summary", "verdict", "measures", "events", "instances"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["summary"]["dropped"], 2);
  EXPECT_EQ(j["summary"]["series"][0]["responses"], 1);
  EXPECT_FALSE(j.contains("dropped_requests"));
  EXPECT_FALSE(j["scenario"].contains("lesson"));
  EXPECT_FALSE(j["verdict"].contains("expectations"));
}

TEST(JsonReport, ExtrasAddLessonExpectationsAndABoundedDropList) {
  ReportExtras x;
  x.lesson = "drain first";
  x.description = "a demo";
  x.expectations.push_back({"dropped", false, "2", "<= 0", "dropped: measured 2, expected <= 0"});
  x.dropped_list_limit = 1;
  x.dropped.push_back({7, 0.5, 0.51, "reset", "v1", "blue-1", 3, 2, "in_flight_at_exit", "in flight on blue-1"});
  x.dropped.push_back({8, 0.6, 0.61, "reset", "v1", "blue-1", 3, 3, "in_flight_at_exit", "in flight on blue-1"});
  const auto j = toJson(sample(), x);
  EXPECT_EQ(j["scenario"]["lesson"], "drain first");
  EXPECT_EQ(j["scenario"]["description"], "a demo");
  EXPECT_EQ(j["verdict"]["expectations"][0]["name"], "dropped");
  EXPECT_EQ(j["verdict"]["expectations"][0]["passed"], false);
  EXPECT_EQ(j["dropped_requests"]["limit"], 1);
  EXPECT_EQ(j["dropped_requests"]["total"], 2);
  ASSERT_EQ(j["dropped_requests"]["first"].size(), 1u);
  EXPECT_EQ(j["dropped_requests"]["first"][0]["request_id"], 7);
  EXPECT_EQ(j["dropped_requests"]["first"][0]["cause_class"], "in_flight_at_exit");
}

TEST(JsonReport, InvalidUtf8InScenarioTextDoesNotFailTheWrite) {
  auto r = sample();
  r.scenario = std::string("bad \xff\xfe name");
  const auto dir = std::filesystem::path(::testing::TempDir()) / "cutover-json-report-utf8";
  const auto written = writeJsonReport(r, dir.string());
  ASSERT_TRUE(written.ok()) << written.error().message;
  std::ifstream in(written.value());
  const auto j = json::parse(in);
  EXPECT_EQ(j["scenario"]["name"].get<std::string>().rfind("bad ", 0), 0u);
  std::filesystem::remove_all(dir);
}

TEST(DroppedRequests, FirstNDropsJoinedWithTheirRecords) {
  constexpr std::int64_t kT0 = 1'000'000'000;
  const std::vector<std::string> names = {"v1", "blue-1"};
  std::vector<RequestRecord> records(3);
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].request_id = 10 + i;
    records[i].intended_ns = kT0 + static_cast<std::int64_t>(i) * 100'000'000;
    records[i].done_ns = records[i].intended_ns + 5'000'000;
    records[i].outcome = Outcome::reset;
    records[i].version = 0;
    records[i].instance = 1;
    records[i].connection_reuse = static_cast<std::uint16_t>(i);
  }
  records[2].version = kNoName;
  const std::vector<TimedEvent> events;
  const std::vector<InstanceInfo> instances;
  DropAttribution drops;
  drops.drops = {{0, 10, "in_flight_at_exit", "in flight on blue-1"}, {2, 12, "reset_new_connection", "fresh"},
                 {1, 11, "x", "y"}};
  const auto list = firstDroppedRequests(RunView{records, names, events, instances, kT0}, drops, 2);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].request_id, 10u);
  EXPECT_DOUBLE_EQ(list[0].intended_s, 0.0);
  EXPECT_NEAR(list[0].done_s, 0.005, 1e-9);
  EXPECT_EQ(list[0].outcome, "reset");
  EXPECT_EQ(list[0].version, "v1");
  EXPECT_EQ(list[0].instance, "blue-1");
  EXPECT_EQ(list[1].version, "");
  EXPECT_EQ(list[1].connection_reuse, 2u);
  EXPECT_NEAR(list[1].intended_s, 0.2, 1e-9);
}

}  // namespace
}  // namespace cutover::reports
