#include "reports/text_summary.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cutover::reports
