#include "sim/scenario/switcher_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cutover::scenario {
namespace {

using ::testing::HasSubstr;

std::string allErrors(const SwitcherConfigOutcome& out) {
  std::string s;
  for (const auto& e : out.errors) s += e.str() + "\n";
  return s;
}

TEST(SwitcherConfig, ReadsPoolsAddressesAndSwitcherKeys) {
  const auto out = loadSwitcherConfigText(R"(listen: 127.0.0.1:8080
admin: localhost:9901
active: blue
pools:
  blue: [127.0.0.1:8081, 127.0.0.1:8082]
  green: [127.0.0.1:8091]
switcher: { policy: round_robin, drain_timeout: 5s, health_check: { interval: 2s } }
)", "sw.yaml");
  ASSERT_TRUE(out.config.has_value()) << allErrors(out);
  const auto& c = *out.config;
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.admin_host, "127.0.0.1");
  EXPECT_EQ(c.admin_port, 9901);
  EXPECT_EQ(c.active, "blue");
  ASSERT_EQ(c.backends.size(), 3u);
  EXPECT_EQ(c.backends[1].instance, "blue-2");
  EXPECT_EQ(c.backends[1].port, 8082);
  EXPECT_EQ(c.backends[2].pool, "green");
  EXPECT_EQ(c.switcher.core.policy, switcher::Policy::round_robin);
  EXPECT_EQ(c.switcher.core.drain_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(c.switcher.core.health_check.enabled);
}

TEST(SwitcherConfig, ReportsEveryErrorWithItsPlace) {
  const auto out = loadSwitcherConfigText(R"(listen: 0.0.0.0:80
active: bleu
pools:
  blue: [10.0.0.1:80, "127.0.0.1:x"]
switcher: { polcy: round_robin }
)", "bad.yaml");
  ASSERT_FALSE(out.config.has_value());
  const auto all = allErrors(out);
  EXPECT_THAT(all, HasSubstr("bad.yaml:1:9: listen: '0.0.0.0' is not a loopback address"));
  EXPECT_THAT(all, HasSubstr("pools.blue.0: '10.0.0.1' is not a loopback address"));
  EXPECT_THAT(all, HasSubstr("pools.blue.1: expected an address like 127.0.0.1:8080"));
  EXPECT_THAT(all, HasSubstr("switcher.polcy: unknown key; did you mean 'policy'?"));
  EXPECT_THAT(all, HasSubstr("active: no pool named 'bleu'; did you mean 'blue'?"));
}

TEST(SwitcherConfig, NeedsPools) {
  const auto out = loadSwitcherConfigText("listen: 127.0.0.1:0\n", "x.yaml");
  ASSERT_FALSE(out.config.has_value());
  EXPECT_THAT(allErrors(out), HasSubstr("pools: required key is missing"));
}

}  // namespace
}  // namespace cutover::scenario
