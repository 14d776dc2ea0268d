#include "reports/render_util.hpp"

#include <gtest/gtest.h>

namespace cutover::reports::render {
namespace {

TEST(RenderUtil, PathReadsTolerateMissingAndMistypedKeys) {
  const json j = {{"a", {{"b", 2.5}, {"s", "x"}, {"n", -3}, {"f", true}, {"l", {"p", 1, "q"}}}}, {"top", 7}};
  EXPECT_DOUBLE_EQ(num(j, "a.b"), 2.5);
  EXPECT_DOUBLE_EQ(num(j, "a.s", 9), 9);
  EXPECT_DOUBLE_EQ(num(j, "a.missing.deeper", 4), 4);
  EXPECT_EQ(str(j, "a.s"), "x");
  EXPECT_EQ(str(j, "top"), "7");
  EXPECT_EQ(str(j, "a.b", "none"), "none");
  EXPECT_EQ(count(j, "a.n"), 0u);
  EXPECT_EQ(count(j, "top"), 7u);
  EXPECT_TRUE(flag(j, "a.f"));
  EXPECT_FALSE(flag(j, "a.s"));
  EXPECT_EQ(strings(j, "a.l"), (std::vector<std::string>{"p", "q"}));
  EXPECT_TRUE(has(j, "a.b"));
  EXPECT_FALSE(has(j, "a.zz"));
  EXPECT_TRUE(path(json("scalar"), "a.b").is_null());
}

TEST(RenderUtil, VerdictWord) {
  EXPECT_EQ(verdictWord({{"verdict", {{"valid", true}, {"passed", true}}}}), "PASS");
  EXPECT_EQ(verdictWord({{"verdict", {{"valid", true}, {"passed", false}}}}), "FAIL");
  EXPECT_EQ(verdictWord({{"verdict", {{"valid", false}, {"passed", true}}}}), "INVALID");
  EXPECT_EQ(verdictWord(json::object()), "INVALID");
}

TEST(RenderUtil, Escaping) {
  EXPECT_EQ(xmlEscape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(xmlText(std::string("a\x01\tb\x7f")), "a\tb\x7f");
  EXPECT_EQ(mdEscape("a|b*c_d`e[f]g<h>&#\n"), "a\\|b\\*c\\_d\\`e\\[f\\]g&lt;h&gt;&amp;\\# ");
}

TEST(RenderUtil, NumberFormats) {
  EXPECT_EQ(fixed(1.005, 1), "1.0");
  EXPECT_EQ(fixed(-0.0001, 2), "0.00");
  EXPECT_EQ(fixed(std::numeric_limits<double>::quiet_NaN(), 2), "n/a");
  EXPECT_EQ(millis(0.351), "0.35 ms");
  EXPECT_EQ(millis(28.99), "29.0 ms");
  EXPECT_EQ(millis(1696.8), "1.70 s");
  EXPECT_EQ(seconds(2.5), "2.500 s");
}

// Nearest rank: the p99 of n responses is the ceil(0.99 n)-th, the slowest
// one while n < 100.
TEST(RenderUtil, FewResponsesNoteUnderOneHundred) {
  EXPECT_EQ(fewResponsesNote(0), "");  // no latency at all: said elsewhere
  EXPECT_EQ(fewResponsesNote(1), " (1 response: p99 is the slowest)");
  EXPECT_EQ(fewResponsesNote(99), " (99 responses: p99 is the slowest)");
  EXPECT_EQ(fewResponsesNote(100), "");
  EXPECT_EQ(fewResponsesNote(5000), "");
}

TEST(RenderUtil, ExitsLineIsInTimeOrderAndBounded) {
  EXPECT_EQ(exitsLine({}, 3), "");
  EXPECT_EQ(exitsLine({{"b-2", "code 0", 4}, {"b-1", "signal 9", 2.0}, {"a-1", "", 4}}, 3),
            "b-1 signal 9 at 2.000 s, a-1 exited at 4.000 s, b-2 code 0 at 4.000 s");
  EXPECT_EQ(exitsLine({{"b-1", "code 1", 1}, {"b-2", "code 1", 2}, {"b-3", "code 1", 3}}, 2),
            "b-1 code 1 at 1.000 s, b-2 code 1 at 2.000 s, and 1 more");
}

TEST(RenderUtil, TopCountsSortsByCountThenText) {
  const json causes = {{"b", 2}, {"a", 2}, {"c", 5}, {"d", "x"}};
  const auto top = topCounts(causes, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, "c");
  EXPECT_EQ(top[1].first, "a");
  EXPECT_EQ(top[2].first, "b");
  EXPECT_TRUE(topCounts(json::array(), 3).empty());
}

}  // namespace
}  // namespace cutover::reports::render
