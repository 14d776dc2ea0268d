#include "metrics/drop_causes.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cutover {
namespace {

constexpr std::int64_t kT0 = 7'000'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

const std::vector<std::string> kNames = {"v1", "v2", "blue-1", "blue-2", "green-1"};
constexpr std::uint16_t kV1 = 0, kBlue2 = 3;

std::vector<InstanceInfo> instances() {
  std::vector<InstanceInfo> out(3);
  out[0].id = "blue-1", out[0].pool = "blue", out[0].version = "v1", out[0].exited_s = 5.002;
  out[1].id = "blue-2", out[1].pool = "blue", out[1].version = "v1";
  out[2].id = "green-1", out[2].pool = "green", out[2].version = "v2";
  return out;
}

RequestRecord rec(std::uint64_t id, std::int64_t sent_ms, Outcome o) {
  RequestRecord r;
  r.request_id = id;
  r.intended_ns = r.sent_ns = kT0 + sent_ms * kMs;
  r.done_ns = r.sent_ns + 10 * kMs;
  r.outcome = o;
  r.connection_id = static_cast<std::uint32_t>(id);
  return r;
}

ServiceRequestLog seen(std::string instance, std::uint64_t id, std::int64_t accepted_ms, std::int64_t finished_ms,
                       std::string how) {
  return {std::move(instance), id, kT0 + accepted_ms * kMs, finished_ms ? kT0 + finished_ms * kMs : 0,
          std::move(how)};
}

struct Fixture {
  std::vector<RequestRecord> records;
  std::vector<TimedEvent> events{{-0.5, "switcher", "switched", "blue", "from none"},
                                 {4.0, "timeline", "switch", "green", ""},
                                 {4.0, "switcher", "switched", "green", "from blue"}};
  std::vector<InstanceInfo> inst = instances();
  std::vector<ServiceRequestLog> log;
  DropAttribution run() const { return attributeDrops(RunView{records, kNames, events, inst, kT0}, log); }
};

TEST(DropCauses, KilledInstanceWithNInFlightYieldsExactlyNDropsWithThatCause) {
  Fixture f;
  constexpr int kInFlight = 7;
  for (std::uint64_t id = 1; id <= kInFlight; ++id) {
    f.records.push_back(rec(id, 4990, id % 2 ? Outcome::reset : Outcome::switch_error));
    if (f.records.back().outcome == Outcome::switch_error) {
      f.records.back().status = 502;
      f.records.back().switcher_reason = SwitcherReason::upstream_reset;
    }
    f.log.push_back(seen("blue-1", id, 4991, 0, "in_flight"));
  }
  // Finished on blue-1 before it exited, and an ok request: not drops.
  f.records.push_back(rec(100, 4000, Outcome::ok));
  f.log.push_back(seen("blue-1", 100, 4001, 4005, "responded"));
  const auto a = f.run();
  EXPECT_EQ(a.dropped, static_cast<std::uint64_t>(kInFlight));
  ASSERT_EQ(a.drops.size(), static_cast<std::size_t>(kInFlight));
  EXPECT_EQ(a.by_class.at("in_flight_at_exit"), static_cast<std::uint64_t>(kInFlight));
  EXPECT_EQ(a.by_cause.at("in flight on blue-1 when it exited at 5.002 s"), static_cast<std::uint64_t>(kInFlight));
  EXPECT_EQ(a.drops[0].request_id, 1u);
  EXPECT_EQ(a.drops[0].record, 0u);
}

TEST(DropCauses, SwitcherErrorNamingAKilledBackendWithoutAServiceLog) {
  // SIGKILL leaves no lifecycle line: the switcher's backend header and the
  // instance's exit time are what attribute the drop.
  constexpr std::uint16_t kBlue1 = 2;
  Fixture f;
  f.records.push_back(rec(1, 4995, Outcome::switch_error));  // in flight across the exit at 5.002 s
  f.records.push_back(rec(2, 5100, Outcome::switch_error));  // routed after the exit
  for (auto& r : f.records) {
    r.status = 502;
    r.switcher_reason = SwitcherReason::upstream_reset;
    r.instance = kBlue1;
  }
  const auto a = f.run();
  ASSERT_EQ(a.drops.size(), 2u);
  EXPECT_EQ(a.drops[0].cause, "in flight on blue-1 when it exited at 5.002 s");
  EXPECT_EQ(a.drops[1].cause_class, "backend_gone");
  EXPECT_NE(a.drops[1].cause.find("routed to blue-1 after it exited at 5.002 s"), std::string::npos);
}

TEST(DropCauses, ExitTimeAlsoComesFromEvents) {
  Fixture f;
  f.events.push_back({6.5, "service", "exited", "blue-2", "signal 9"});
  f.records.push_back(rec(1, 6400, Outcome::reset));
  f.log.push_back(seen("blue-2", 1, 6401, 0, ""));
  f.records.push_back(rec(2, 6400, Outcome::reset));  // the lifecycle log's own words
  f.log.push_back(seen("blue-2", 2, 6401, 6500, "exit_reset"));
  const auto a = f.run();
  EXPECT_EQ(a.drops.at(0).cause, "in flight on blue-2 when it exited at 6.500 s");
  EXPECT_EQ(a.drops.at(1).cause, "in flight on blue-2 when it exited at 6.500 s");
}

TEST(DropCauses, ResetOnReusedKeepAliveConnectionNamesItsLastBackend) {
  Fixture f;
  auto first = rec(1, 3000, Outcome::ok);
  first.connection_id = 9, first.connection_reuse = 0, first.instance = kBlue2, first.version = kV1;
  auto second = rec(2, 3500, Outcome::reset);
  second.connection_id = 9, second.connection_reuse = 1;
  auto fresh = rec(3, 3500, Outcome::reset);
  fresh.connection_id = 10;
  f.records = {first, second, fresh};
  const auto a = f.run();
  ASSERT_EQ(a.drops.size(), 2u);
  EXPECT_EQ(a.drops[0].cause_class, "reset_reused_connection");
  EXPECT_EQ(a.drops[0].cause, "reset on a reused keep-alive connection (last answered by blue-2), no service saw the request");
  EXPECT_EQ(a.drops[1].cause_class, "reset_new_connection");
}

TEST(DropCauses, SwitcherNoBackendNamesTheActivePool) {
  Fixture f;
  auto r = rec(1, 4500, Outcome::switch_error);
  r.status = 503, r.switcher_reason = SwitcherReason::no_backend;
  auto before = rec(2, 3000, Outcome::switch_error);
  before.status = 503, before.switcher_reason = SwitcherReason::no_backend;
  f.records = {r, before};
  const auto a = f.run();
  EXPECT_EQ(a.drops.at(0).cause, "503: no healthy backend in green");
  EXPECT_EQ(a.drops.at(1).cause, "503: no healthy backend in blue");
  EXPECT_EQ(a.by_class.at("no_healthy_backend"), 2u);
}

// A request sent 1 ms before the switch reached the switcher after it: the
// switcher names the pool it had no backend in (x-cutover-switcher-pool), and
// that wins over the pool active at the send time.
TEST(DropCauses, SwitcherNoBackendNamesThePoolTheSwitcherNamed) {
  Fixture f;
  std::vector<std::string> names = kNames;
  names.push_back("green");
  auto r = rec(1, 3999, Outcome::switch_error);
  r.status = 503, r.switcher_reason = SwitcherReason::no_backend;
  r.pool = static_cast<std::uint16_t>(names.size() - 1);
  f.records = {r};
  const auto a = attributeDrops(RunView{f.records, names, f.events, f.inst, kT0}, f.log);
  EXPECT_EQ(a.drops.at(0).cause, "503: no healthy backend in green");
  f.records[0].pool = kNoName;  // a switcher that does not say: the pool active at the send
  const auto b = attributeDrops(RunView{f.records, names, f.events, f.inst, kT0}, f.log);
  EXPECT_EQ(b.drops.at(0).cause, "503: no healthy backend in blue");
}

TEST(DropCauses, OtherSwitcherErrorsRefusedTimeoutsAndUnsent) {
  Fixture f;
  auto connectFailed = rec(1, 4500, Outcome::switch_error);
  connectFailed.status = 502, connectFailed.switcher_reason = SwitcherReason::upstream_connect_failed;
  auto notSent = rec(2, 4500, Outcome::reset);
  notSent.sent_ns = 0;
  auto slow = rec(3, 4500, Outcome::timeout);
  f.log.push_back(seen("green-1", 3, 4501, 7000, "responded"));
  auto lost = rec(4, 4500, Outcome::timeout);
  auto refused = rec(5, 4500, Outcome::refused);
  auto app = rec(6, 4500, Outcome::app_error);  // reported beside drops, not one of them
  f.records = {connectFailed, notSent, slow, lost, refused, app};
  const auto a = f.run();
  ASSERT_EQ(a.drops.size(), 5u);
  EXPECT_EQ(a.drops[0].cause_class, "switcher_upstream_connect_failed");
  EXPECT_EQ(a.drops[0].cause, "502 upstream_connect_failed, no service saw the request");
  EXPECT_EQ(a.drops[1].cause_class, "not_sent");
  EXPECT_EQ(a.drops[2].cause, "timeout: green-1 answered 2500.0 ms after the intended send time");
  EXPECT_EQ(a.drops[3].cause_class, "timeout_not_accepted");
  EXPECT_EQ(a.drops[4].cause_class, "refused");
  EXPECT_EQ(a.dropped, 5u);
}

TEST(DropCauses, ListAndDistinctCausesAreBounded) {
  Fixture f;
  for (std::uint64_t id = 1; id <= 50; ++id) {
    f.records.push_back(rec(id, 4500, Outcome::timeout));
    f.log.push_back(seen("green-1", id, 4501, 4500 + 1000 + static_cast<std::int64_t>(id), "responded"));
  }
  const auto a = attributeDrops(RunView{f.records, kNames, f.events, f.inst, kT0}, f.log, {10, 5});
  EXPECT_EQ(a.dropped, 50u);
  EXPECT_EQ(a.drops.size(), 10u);
  EXPECT_EQ(a.by_cause.size(), 6u);  // 5 distinct + "other"
  EXPECT_EQ(a.by_cause.at("other"), 45u);
  EXPECT_EQ(a.by_class.at("timeout_in_service"), 50u);
}

}  // namespace
}  // namespace cutover
