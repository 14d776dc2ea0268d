#include "sim/switcher/core.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace cutover::switcher {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Instant kT0 = fromNanos(1'000'000'000);

std::vector<std::string> kinds(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.kind);
  return out;
}

// Events of interest only (backend_added/removed filtered out).
std::vector<Event> switchEvents(Core& core) {
  std::vector<Event> out;
  for (auto& e : core.takeEvents())
    if (e.kind.rfind("backend_", 0) != 0) out.push_back(std::move(e));
  return out;
}

std::string instanceOf(const Core& core, const Route& r) {
  const auto view = core.backend(r.backend);
  return view ? view->instance : "?";
}

Core blueGreen(Policy policy) {
  CoreOptions options;
  options.policy = policy;
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("blue", "blue-2", 9002, kT0);
  core.addBackend("blue", "blue-3", 9003, kT0);
  core.addBackend("green", "green-1", 9101, kT0);
  core.addBackend("green", "green-2", 9102, kT0);
  return core;
}

TEST(SwitcherCore, NoActivePoolAtFirst) {
  Core core = blueGreen(Policy::round_robin);
  const Route r = core.route(kT0);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error, RouteError::no_active_pool);
  EXPECT_EQ(routeErrorName(r.error), "no_active_pool");
  EXPECT_EQ(core.activePool(), "");
}

TEST(SwitcherCore, RoundRobinCyclesInInsertionOrder) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  std::vector<std::string> picked;
  for (int i = 0; i < 6; ++i) {
    const Route r = core.route(kT0);
    ASSERT_TRUE(r);
    picked.push_back(instanceOf(core, r));
    core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  EXPECT_EQ(picked, (std::vector<std::string>{"blue-1", "blue-2", "blue-3", "blue-1", "blue-2", "blue-3"}));
}

TEST(SwitcherCore, RoundRobinIgnoresLoad) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route a = core.route(kT0);  // blue-1, stays in flight
  const Route b = core.route(kT0);
  const Route c = core.route(kT0);
  const Route d = core.route(kT0);
  EXPECT_EQ(instanceOf(core, a), "blue-1");
  EXPECT_EQ(instanceOf(core, d), "blue-1");
  EXPECT_EQ(core.backend(a.backend)->in_flight, 2u);
  EXPECT_EQ(core.poolInFlight("blue"), 4u);
  (void)b;
  (void)c;
}

TEST(SwitcherCore, LeastOutstandingPicksTheLeastLoaded) {
  Core core = blueGreen(Policy::least_outstanding);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  // All idle: ties broken in round robin order.
  const Route a = core.route(kT0);
  const Route b = core.route(kT0);
  const Route c = core.route(kT0);
  EXPECT_EQ(instanceOf(core, a), "blue-1");
  EXPECT_EQ(instanceOf(core, b), "blue-2");
  EXPECT_EQ(instanceOf(core, c), "blue-3");
  // blue-2 finishes: it is the only one with 0 in flight.
  core.onRequestDone(b.backend, kT0, Upstream::response);
  const Route d = core.route(kT0);
  EXPECT_EQ(instanceOf(core, d), "blue-2");
  // All at 1: the tie goes to the next in round robin order after blue-2.
  const Route e = core.route(kT0);
  EXPECT_EQ(instanceOf(core, e), "blue-3");
  // blue-1 at 1, blue-2 at 1, blue-3 at 2: blue-1 next (after blue-3, wraps).
  const Route f = core.route(kT0);
  EXPECT_EQ(instanceOf(core, f), "blue-1");
  EXPECT_EQ(core.backend(a.backend)->in_flight, 2u);
}

// Least outstanding against a reference written from its definition (the
// least in-flight routable member, ties to the first at or after the round
// robin cursor), over seeded random sequences of routes, retries, finished
// requests, health changes, removals and additions, with and without panic.
TEST(SwitcherCore, LeastOutstandingAgreesWithAReferenceOverRandomOperations) {
  struct Member {
    std::string instance;
    bool healthy = true;
    std::uint32_t in_flight = 0;
  };
  for (const bool panic : {false, true}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CoreOptions options;
      options.policy = Policy::least_outstanding;
      options.panic = panic;
      Core core(options);
      std::vector<Member> ref;
      std::map<std::string, std::uint32_t> in_flight_of_removed;
      std::size_t cursor = 0;
      int added = 0;
      auto add = [&] {
        const std::string name = "blue-" + std::to_string(++added);
        ASSERT_TRUE(core.addBackend("blue", name, static_cast<std::uint16_t>(9000 + added), kT0, true));
        ref.push_back({name, true, 0});
      };
      for (int k = 0; k < 6; ++k) add();
      ASSERT_TRUE(core.switchTo("blue", kT0).ok);
      // The reference pick; `tried` is left out (a retry).
      auto pickRef = [&](const std::string& tried) -> int {
        const std::size_t n = ref.size();
        int best = -1;
        bool any_routable = false;
        for (const auto& m : ref) any_routable |= m.healthy && m.instance != tried;
        const bool among_all = !any_routable && panic && tried.empty();
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t at = (cursor + i) % n;
          const Member& m = ref[at];
          if (m.instance == tried || !(m.healthy || among_all)) continue;
          if (best < 0 || m.in_flight < ref[static_cast<std::size_t>(best)].in_flight) best = static_cast<int>(at);
        }
        if (best >= 0) cursor = (static_cast<std::size_t>(best) + 1) % n;
        return best;
      };
      std::vector<std::pair<BackendId, std::string>> held;
      Rng rng(seed);
      for (int step = 0; step < 400; ++step) {
        const auto op = rng() % 10;
        if (op < 4 || held.empty()) {  // route
          const int want = pickRef("");
          const Route r = core.route(kT0);
          ASSERT_EQ(static_cast<bool>(r), want >= 0) << "seed " << seed << " step " << step;
          if (!r) continue;
          const auto& m = ref[static_cast<std::size_t>(want)];
          ASSERT_EQ(instanceOf(core, r), m.instance) << "seed " << seed << " step " << step;
          ++ref[static_cast<std::size_t>(want)].in_flight;
          held.emplace_back(r.backend, m.instance);
        } else if (op < 7) {  // a request finishes
          const std::size_t h = rng() % held.size();
          const auto [id, name] = held[h];
          held.erase(held.begin() + static_cast<std::ptrdiff_t>(h));
          core.onRequestDone(id, kT0, Upstream::response);
          for (auto& m : ref)
            if (m.instance == name) --m.in_flight;
        } else if (op == 7) {  // a retry away from a held one
          const std::string tried = held[rng() % held.size()].second;
          const auto tried_id = core.findBackend(tried);
          if (!tried_id) continue;  // removed meanwhile
          const int want = pickRef(tried);
          const Route r = core.routeRetry(kT0, *tried_id);
          ASSERT_EQ(static_cast<bool>(r), want >= 0) << "seed " << seed << " step " << step;
          if (!r) continue;
          ASSERT_EQ(instanceOf(core, r), ref[static_cast<std::size_t>(want)].instance);
          ++ref[static_cast<std::size_t>(want)].in_flight;
          held.emplace_back(r.backend, ref[static_cast<std::size_t>(want)].instance);
        } else if (op == 8) {  // health changes
          auto& m = ref[rng() % ref.size()];
          m.healthy = rng() % 3 != 0;
          core.setHealthy(m.instance, m.healthy, kT0);
        } else if (ref.size() > 2 && rng() % 2 == 0) {  // a removal keeps the others' order
          const std::size_t at = rng() % ref.size();
          ASSERT_TRUE(core.removeBackend(ref[at].instance, kT0));
          ref.erase(ref.begin() + static_cast<std::ptrdiff_t>(at));
          if (at < cursor) --cursor;
          if (cursor >= ref.size()) cursor = 0;
        } else if (ref.size() < 10) {
          add();
        }
      }
      for (const auto& m : ref) {
        const auto id = core.findBackend(m.instance);
        ASSERT_TRUE(id);
        EXPECT_EQ(core.backend(*id)->in_flight, m.in_flight) << m.instance;
      }
    }
  }
}

TEST(SwitcherCore, LeastOutstandingAvoidsASlowBackend) {
  Core core = blueGreen(Policy::least_outstanding);
  ASSERT_TRUE(core.switchTo("green", kT0).ok);
  // green-1 never finishes; green-2 finishes at once: green-2 gets the rest.
  std::map<std::string, int> count;
  for (int i = 0; i < 10; ++i) {
    const Route r = core.route(kT0);
    ASSERT_TRUE(r);
    ++count[instanceOf(core, r)];
    if (instanceOf(core, r) == "green-2") core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  EXPECT_EQ(count["green-1"], 1);
  EXPECT_EQ(count["green-2"], 9);
}

TEST(SwitcherCore, NoBackendWhenTheActivePoolEmpties) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("green", kT0).ok);
  EXPECT_TRUE(core.removeBackend("green-1", kT0));
  EXPECT_TRUE(core.removeBackend("green-2", kT0));
  EXPECT_FALSE(core.removeBackend("green-2", kT0));
  const Route r = core.route(kT0);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error, RouteError::no_backend);
}

TEST(SwitcherCore, UnhealthyBackendsGetNoRequests) {
  Core core = blueGreen(Policy::least_outstanding);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  EXPECT_TRUE(core.setHealthy("blue-1", false, kT0));
  EXPECT_TRUE(core.setHealthy("blue-3", false, kT0));
  for (int i = 0; i < 4; ++i) {
    const Route r = core.route(kT0);
    ASSERT_TRUE(r);
    EXPECT_EQ(instanceOf(core, r), "blue-2");
  }
  EXPECT_TRUE(core.setHealthy("blue-2", false, kT0));
  EXPECT_EQ(core.route(kT0).error, RouteError::no_backend);
  const auto events = core.takeEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, "health_changed");
  EXPECT_EQ(events.back().detail, "blue-2 unhealthy: set");
}

TEST(SwitcherCore, SwitchRefusedForUnknownOrEmptyPool) {
  Core core = blueGreen(Policy::round_robin);
  core.takeEvents();
  const auto unknown = core.switchTo("purple", kT0);
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.reason.find("unknown pool"), std::string::npos);

  core.removeBackend("green-1", kT0);
  core.removeBackend("green-2", kT0);
  core.takeEvents();
  const auto empty = core.switchTo("green", kT0 + seconds(1));
  EXPECT_FALSE(empty.ok);
  EXPECT_NE(empty.reason.find("no backend"), std::string::npos);
  const auto events = core.takeEvents();
  EXPECT_EQ(kinds(events), (std::vector<std::string>{"switch_requested", "switch_refused"}));
  EXPECT_EQ(events[1].at, kT0 + seconds(1));
  EXPECT_EQ(events[1].detail, empty.reason);
  EXPECT_EQ(core.activePool(), "");
}

TEST(SwitcherCore, ReadinessGateAtLeastNAndAll) {
  CoreOptions options;
  options.readiness = ReadinessGate{ReadinessGate::Kind::at_least, 2};
  Core core(options);
  core.addBackend("green", "green-1", 9101, kT0);
  EXPECT_FALSE(core.switchTo("green", kT0).ok);
  core.addBackend("green", "green-2", 9102, kT0);
  EXPECT_TRUE(core.switchTo("green", kT0).ok);

  options.readiness = ReadinessGate{ReadinessGate::Kind::all, 0};
  Core all(options);
  all.addBackend("blue", "blue-1", 9001, kT0);
  all.addBackend("blue", "blue-2", 9002, kT0);
  all.setHealthy("blue-2", false, kT0);
  const auto refused = all.switchTo("blue", kT0);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.reason.find("1 of 2"), std::string::npos);
  all.setHealthy("blue-2", true, kT0);
  EXPECT_TRUE(all.switchTo("blue", kT0).ok);
}

TEST(SwitcherCore, SwitchIsAtomicAndEmitsEventsWithTimes) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.takeEvents();
  const Route old_req = core.route(kT0 + milliseconds(1));  // in flight on blue
  ASSERT_TRUE(old_req);
  const Instant t_switch = kT0 + seconds(2);
  const auto result = core.switchTo("green", t_switch);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(core.activePool(), "green");
  // Every route after the switch goes to green, even though blue has capacity.
  for (int i = 0; i < 10; ++i) {
    const Route r = core.route(t_switch);
    ASSERT_TRUE(r);
    EXPECT_EQ(core.backend(r.backend)->pool, "green");
    core.onRequestDone(r.backend, t_switch, Upstream::response);
  }
  EXPECT_TRUE(core.isDraining("blue"));
  const auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"switch_requested", "switched"}));
  for (const auto& e : events) {
    EXPECT_EQ(e.at, t_switch);
    EXPECT_EQ(e.pool, "green");
  }
  EXPECT_EQ(events[1].detail, "from blue");
}

TEST(SwitcherCore, DrainedAfterTheLastInFlightCompletes) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  const Route a = core.route(kT0);
  const Route b = core.route(kT0);
  core.switchTo("green", kT0 + seconds(1));
  switchEvents(core);
  EXPECT_EQ(core.nextDeadline(), kT0 + seconds(31));
  core.onRequestDone(a.backend, kT0 + milliseconds(1100), Upstream::response);
  EXPECT_TRUE(switchEvents(core).empty());
  EXPECT_TRUE(core.isDraining("blue"));
  core.onRequestDone(b.backend, kT0 + milliseconds(1250), Upstream::response);
  const auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"drained"}));
  EXPECT_EQ(events[0].pool, "blue");
  EXPECT_EQ(events[0].at, kT0 + milliseconds(1250));
  EXPECT_EQ(events[0].detail, "drain time 250.0 ms");
  EXPECT_FALSE(core.isDraining("blue"));
  // What is left is the end of keep_previous_for (30 s after the switch).
  EXPECT_EQ(core.nextDeadline(), kT0 + seconds(31));
}

TEST(SwitcherCore, DrainedAtOnceWhenNothingInFlight) {
  Core core = blueGreen(Policy::round_robin);
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  core.switchTo("green", kT0 + seconds(1));
  const auto events = switchEvents(core);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, "drained");
  EXPECT_EQ(events.back().pool, "blue");
  EXPECT_EQ(events.back().at, kT0 + seconds(1));
}

TEST(SwitcherCore, DrainTimeout) {
  CoreOptions options;
  options.drain_timeout = seconds(5);
  Core core(options);
  core.addBackend("blue", "blue-1", 9001, kT0);
  core.addBackend("green", "green-1", 9101, kT0);
  core.switchTo("blue", kT0);
  const Route stuck = core.route(kT0);
  core.switchTo("green", kT0 + seconds(1));
  switchEvents(core);
  ASSERT_EQ(core.nextDeadline(), kT0 + seconds(6));
  core.onTimeout(kT0 + seconds(5));  // early: nothing happens
  EXPECT_TRUE(switchEvents(core).empty());
  core.onTimeout(kT0 + seconds(6));
  const auto events = switchEvents(core);
  ASSERT_EQ(kinds(events), (std::vector<std::string>{"drain_timeout"}));
  EXPECT_EQ(events[0].pool, "blue");
  EXPECT_EQ(events[0].at, kT0 + seconds(6));
  EXPECT_NE(events[0].detail.find("1 still in flight"), std::string::npos);
  EXPECT_EQ(core.nextDeadline(), kT0 + seconds(31));  // keep_previous_for ends
  // The late completion is accounted for, and the pool's drain ends with
  // it: "drained" at 6 s after the switch, marked past the timeout (the
  // design's drain time: until the old pool has nothing in flight; it was
  // never told, and drain_time_ms was missing).
  core.onRequestDone(stuck.backend, kT0 + seconds(7), Upstream::reset);
  const auto late = switchEvents(core);
  ASSERT_EQ(kinds(late), (std::vector<std::string>{"drained"}));
  EXPECT_EQ(late[0].pool, "blue");
  EXPECT_EQ(late[0].at, kT0 + seconds(7));
  EXPECT_NE(late[0].detail.find("past its drain_timeout"), std::string::npos) << late[0].detail;
  EXPECT_EQ(core.poolInFlight("blue"), 0u);
}

TEST(SwitcherCore, SwitchBackCancelsTheDrain) {
  Core core = blueGreen(Policy::round_robin);
  core.switchTo("blue", kT0);
  const Route r = core.route(kT0);
  core.switchTo("green", kT0 + seconds(1));
  EXPECT_TRUE(core.isDraining("blue"));
  core.switchTo("blue", kT0 + seconds(2));  // rollback
  EXPECT_FALSE(core.isDraining("blue"));
  EXPECT_FALSE(core.isDraining("green"));  // nothing in flight: drained at once
  core.onRequestDone(r.backend, kT0 + seconds(3), Upstream::response);
  const auto events = switchEvents(core);
  EXPECT_EQ(kinds(events), (std::vector<std::string>{"switch_requested", "switched", "switch_requested",
                                                     "switched", "switch_requested", "switched", "drained"}));
  EXPECT_EQ(events[5].detail, "from green (its drain cancelled)");
  EXPECT_EQ(events[6].pool, "green");
}

TEST(SwitcherCore, RemovedBackendKeepsItsSlotUntilIdle) {
  Core core = blueGreen(Policy::round_robin);
  core.switchTo("blue", kT0);
  const Route r = core.route(kT0);
  ASSERT_EQ(instanceOf(core, r), "blue-1");
  EXPECT_TRUE(core.removeBackend("blue-1", kT0));
  // Still routable pool, never to blue-1.
  for (int i = 0; i < 4; ++i) {
    const Route x = core.route(kT0);
    EXPECT_NE(instanceOf(core, x), "blue-1");
    core.onRequestDone(x.backend, kT0, Upstream::response);
  }
  // A new backend must not reuse the busy slot.
  core.addBackend("blue", "blue-4", 9004, kT0);
  EXPECT_NE(core.findBackend("blue-4"), r.backend);
  EXPECT_EQ(core.backend(r.backend)->instance, "blue-1");
  core.onRequestDone(r.backend, kT0, Upstream::response);
  EXPECT_EQ(core.backend(r.backend), std::nullopt);  // released
  EXPECT_EQ(core.poolInFlight("blue"), 0u);
}

TEST(SwitcherCore, ReAddingAnInstanceReplacesIt) {
  Core core = blueGreen(Policy::round_robin);
  core.addBackend("green", "blue-1", 9201, kT0);  // moved to green on a new port
  core.switchTo("blue", kT0);
  for (int i = 0; i < 4; ++i) {
    const Route r = core.route(kT0);
    EXPECT_NE(r.port, 9001);
    core.onRequestDone(r.backend, kT0, Upstream::response);
  }
  const auto id = core.findBackend("blue-1");
  ASSERT_TRUE(id);
  EXPECT_EQ(core.backend(*id)->pool, "green");
  EXPECT_EQ(core.backend(*id)->port, 9201);
}

TEST(SwitcherCore, SlotTableIsBounded) {
  CoreOptions options;
  options.max_backends = 2;
  Core core(options);
  EXPECT_TRUE(core.addBackend("blue", "a", 1, kT0));
  EXPECT_TRUE(core.addBackend("blue", "b", 2, kT0));
  EXPECT_FALSE(core.addBackend("blue", "c", 3, kT0));
  core.removeBackend("a", kT0);
  EXPECT_TRUE(core.addBackend("blue", "c", 3, kT0));
}

// hasOutput() is the simulator's check after every request: true exactly
// while pollEvent() or pollAction() would return something.
TEST(SwitcherCore, HasOutputWhileEventsOrActionsWait) {
  Core core = blueGreen(Policy::least_outstanding);
  const auto drainAll = [&] {
    (void)core.takeEvents();
    while (core.pollAction()) {
    }
  };
  drainAll();
  EXPECT_FALSE(core.hasOutput());
  ASSERT_TRUE(core.switchTo("blue", kT0).ok);
  EXPECT_TRUE(core.hasOutput());
  drainAll();
  EXPECT_FALSE(core.hasOutput());
  const Route r = core.route(kT0);  // a routed request and its end say nothing
  ASSERT_TRUE(r);
  core.onRequestDone(r.backend, kT0, Upstream::response);
  EXPECT_FALSE(core.hasOutput());
  core.removeBackend("blue-1", kT0);
  const bool said = core.hasOutput();
  EXPECT_EQ(said, core.pollEvent().has_value());
}

TEST(SwitcherCore, EventQueueIsBounded) {
  CoreOptions options;
  options.max_events = 3;
  Core core(options);
  for (int i = 0; i < 5; ++i) (void)core.switchTo("nope", kT0 + seconds(i));
  const auto events = core.takeEvents();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(core.droppedEvents(), 7u);
  EXPECT_EQ(events.back().at, kT0 + seconds(4));
  EXPECT_FALSE(core.pollEvent());
}

}  // namespace
}  // namespace cutover::switcher
