// The ziggurat draws against the distributions they claim: moments, quantiles
// and both tails, with a fixed seed (bounds are several standard errors wide).
#include "sim/core/ziggurat.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace cutover {
namespace {

constexpr int kDraws = 1'000'000;

// Each layer above the base has area v: v / x[i-1] + f(x[i-1]) = f(x[i]),
// and the top layer closes at the density's peak, f(0) = 1.
void expectLayersOfEqualArea(const ziggurat_detail::Table& t) {
  EXPECT_DOUBLE_EQ(t.x[1], t.r);
  for (int i = 2; i < 256; ++i) {
    ASSERT_LT(t.x[i], t.x[i - 1]) << "layer " << i;
    EXPECT_NEAR(t.v / t.x[i - 1] + t.f[i - 1], t.f[i], 1e-12) << "layer " << i;
  }
  EXPECT_GT(t.x[255], 0.0);
  EXPECT_NEAR(t.v / t.x[255] + t.f[255], 1.0, 1e-6);  // the top layer ends at f(0)
  EXPECT_EQ(t.x[256], 0.0);
}

TEST(Ziggurat, NormalTableLayersHaveEqualArea) { expectLayersOfEqualArea(ziggurat_detail::normalTable()); }
TEST(Ziggurat, ExponentialTableLayersHaveEqualArea) {
  expectLayersOfEqualArea(ziggurat_detail::exponentialTable());
}

TEST(Ziggurat, NormalHasTheMomentsQuantilesAndTailsOfN01) {
  Rng rng(42);
  std::vector<double> z(kDraws);
  double sum = 0, sq = 0;
  int beyond_r = 0, above_z99 = 0, below_minus_z99 = 0;
  const double r = ziggurat_detail::normalTable().r;
  for (auto& v : z) {
    v = standardNormal(rng);
    sum += v;
    sq += v * v;
    if (std::fabs(v) > r) ++beyond_r;
    if (v > 2.3263) ++above_z99;
    if (v < -2.3263) ++below_minus_z99;
  }
  const double mean = sum / kDraws;
  EXPECT_NEAR(mean, 0.0, 0.005);                   // standard error 0.001
  EXPECT_NEAR(sq / kDraws - mean * mean, 1.0, 0.006);  // standard error ~0.0014
  // P(Z > 2.3263) = 1%: 10000 expected, standard deviation ~100.
  EXPECT_NEAR(above_z99, 10000, 500);
  EXPECT_NEAR(below_minus_z99, 10000, 500);
  // P(|Z| > 3.6542) = 2.58e-4: ~258 expected; the tail code runs and is right.
  EXPECT_GT(beyond_r, 180);
  EXPECT_LT(beyond_r, 340);
  std::nth_element(z.begin(), z.begin() + kDraws / 2, z.end());
  EXPECT_NEAR(z[kDraws / 2], 0.0, 0.01);
  std::nth_element(z.begin(), z.begin() + kDraws * 84 / 100, z.end());
  EXPECT_NEAR(z[kDraws * 84 / 100], 0.9945, 0.01);  // the 84th percentile
}

TEST(Ziggurat, ExponentialHasTheMeanQuantilesAndTailOfExp1) {
  Rng rng(7);
  std::vector<double> e(kDraws);
  double sum = 0;
  int beyond_r = 0, above_1 = 0;
  const double r = ziggurat_detail::exponentialTable().r;
  for (auto& v : e) {
    v = standardExponential(rng);
    ASSERT_GE(v, 0.0);
    sum += v;
    if (v > r) ++beyond_r;
    if (v > 1.0) ++above_1;
  }
  EXPECT_NEAR(sum / kDraws, 1.0, 0.005);  // standard error 0.001
  // P(X > 1) = e^-1: 367879 expected, standard deviation ~480.
  EXPECT_NEAR(above_1, 367879, 2500);
  // P(X > 7.697) = 4.54e-4: ~454 expected.
  EXPECT_GT(beyond_r, 350);
  EXPECT_LT(beyond_r, 560);
  std::nth_element(e.begin(), e.begin() + kDraws * 99 / 100, e.end());
  EXPECT_NEAR(e[kDraws * 99 / 100], std::log(100.0), 0.05);  // the 99th percentile
}

TEST(Ziggurat, TheSameSeedGivesTheSameStreamAndAnotherSeedAnother) {
  Rng a(5), b(5), c(6);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const double x = standardNormal(a);
    ASSERT_EQ(x, standardNormal(b));
    if (x != standardNormal(c)) differs = true;
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace cutover
