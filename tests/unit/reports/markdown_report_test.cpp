#include "reports/markdown_report.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cutover::reports {
namespace {

using nlohmann::json;

json report() {
  return {{"schema_version", 1},
          {"scenario", {{"name", "demo"}, {"file", "s.yaml"}, {"mode", "live"}, {"seed", 7}, {"duration_s", 1.5}}},
          {"summary",
           {{"sent", 100}, {"intended", 100}, {"dropped", 2},
            {"outcomes", {{"ok", 98}, {"app_error", 0}, {"switch_error", 0}, {"reset", 2}, {"refused", 0},
                          {"timeout", 0}}},
            {"latency", {{"count", 98}, {"p50_ms", 1.234}, {"p99_ms", 45.6}}},
            {"dropped_by_cause", {{"in flight on blue-1 when it exited at 1.000 s", 2}}},
            {"final_active", "green"}}},
          {"verdict", {{"valid", true}, {"passed", false}, {"failures", {"dropped: measured 2, expected <= 0"}},
                       {"invalid_reasons", json::array()}}},
          {"measures", {{"switch_latency_ms", 0.0}, {"drain_time_ms", 12.5}}}};
}

TEST(MarkdownReport, VerdictLineTableAndCauses) {
  const auto md = renderMarkdown(report());
  EXPECT_EQ(md.rfind("## ❌ FAIL: demo\n", 0), 0u) << md;
  EXPECT_NE(md.find("| sent / intended | 100 / 100 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| **dropped** | **2** |"), std::string::npos);
  // 98 responses: their p99 (nearest rank) is the slowest of them, and the row says so.
  EXPECT_NE(md.find("| latency p50 / p99 | 1.23 ms / 45.6 ms (98 responses: p99 is the slowest) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| drain time | 12.5 ms |"), std::string::npos);
  EXPECT_NE(md.find("| rollback detect latency | not measured |"), std::string::npos);
  EXPECT_NE(md.find("- dropped: measured 2, expected &lt;= 0"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | in flight on blue-1 when it exited at 1.000 s |"), std::string::npos) << md;
}

TEST(MarkdownReport, VerdictWords) {
  auto r = report();
  r["verdict"]["passed"] = true;
  EXPECT_EQ(renderMarkdown(r).rfind("## ✅ PASS: demo", 0), 0u);
  r["verdict"]["valid"] = false;
  r["verdict"]["invalid_reasons"] = {"a switch that never happened"};
  const auto md = renderMarkdown(r);
  EXPECT_EQ(md.rfind("## ⚠️ INVALID: demo", 0), 0u);
  EXPECT_NE(md.find("### Why the run is invalid\n\n- a switch that never happened\n"), std::string::npos);
}

// A simulated run has no wall-clock start: the header once ended in
// "started " and nothing.
TEST(MarkdownReport, StartTimeOnlyWhenTheRunHasOne) {
  auto r = report();
  r["scenario"]["started_utc"] = "2026-11-28T00:54:01Z";
  EXPECT_NE(renderMarkdown(r).find("· 1.500 s · started 2026-11-28T00:54:01Z\n"), std::string::npos)
      << renderMarkdown(r);
  r["scenario"]["started_utc"] = "";
  const auto md = renderMarkdown(r);
  EXPECT_EQ(md.find("started"), std::string::npos) << md;
  EXPECT_NE(md.find("· 1.500 s\n"), std::string::npos) << md;
}

TEST(MarkdownReport, ScenarioTextCannotInjectMarkupOrBreakTables) {
  auto r = report();
  r["scenario"]["name"] = "x <img src=x onerror=alert(1)> | [link](http://evil)";
  r["summary"]["dropped_by_cause"] = {{"a | b\n| c | d |", 1}};
  r["scenario"]["lesson"] = "**bold** <script>alert(1)</script>\n# heading";
  const auto md = renderMarkdown(r);
  EXPECT_EQ(md.find("<img"), std::string::npos);
  EXPECT_EQ(md.find("<script"), std::string::npos);
  EXPECT_NE(md.find("\\[link\\](http://evil)"), std::string::npos) << md;  // no link
  EXPECT_NE(md.find("| 1 | a \\| b \\| c \\| d \\| |"), std::string::npos) << md;
  EXPECT_NE(md.find("> **Lesson:** \\*\\*bold\\*\\* &lt;script&gt;"), std::string::npos) << md;
}

TEST(MarkdownReport, TopCausesAreBoundedAndSortedByCount) {
  auto r = report();
  json causes = json::object();
  for (int i = 0; i < 25; ++i) causes["cause " + std::to_string(100 + i)] = i;
  r["summary"]["dropped_by_cause"] = causes;
  const auto md = renderMarkdown(r);
  const auto first = md.find("| 24 | cause 124 |"), second = md.find("| 23 | cause 123 |");
  ASSERT_NE(first, std::string::npos) << md;
  EXPECT_LT(first, second);
  EXPECT_EQ(md.find("cause 114"), std::string::npos);  // 11th by count
  EXPECT_NE(md.find("15 more causes in report.json."), std::string::npos) << md;
}

}  // namespace
}  // namespace cutover::reports
