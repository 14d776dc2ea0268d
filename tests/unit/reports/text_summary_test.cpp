#include "reports/text_summary.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace cutover::reports {
namespace {

TEST(TextSummary, DurationsToTheMicrosecondCountsAsCounts) {
  RunResult r;
  r.measures = {{"switch_latency_ms", 1.25}, {"switcher_retries", 439.0}, {"blast_radius_requests", 21.0}};
  r.verdict.valid = true;
  r.verdict.passed = true;
  const auto text = textSummary(r);
  EXPECT_NE(text.find("measure    switch_latency_ms = 1.250\n"), std::string::npos) << text;
  EXPECT_NE(text.find("measure    switcher_retries = 439\n"), std::string::npos) << text;
  EXPECT_NE(text.find("measure    blast_radius_requests = 21\n"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict    PASS\n"), std::string::npos) << text;
}

// A 0 dropped can hide a crash the switcher's retries covered: exits before
// the run's end (its duration) are listed; the end-of-run stops are not.
TEST(TextSummary, ExitsBeforeTheRunsEndAreListed) {
  RunResult r;
  r.duration_s = 10;
  auto instance = [](std::string id, std::optional<double> exited_s, std::string exit) {
    InstanceInfo in;
    in.id = std::move(id);
    in.exited_s = exited_s;
    in.exit = std::move(exit);
    return in;
  };
  r.instances = {instance("blue-2", 12.0, "code 0"), instance("blue-1", 2.5, "signal 9"),
                 instance("green-1", std::nullopt, "")};
  EXPECT_NE(textSummary(r).find("exits      blue-1 signal 9 at 2.500 s\n"), std::string::npos) << textSummary(r);
  r.instances[1].exited_s = 10.5;
  EXPECT_EQ(textSummary(r).find("exits "), std::string::npos) << textSummary(r);
}

// Under 100 responses the p99 is the slowest one (nearest rank): said on the
// run's latency line and on each version's line that has so few.
TEST(TextSummary, AP99OverFewerThanAHundredResponsesIsNamedTheSlowest) {
  RunResult r;
  r.summary.latency = {.count = 60, .p50_ms = 2, .p99_ms = 18, .max_ms = 18};
  r.summary.by_version["v1"] = {};
  r.summary.by_version["v2"] = {};
  r.summary.latency_by_version["v1"] = {.count = 20, .p50_ms = 2, .p99_ms = 18, .max_ms = 18};
  r.summary.latency_by_version["v2"] = {.count = 400, .p50_ms = 2, .p99_ms = 8, .max_ms = 9};
  const auto text = textSummary(r);
  EXPECT_NE(text.find("max 18.00 ms (from intended send time; 60 responses: p99 is the slowest)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("p99 18.00 ms (20 responses: p99 is the slowest)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("p99 8.00 ms\n"), std::string::npos) << text;
  r.summary.latency.count = 100;
  EXPECT_NE(textSummary(r).find("(from intended send time)\n"), std::string::npos) << textSummary(r);
}

}  // namespace
}  // namespace cutover::reports
