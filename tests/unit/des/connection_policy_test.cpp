// The simulator follows a load block's connection policy as the live client does.
#include <gtest/gtest.h>

#include "sim/des/sim_runner.hpp"
#include "sim/scenario/loader.hpp"

namespace cutover::des {
namespace {

SimTrace traceWith(const std::string& policy) {
  const std::string yaml = R"(name: c
duration: 2s
services:
  blue: { instances: 2, latency: 5ms }
load:
  - { rate: 200/s, connections: 8, )" + policy + R"( }
timeline:
  - { at: 0s, start: blue }
)";
  const auto out = scenario::loadScenarioText(yaml, "inline.yaml");
  EXPECT_TRUE(out.errors.empty()) << out.errors.front().str();
  return simulate(*out.scenario, SimOptions{});
}

// Requests sent on a connection that already carried one.
std::size_t reused(const SimTrace& t) {
  std::size_t n = 0;
  for (const auto& r : t.records) n += r.connection_reuse > 0 ? 1 : 0;
  return n;
}

TEST(SimConnectionPolicy, KeepaliveReusesNewPerRequestNeverMixedInBetween) {
  const auto keep = traceWith("connection_policy: keepalive");
  const auto fresh = traceWith("connection_policy: new_per_request");
  const auto oldKey = traceWith("keepalive: false");
  const auto mixed = traceWith("connection_policy: mixed, fresh_connections: 50%");
  ASSERT_EQ(keep.records.size(), 400u);
  ASSERT_EQ(fresh.records.size(), 400u);
  EXPECT_GT(reused(keep), 350u);
  EXPECT_EQ(reused(fresh), 0u);
  EXPECT_EQ(reused(oldKey), 0u);
  EXPECT_GT(reused(mixed), 100u);
  EXPECT_LT(reused(mixed), 300u);
}

}  // namespace
}  // namespace cutover::des
