// Markdown and JUnit output of the fixture reports against golden files.
#include <gtest/gtest.h>

#include "reports/junit_report.hpp"
#include "reports/markdown_report.hpp"
#include "tests/unit/reports/report_fixtures.hpp"

namespace cutover::reports {
namespace {

using testing::expectGolden;
using testing::fixture;

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MarkdownMatchesGoldenFile) { expectGolden(GetParam(), "summary.md", renderMarkdown(fixture(GetParam()))); }

TEST_P(Golden, JunitMatchesGoldenFile) { expectGolden(GetParam(), "junit.xml", renderJunit(fixture(GetParam()))); }

TEST_P(Golden, RenderingIsDeterministic) {
  const auto report = fixture(GetParam());
  EXPECT_EQ(renderMarkdown(report), renderMarkdown(report));
  EXPECT_EQ(renderJunit(report), renderJunit(report));
}

// pass: a clean quickstart run; invalid: a run whose switch never happened;
// failed: blue killed at the switch (kill-old-at-once) judged against dropped: 0,
// with drops, expectations, a lesson and
// dropped_requests (hand-edited to hold characters that need escaping);
// rollback: green fails after the switch and an error-rate policy rolls back.
INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::Values("pass", "invalid", "failed", "rollback"));

}  // namespace
}  // namespace cutover::reports
