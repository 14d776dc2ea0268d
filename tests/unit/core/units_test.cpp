#include "sim/core/units.hpp"

#include <gtest/gtest.h>

#include "sim/core/rng.hpp"

namespace cutover {
namespace {

using namespace std::chrono_literals;

TEST(Units, ParsesDurations) {
  EXPECT_EQ(parseDuration("250ms"), Duration(250ms));
  EXPECT_EQ(parseDuration("1.5s"), Duration(1500ms));
  EXPECT_EQ(parseDuration("100us"), Duration(100us));
  EXPECT_EQ(parseDuration("2m"), Duration(120s));
  EXPECT_EQ(parseDuration("0s"), Duration(0s));
  EXPECT_FALSE(parseDuration("5"));
  EXPECT_FALSE(parseDuration("-5s"));
  EXPECT_FALSE(parseDuration("5 parsecs"));
  EXPECT_FALSE(parseDuration("s"));
  // At most 1000 h: times x --time-scale (<= 100) stay inside int64 ns.
  EXPECT_EQ(parseDuration("1000h"), Duration(std::chrono::hours(1000)));
  EXPECT_FALSE(parseDuration("1001h"));
  EXPECT_FALSE(parseDuration("100000h"));
}

TEST(Units, ParsesRatesPercentsSizes) {
  EXPECT_DOUBLE_EQ(*parseRate("2k/s"), 2000.0);
  EXPECT_DOUBLE_EQ(*parseRate("500/s"), 500.0);
  EXPECT_DOUBLE_EQ(*parseRate("120/m"), 2.0);
  EXPECT_FALSE(parseRate("500"));
  EXPECT_FALSE(parseRate("2x/s"));
  EXPECT_DOUBLE_EQ(*parseRate("1000M/s"), 1e9);
  EXPECT_FALSE(parseRate("1000000M/s"));  // past 1e9/s: a typo, not a load
  EXPECT_FALSE(parseRate("99999999999999999999/s"));
  EXPECT_DOUBLE_EQ(*parsePercent("5%"), 0.05);
  EXPECT_FALSE(parsePercent("5"));
  EXPECT_FALSE(parsePercent("150%"));
  EXPECT_EQ(parseSize("4KiB"), 4096u);
  EXPECT_EQ(parseSize("12"), 12u);
  EXPECT_FALSE(parseSize("12 apples"));
}

TEST(Units, FormatsDurations) {
  EXPECT_EQ(formatDuration(1500ms), "1.500 s");
  EXPECT_EQ(formatDuration(250ms), "250.0 ms");
  EXPECT_EQ(formatDuration(80us), "80 us");
}

TEST(Rng, SameSeedSameStreamAndSplitsDiffer) {
  Rng a(7), b(7), c(8);
  EXPECT_EQ(a(), b());
  EXPECT_NE(a(), c());
  Rng p(1);
  Rng s1 = p.split(1);
  Rng s2 = p.split(1);
  EXPECT_NE(s1(), s2());  // the parent moved on
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace cutover
