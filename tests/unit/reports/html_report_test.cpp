#include "reports/html_report.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "reports/html_charts.hpp"
#include "tests/unit/reports/report_fixtures.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// The data-points attribute of the chart with this id, or -1.
long pointsOf(const std::string& html, const std::string& id) {
  const std::regex re("id=\"" + id + "\" data-points=\"([0-9]+)\"");
  std::smatch m;
  return std::regex_search(html, m, re) ? std::stol(m[1].str()) : -1;
}

// Expected marks, computed from the document independently of the renderer
// (valid while the series has fewer buckets than html::kMaxColumns).
struct Expected {
  long throughput = 0, failures = 0, latency = 0;
};
Expected expectedPoints(const json& report) {
  Expected e;
  for (const auto& b : report["summary"]["series"]) {
    for (const auto& [v, o] : b["by_version"].items()) {
      std::uint64_t n = 0;
      for (const auto& [k, c] : o.items()) n += c.get<std::uint64_t>();
      e.throughput += n > 0 ? 1 : 0;
    }
    for (const auto* k : {"app_error", "switch_error", "reset", "refused", "timeout"})
      e.failures += b["outcomes"][k].get<std::uint64_t>() > 0 ? 1 : 0;
    const bool answered = b.contains("responses")
                              ? b["responses"].get<std::uint64_t>() > 0
                              : b["outcomes"]["ok"].get<std::uint64_t>() + b["outcomes"]["app_error"].get<std::uint64_t>() > 0;
    e.latency += answered ? 2 : 0;
  }
  return e;
}

// Every non-void element opened is closed, in order (a well-formedness check
// that is enough for generated markup; the real parse is the browser test).
void expectBalanced(const std::string& html, const std::string& label) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link", "!DOCTYPE"};
  std::vector<std::string> open;
  const auto body = html.substr(0, html.size());
  // Skip the contents of <style> and <script> (no tags inside them).
  std::string text;
  for (std::size_t pos = 0; pos < body.size();) {
    const auto s = std::min(body.find("<style>", pos), body.find("<script>", pos));
    if (s == std::string::npos) {
      text += body.substr(pos);
      break;
    }
    const bool style = body.compare(s, 7, "<style>") == 0;
    const auto e = body.find(style ? "</style>" : "</script>", s);
    ASSERT_NE(e, std::string::npos) << label;
    text += body.substr(pos, s - pos);
    pos = e + (style ? 8 : 9);
  }
  const std::regex tag("<(/?)([!A-Za-z][A-Za-z0-9]*)([^<>]*?)(/?)>");
  for (std::sregex_iterator it(text.begin(), text.end(), tag), end; it != end; ++it) {
    const auto& m = *it;
    const auto name = m[2].str();
    if (m[1].length() > 0) {
      ASSERT_FALSE(open.empty()) << label << ": stray </" << name << ">";
      ASSERT_EQ(open.back(), name) << label << ": </" << name << "> closes <" << open.back() << ">";
      open.pop_back();
    } else if (m[4].length() == 0 && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      open.push_back(name);
    }
  }
  EXPECT_TRUE(open.empty()) << label << ": unclosed <" << (open.empty() ? "" : open.back()) << ">";
  EXPECT_EQ(text.find('<', text.rfind('>') + 1), std::string::npos) << label;
}

class HtmlFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(HtmlFixture, IsSelfContainedAndWellFormed) {
  const auto html = renderHtml(testing::fixture(GetParam()));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n", 0), 0u);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("//cdn"), std::string::npos);
  const std::regex external(R"((src|href)\s*=)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, external)) << "no src= or href= at all";
  EXPECT_EQ(occurrences(html, "<script>"), 1u);
  expectBalanced(html, GetParam());
}

TEST_P(HtmlFixture, ChartsHoldEveryDataPoint) {
  const auto report = testing::fixture(GetParam());
  const auto html = renderHtml(report);
  const auto want = expectedPoints(report);
  EXPECT_GT(want.throughput, 0);
  EXPECT_EQ(pointsOf(html, "chart-throughput"), want.throughput);
  EXPECT_EQ(pointsOf(html, "chart-failures"), want.failures);
  EXPECT_EQ(pointsOf(html, "chart-latency"), want.latency);
  EXPECT_EQ(static_cast<long>(occurrences(html, "class=\"pt\"")), want.throughput + want.failures + want.latency);
  // Each latency point carries its value in a tooltip.
  for (const auto& b : report["summary"]["series"]) {
    if (b["outcomes"]["ok"].get<std::uint64_t>() == 0) continue;
    const auto p99 = b["p99_ms"].get<double>();
    char text[64];
    std::snprintf(text, sizeof text, p99 >= 10 ? "p99 %.1f ms" : "p99 %.2f ms", p99);
    if (p99 < 1000) {
      EXPECT_NE(html.find(text), std::string::npos) << text;
    }
  }
}

TEST_P(HtmlFixture, ShowsCardsCausesLessonAndEvents) {
  const auto report = testing::fixture(GetParam());
  const auto html = renderHtml(report);
  EXPECT_NE(html.find("<div class=\"k\">dropped</div>"), std::string::npos);
  EXPECT_NE(html.find("id=\"event-strip\""), std::string::npos);
  for (const auto& [cause, n] : report["summary"]["dropped_by_cause"].items())
    EXPECT_NE(html.find(">" + std::to_string(n.get<std::uint64_t>()) + "</td>"), std::string::npos) << cause;
  if (report["scenario"].contains("lesson")) {
    EXPECT_NE(html.find("id=\"lesson\""), std::string::npos);
  }
  EXPECT_EQ(occurrences(html, "<tr><td class=\"n\">"),
            report["events"].size() + (report.contains("dropped_requests")
                                           ? report["dropped_requests"]["first"].size()
                                           : 0) + report["summary"]["dropped_by_cause"].size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HtmlFixture, ::testing::Values("pass", "invalid", "failed", "rollback"));

TEST(HtmlReport, ShadesSwitchToDrainedAndFaultToRecovery) {
  EXPECT_NE(renderHtml(testing::fixture("pass")).find("class=\"window switch\""), std::string::npos);
  const auto rollback = renderHtml(testing::fixture("rollback"));
  EXPECT_NE(rollback.find("class=\"window fault\""), std::string::npos);
  EXPECT_NE(rollback.find("class=\"marker rollback\""), std::string::npos);
  EXPECT_NE(rollback.find("class=\"marker fault\""), std::string::npos);
}

TEST(HtmlReport, EscapesEveryTextFromTheReport) {
  auto r = testing::fixture("failed");
  const std::string evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
  r["scenario"]["name"] = evil;
  r["scenario"]["lesson"] = evil;
  r["scenario"]["description"] = evil;
  r["scenario"]["file"] = evil;
  r["summary"]["dropped_by_cause"][evil] = 1;
  r["summary"]["final_active"] = evil;
  r["events"].push_back({{"t_s", 1.0}, {"source", "timeline"}, {"kind", "fault"}, {"target", evil}, {"detail", evil}});
  r["instances"][0]["id"] = evil;
  r["verdict"]["failures"].push_back(evil);
  r["summary"]["series"][3]["by_version"][evil] = r["summary"]["series"][3]["outcomes"];
  const auto html = renderHtml(r);
  EXPECT_EQ(occurrences(html, "<script>"), 1u);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img"), std::string::npos);
  expectBalanced(html, "evil");
}

TEST(HtmlReport, LongSeriesAreMergedToABoundedNumberOfColumns) {
  auto r = testing::fixture("pass");
  const auto bucket = r["summary"]["series"][5];
  json series = json::array();
  for (int i = 0; i < 5000; ++i) {
    auto b = bucket;
    b["t_s"] = i * 0.1;
    series.push_back(b);
  }
  r["summary"]["series"] = series;
  r["scenario"]["duration_s"] = 500.0;
  const auto tl = html::timelineOf(r);
  EXPECT_LE(tl.columns.size(), html::kMaxColumns);
  EXPECT_NEAR(tl.columns.back().t1, 500.0, 1e-6);
  const auto html = renderHtml(r);
  EXPECT_LE(pointsOf(html, "chart-latency"), static_cast<long>(2 * html::kMaxColumns));
  EXPECT_GT(pointsOf(html, "chart-latency"), 0);
  EXPECT_NE(html.find("neighbouring buckets merged"), std::string::npos);
}

TEST(HtmlReport, EmptyOrBrokenDocumentsStillRender) {
  for (const auto& doc : {json::object(), json::array(), json{{"summary", {{"series", "not an array"}}}},
                          json{{"events", 3}, {"summary", {{"series", json::array({1, "x", nullptr})}}}}}) {
    const auto html = renderHtml(doc);
    EXPECT_NE(html.find("</html>"), std::string::npos);
    expectBalanced(html, doc.dump());
  }
}

}  // namespace
}  // namespace cutover::reports
