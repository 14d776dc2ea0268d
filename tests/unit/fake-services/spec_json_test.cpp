#include "fake-services/spec_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cutover::service {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

BehaviourSpec unusualSpec() {
  BehaviourSpec s;
  s.version = "v2-green";
  s.latency.distribution = LatencyDistribution::empirical;
  s.latency.p50 = 3ms;
  s.latency.p99 = 40ms;
  s.latency.value = 7ms;
  s.latency.min = 2ms;
  s.latency.max = 9ms;
  s.latency.samples = {1ms, 2ms, Duration{12345}};
  s.error_rate = 0.125;
  s.error_status = 503;
  s.response_bytes = 4096;
  s.startup.listen_after = 150ms;
  s.startup.ready_after = 2s;
  s.shutdown.on_sigterm = OnSigterm::ignore;
  s.shutdown.pre_stop_delay = 5s;
  s.shutdown.drain_timeout = 30s;
  s.shutdown.close_keepalive = false;
  s.startup.warmup = 30s;
  s.startup.warmup_factor = 2.5;
  s.capacity.max_in_flight = 16;
  s.capacity.overflow = Overflow::queue;
  s.capacity.queue_length = 7;
  s.capacity.overflow_status = 429;
  s.health.mode = HealthMode::flapping;
  s.health.flap_period = 4s;
  s.health.delay = 250ms;
  PathOverride slow;
  slow.prefix = "/slow";
  slow.latency = LatencySpec{};
  slow.latency->distribution = LatencyDistribution::fixed;
  slow.latency->value = 900ms;
  PathOverride broken;
  broken.prefix = "/api/broken";
  broken.error_rate = 0.75;
  broken.error_status = 502;
  s.paths = {slow, broken};
  return s;
}

void expectSameSpec(const BehaviourSpec& a, const BehaviourSpec& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.latency.distribution, b.latency.distribution);
  EXPECT_EQ(a.latency.p50, b.latency.p50);
  EXPECT_EQ(a.latency.p99, b.latency.p99);
  EXPECT_EQ(a.latency.value, b.latency.value);
  EXPECT_EQ(a.latency.min, b.latency.min);
  EXPECT_EQ(a.latency.max, b.latency.max);
  EXPECT_EQ(a.latency.samples, b.latency.samples);
  EXPECT_EQ(a.error_rate, b.error_rate);
  EXPECT_EQ(a.error_status, b.error_status);
  EXPECT_EQ(a.response_bytes, b.response_bytes);
  EXPECT_EQ(a.startup.listen_after, b.startup.listen_after);
  EXPECT_EQ(a.startup.ready_after, b.startup.ready_after);
  EXPECT_EQ(a.shutdown.on_sigterm, b.shutdown.on_sigterm);
  EXPECT_EQ(a.shutdown.pre_stop_delay, b.shutdown.pre_stop_delay);
  EXPECT_EQ(a.shutdown.drain_timeout, b.shutdown.drain_timeout);
  EXPECT_EQ(a.shutdown.close_keepalive, b.shutdown.close_keepalive);
  EXPECT_EQ(a.startup.warmup, b.startup.warmup);
  EXPECT_EQ(a.startup.warmup_factor, b.startup.warmup_factor);
  EXPECT_EQ(a.capacity.max_in_flight, b.capacity.max_in_flight);
  EXPECT_EQ(a.capacity.overflow, b.capacity.overflow);
  EXPECT_EQ(a.capacity.queue_length, b.capacity.queue_length);
  EXPECT_EQ(a.capacity.overflow_status, b.capacity.overflow_status);
  EXPECT_EQ(a.health.mode, b.health.mode);
  EXPECT_EQ(a.health.flap_period, b.health.flap_period);
  EXPECT_EQ(a.health.delay, b.health.delay);
  ASSERT_EQ(a.paths.size(), b.paths.size());
  for (std::size_t i = 0; i < a.paths.size(); ++i) {
    EXPECT_EQ(a.paths[i].prefix, b.paths[i].prefix);
    ASSERT_EQ(a.paths[i].latency.has_value(), b.paths[i].latency.has_value());
    if (a.paths[i].latency) {
      EXPECT_EQ(a.paths[i].latency->distribution, b.paths[i].latency->distribution);
      EXPECT_EQ(a.paths[i].latency->value, b.paths[i].latency->value);
    }
    EXPECT_EQ(a.paths[i].error_rate, b.paths[i].error_rate);
    EXPECT_EQ(a.paths[i].error_status, b.paths[i].error_status);
  }
}

TEST(SpecJson, RoundTripsEveryField) {
  const BehaviourSpec original = unusualSpec();
  const auto back = specFromJson(toJson(original));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expectSameSpec(original, back.value());
}

TEST(SpecJson, RoundTripsThroughText) {
  const BehaviourSpec original = unusualSpec();
  const auto back = specFromJson(json::parse(toJson(original).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expectSameSpec(original, back.value());
}

TEST(SpecJson, RoundTripsDefaults) {
  const auto back = specFromJson(toJson(BehaviourSpec{}));
  ASSERT_TRUE(back.ok()) << back.error().message;
  expectSameSpec(BehaviourSpec{}, back.value());
}

TEST(SpecJson, WritesDurationsAsIntegerNanoseconds) {
  const json j = toJson(unusualSpec());
  EXPECT_EQ(j["startup"]["listen_after"], 150'000'000);
  EXPECT_EQ(j["latency"]["samples"][2], 12345);
  EXPECT_EQ(j["shutdown"]["on_sigterm"], "ignore");
  EXPECT_EQ(j["latency"]["distribution"], "empirical");
}

TEST(SpecJson, MissingKeysKeepDefaults) {
  const auto spec = specFromJson(json{{"version", "v9"}, {"latency", {{"distribution", "fixed"}}}});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec.value().version, "v9");
  EXPECT_EQ(spec.value().latency.distribution, LatencyDistribution::fixed);
  EXPECT_EQ(spec.value().latency.value, BehaviourSpec{}.latency.value);
  EXPECT_EQ(spec.value().shutdown.drain_timeout, BehaviourSpec{}.shutdown.drain_timeout);
}

struct BadCase {
  json input;
  std::string key;
};

class SpecJsonRejects : public ::testing::TestWithParam<int> {};

const std::vector<BadCase>& badCases() {
  static const std::vector<BadCase> cases = {
      {json{{"version", 2}}, "version"},
      {json{{"error_rate", "5%"}}, "error_rate"},
      {json{{"error_rate", 1.5}}, "error_rate"},
      {json{{"error_status", 700}}, "error_status"},
      {json{{"error_status", -1}}, "error_status"},
      {json{{"response_bytes", 1.5}}, "response_bytes"},
      {json{{"latency", {{"p50", "2ms"}}}}, "latency.p50"},
      {json{{"latency", {{"p99", -5}}}}, "latency.p99"},
      {json{{"latency", {{"distribution", "pareto"}}}}, "latency.distribution"},
      {json{{"latency", {{"samples", {1, "x"}}}}}, "latency.samples"},
      {json{{"latency", 3}}, "latency"},
      {json{{"startup", {{"ready_after", 1.5}}}}, "startup.ready_after"},
      {json{{"shutdown", {{"on_sigterm", "later"}}}}, "shutdown.on_sigterm"},
      {json{{"shutdown", {{"close_keepalive", 1}}}}, "shutdown.close_keepalive"},
      {json{{"shutdown", {{"drain_timout", 5}}}}, "shutdown.drain_timout"},
      {json{{"verison", "v1"}}, "verison"},
      {json{{"capacity", {{"overflow", "drop"}}}}, "capacity.overflow"},
      {json{{"capacity", {{"max_in_flight", -1}}}}, "capacity.max_in_flight"},
      {json{{"capacity", {{"queue_length", 1'000'000}}}}, "capacity.queue_length"},
      {json{{"health", {{"mode", "sick"}}}}, "health.mode"},
      {json{{"health", {{"delay", "1s"}}}}, "health.delay"},
      {json{{"startup", {{"warmup_factor", -2}}}}, "startup.warmup_factor"},
      {json{{"paths", {{{"prefix", "/a"}, {"error_rate", 3}}}}}, "paths.0.error_rate"},
      {json{{"paths", {{{"prefix", "/a"}, {"latency", {{"value", "x"}}}}}}}, "latency.value"},
      {json{{"paths", {{{"prefx", "/a"}}}}}, "paths.0.prefx"},
      {json{{"paths", 3}}, "paths"},
  };
  return cases;
}

TEST_P(SpecJsonRejects, WrongTypeNamingTheKey) {
  const BadCase& c = badCases().at(static_cast<std::size_t>(GetParam()));
  const auto spec = specFromJson(c.input);
  ASSERT_FALSE(spec.ok()) << c.input.dump();
  EXPECT_THAT(spec.error().message, HasSubstr(c.key)) << c.input.dump();
}

INSTANTIATE_TEST_SUITE_P(AllCases, SpecJsonRejects, ::testing::Range(0, 26));

TEST(SpecJson, EveryBadCaseIsInstantiated) { EXPECT_EQ(badCases().size(), 26u); }

TEST(SpecJson, RejectsNonObject) {
  const auto spec = specFromJson(json::array());
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.error().message, HasSubstr("expected an object"));
}

}  // namespace
}  // namespace cutover::service
