#include "reports/write_all.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "reports/html_report.hpp"
#include "tests/unit/reports/report_fixtures.hpp"

namespace cutover::reports {
namespace {

namespace fs = std::filesystem;

fs::path freshDir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / ("cutover-write-all-" + name);
  fs::remove_all(dir);
  return dir;
}

TEST(WriteAll, WritesTheThreeReportsIntoTheDirectory) {
  const auto dir = freshDir("three") / "nested";
  const auto report = testing::fixture("failed");
  const auto written = writeAll(report, dir);
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_EQ(written.value().size(), 3u);
  for (const auto* f : {kJunitFile, kMarkdownFile, kHtmlFile}) EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_EQ(testing::readFile(dir / kHtmlFile), renderHtml(report));
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().extension(), ".tmp");
  fs::remove_all(dir.parent_path());
}

TEST(WriteAll, RerenderRunDirReadsReportJson) {
  const auto dir = freshDir("rerender");
  fs::create_directories(dir);
  fs::copy_file(testing::dataDir() / "pass" / "report.json", dir / "report.json");
  const auto written = rerenderRunDir(dir);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(testing::readFile(dir / kMarkdownFile), testing::readFile(testing::dataDir() / "pass" / "summary.md"));
  fs::remove_all(dir);
}

TEST(WriteAll, RerenderRunDirReportsMissingOrBrokenJson) {
  const auto dir = freshDir("broken");
  fs::create_directories(dir);
  auto r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot read"), std::string::npos);
  std::ofstream(dir / "report.json") << "{\"schema_version\": 1,";
  r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not JSON"), std::string::npos) << r.error().message;
  std::ofstream(dir / "report.json", std::ios::trunc) << "[1, 2]";
  r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a cutover report"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / kHtmlFile));
  fs::remove_all(dir);
}

// A report.json with the right version but broken parts is not rendered:
// before, {"summary": "x", "events": 5} gave a PASS summary of 0 of 0 sent.
TEST(WriteAll, RerenderRunDirRefusesAReportWithoutItsParts) {
  const auto dir = freshDir("parts");
  fs::create_directories(dir);
  std::ofstream(dir / "report.json") << R"({"schema_version": 1, "summary": "x", "events": 5})";
  auto r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a whole cutover report: needs scenario (an object), summary (an object), "
                                   "verdict (an object), measures (an object), events (a list), instances (a list)"),
            std::string::npos)
      << r.error().message;
  EXPECT_FALSE(fs::exists(dir / kMarkdownFile));
  auto report = testing::fixture("failed");
  report["verdict"]["passed"] = nullptr;
  std::ofstream(dir / "report.json", std::ios::trunc) << report.dump();
  r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("verdict.passed (true or false)"), std::string::npos) << r.error().message;
  std::ofstream(dir / "report.json", std::ios::trunc) << R"({"schema_version": 99})";
  r = rerenderRunDir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("schema_version 99, this cutover reads 1"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir / kHtmlFile));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cutover::reports
