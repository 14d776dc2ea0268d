// Erlang C against values known in closed form or from tables.
#include "metrics/queueing.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace cutover {
namespace {

// M/M/1 (c = 1): C = rho, the wait's mean rho / (mu - lambda), and the
// response time is Exp(mu - lambda), so its p99 is ln(100) / (mu - lambda).
TEST(ErlangC, MM1MatchesItsClosedForms) {
  const auto e = erlangC(50.0, 0.010, 1);  // lambda 50/s, mu 100/s
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->stable);
  EXPECT_DOUBLE_EQ(e->offered_erlangs, 0.5);
  EXPECT_NEAR(e->p_wait, 0.5, 1e-12);
  EXPECT_NEAR(e->mean_wait_s, 0.010, 1e-12);
  EXPECT_NEAR(e->response_p99_s, std::log(100.0) / 50.0, 1e-6);
  EXPECT_NEAR(e->wait_p99_s, std::log(0.5 / 0.01) / 50.0, 1e-12);
}

TEST(ErlangC, MatchesTableValues) {
  // Two servers at one erlang: C = 1/3, mean wait C / (c mu - lambda).
  const auto two = erlangC(1.0, 1.0, 2);
  ASSERT_TRUE(two && two->stable);
  EXPECT_NEAR(two->p_wait, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(two->mean_wait_s, 1.0 / 3.0, 1e-12);
  // Ten servers at eight erlangs: C = 0.40918.
  const auto ten = erlangC(800.0, 0.010, 10);
  ASSERT_TRUE(ten && ten->stable);
  EXPECT_NEAR(ten->p_wait, 0.40918, 1e-5);
  EXPECT_NEAR(ten->rho, 0.8, 1e-12);
  // The response p99 lies between the service's own p99 and that plus the wait's.
  EXPECT_GT(ten->response_p99_s, std::log(100.0) * 0.010);
  EXPECT_LT(ten->response_p99_s, std::log(100.0) * 0.010 + ten->wait_p99_s);
}

TEST(ErlangC, SaysUnstableAtOrAboveOneErlangPerServerAndNothingWithoutServers) {
  const auto full = erlangC(200.0, 0.010, 2);  // rho = 1
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->stable);
  EXPECT_DOUBLE_EQ(full->rho, 1.0);
  EXPECT_EQ(full->p_wait, 0.0);
  EXPECT_FALSE(erlangC(100.0, 0.010, 0));
  EXPECT_FALSE(erlangC(100.0, 0.0, 4));
}

TEST(ErlangC, NoLoadNeverWaits) {
  const auto e = erlangC(0.0, 0.010, 4);
  ASSERT_TRUE(e && e->stable);
  EXPECT_EQ(e->p_wait, 0.0);
  EXPECT_EQ(e->mean_wait_s, 0.0);
  EXPECT_NEAR(e->response_p99_s, std::log(100.0) * 0.010, 1e-6);
}

}  // namespace
}  // namespace cutover
