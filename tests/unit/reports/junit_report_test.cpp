#include "reports/junit_report.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/unit/reports/report_fixtures.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

json minimal(bool valid, bool passed) {
  return {{"schema_version", 1},
          {"scenario", {{"name", "demo"}, {"duration_s", 2.0}}},
          {"summary", {{"sent", 10}, {"intended", 10}, {"dropped", 0}}},
          {"verdict", {{"valid", valid}, {"passed", passed}, {"failures", json::array()},
                       {"invalid_reasons", json::array()}}}};
}

// No timestamp attribute rather than an empty one (a simulated run has no
// wall-clock start; an empty timestamp is not a valid xs:dateTime).
TEST(JunitReport, TimestampOnlyWhenTheRunHasAStartTime) {
  auto r = minimal(true, true);
  EXPECT_EQ(renderJunit(r).find("timestamp="), std::string::npos);
  r["scenario"]["started_utc"] = "";
  EXPECT_EQ(renderJunit(r).find("timestamp="), std::string::npos);
  r["scenario"]["started_utc"] = "2026-11-28T00:54:01Z";
  EXPECT_NE(renderJunit(r).find(" timestamp=\"2026-11-28T00:54:01Z\">"), std::string::npos) << renderJunit(r);
}

TEST(JunitReport, OneCasePerExpectationPlusOneForValidity) {
  auto r = minimal(true, false);
  r["verdict"]["expectations"] = json::array(
      {{{"name", "dropped"}, {"passed", false}, {"measured", "3"}, {"expected", "<= 0"},
        {"message", "dropped: measured 3, expected <= 0"}},
       {{"name", "final_active"}, {"passed", true}, {"measured", "green"}, {"expected", "green"}, {"message", ""}}});
  const auto xml = renderJunit(r);
  EXPECT_EQ(occurrences(xml, "<testcase "), 3u);
  EXPECT_EQ(occurrences(xml, "<failure "), 1u);
  EXPECT_NE(xml.find("tests=\"3\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"demo\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"expect final_active\""), std::string::npos);
  EXPECT_NE(xml.find("message=\"dropped: measured 3, expected &lt;= 0\""), std::string::npos) << xml;
}

TEST(JunitReport, InvalidRunFailsTheValidityCaseWithItsReasons) {
  auto r = minimal(false, false);
  r["verdict"]["invalid_reasons"] = {"service green-1 never became ready", "sent 5 of 10"};
  const auto xml = renderJunit(r);
  EXPECT_NE(xml.find("<testcase name=\"run validity\" classname=\"cutover.demo\" time=\"2.000\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("type=\"invalid_run\""), std::string::npos);
  EXPECT_NE(xml.find("- service green-1 never became ready\n- sent 5 of 10"), std::string::npos) << xml;
}

TEST(JunitReport, PassingRunWithoutExpectationListHasTwoPassingCases) {
  const auto xml = renderJunit(minimal(true, true));
  EXPECT_EQ(occurrences(xml, "<testcase "), 2u);
  EXPECT_EQ(occurrences(xml, "<failure"), 0u);
}

TEST(JunitReport, EscapesMarkupAndDropsControlCharacters) {
  auto r = minimal(true, false);
  r["scenario"]["name"] = "a\"<b>&'c";
  r["verdict"]["failures"] = {std::string("p99: measured <\x01\x1f> ms, expected ]]> \"x\"")};
  const auto xml = renderJunit(r);
  EXPECT_NE(xml.find("name=\"a&quot;&lt;b&gt;&amp;&#39;c\""), std::string::npos) << xml;
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
  EXPECT_EQ(xml.find('\x1f'), std::string::npos);
  EXPECT_EQ(xml.find("]]>"), std::string::npos);
  EXPECT_NE(xml.find("name=\"expect p99\""), std::string::npos);
}

TEST(JunitReport, MissingKeysGiveAnInvalidSuiteNotACrash) {
  const auto xml = renderJunit(json::object());
  EXPECT_NE(xml.find("<testsuite name=\"unnamed\""), std::string::npos);
  EXPECT_NE(xml.find("type=\"invalid_run\""), std::string::npos);
  EXPECT_EQ(renderJunit(json::array()).empty(), false);
  EXPECT_EQ(renderJunit(json("text")).empty(), false);
}

// Well-formed enough: every element opened is closed, in order.
TEST(JunitReport, FixtureOutputIsBalancedXml) {
  for (const auto* name : {"pass", "invalid", "failed", "rollback"}) {
    const auto xml = renderJunit(testing::fixture(name));
    std::vector<std::string> open;
    const std::regex tag("<(/?)([a-z]+)[^>]*?(/?)>");
    for (std::sregex_iterator it(xml.begin(), xml.end(), tag), end; it != end; ++it) {
      const auto& m = *it;
      if (m[1].length() > 0) {
        ASSERT_FALSE(open.empty()) << name;
        EXPECT_EQ(open.back(), m[2].str()) << name;
        open.pop_back();
      } else if (m[3].length() == 0) {
        open.push_back(m[2].str());
      }
    }
    EXPECT_TRUE(open.empty()) << name;
  }
}

}  // namespace
}  // namespace cutover::reports
