#include "sim/loadgen/closed_loop.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cutover::loadgen {
namespace {

using namespace std::chrono_literals;

const Instant kStart = fromNanos(1'000'000'000);

ClosedLoopSpec spec(std::size_t workers, Duration think, Duration length, bool exponential = false) {
  ClosedLoopSpec s;
  s.workers = workers;
  s.think = think;
  s.length = length;
  s.exponential_think = exponential;
  return s;
}

// Drives the model with a manual clock: every request takes `service`, the
// shell polls at each deadline and each completion. Returns the send times
// per worker. Bounded by `limit` steps.
struct Trace {
  std::vector<std::vector<Instant>> sends;
  std::size_t max_in_flight = 0;
};

Trace simulate(ClosedLoop& m, Duration service, std::size_t limit = 1'000'000) {
  Trace t;
  t.sends.resize(m.workers());
  struct Pending {
    Instant done;
    std::uint32_t worker;
  };
  std::vector<Pending> pending;
  Instant now = kStart;
  for (std::size_t step = 0; step < limit && !m.sendingOver(); ++step) {
    while (auto s = m.pollSend(now)) {
      EXPECT_LE(s->ready, now);
      t.sends[s->worker].push_back(now);
      pending.push_back({now + service, s->worker});
    }
    t.max_in_flight = std::max(t.max_in_flight, m.inFlight());
    EXPECT_EQ(m.inFlight(), pending.size());
    // Advance to the next event: a completion or the next ready worker.
    std::optional<Instant> next = m.nextDeadline();
    for (const auto& p : pending)
      if (!next || p.done < *next) next = p.done;
    if (!next) break;
    now = *next;
    for (std::size_t i = 0; i < pending.size();) {
      if (pending[i].done <= now) {
        m.onDone(pending[i].worker, now);
        pending[i] = pending.back();
        pending.pop_back();
      } else {
        ++i;
      }
    }
  }
  EXPECT_TRUE(m.sendingOver()) << "the loop did not end within its bound";
  return t;
}

TEST(ClosedLoop, EveryWorkerSendsAtStart) {
  ClosedLoop m(spec(3, 0ms, 1s), kStart, Rng(1));
  EXPECT_EQ(m.nextDeadline(), kStart);
  EXPECT_FALSE(m.pollSend(kStart - 1ns).has_value());
  for (int i = 0; i < 3; ++i) {
    const auto s = m.pollSend(kStart);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->ready, kStart);
  }
  EXPECT_FALSE(m.pollSend(kStart).has_value()) << "three workers, three in flight";
  EXPECT_EQ(m.inFlight(), 3u);
  EXPECT_FALSE(m.nextDeadline().has_value()) << "all busy: no timer";
  EXPECT_FALSE(m.sendingOver());
}

TEST(ClosedLoop, FixedThinkGivesExactSendTimes) {
  // 2 workers, 10 ms service, 5 ms think, 100 ms: each sends every 15 ms at
  // 0, 15, ..., 90 ms (7 sends), the next one (105 ms) is past the end.
  ClosedLoop m(spec(2, 5ms, 100ms), kStart, Rng(1));
  const auto t = simulate(m, 10ms);
  for (const auto& sends : t.sends) {
    ASSERT_EQ(sends.size(), 7u);
    for (std::size_t i = 0; i < sends.size(); ++i) EXPECT_EQ(sends[i], kStart + 15ms * static_cast<int>(i)) << i;
  }
  EXPECT_EQ(m.sent(), 14u);
  EXPECT_EQ(t.max_in_flight, 2u);
}

TEST(ClosedLoop, ZeroThinkSendsAgainAtTheCompletion) {
  ClosedLoop m(spec(1, 0ms, 50ms), kStart, Rng(1));
  ASSERT_TRUE(m.pollSend(kStart).has_value());
  m.onDone(0, kStart + 7ms);
  EXPECT_EQ(m.nextDeadline(), kStart + 7ms);
  const auto s = m.pollSend(kStart + 9ms);  // the shell polled late: it sends now
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->ready, kStart + 7ms);
}

TEST(ClosedLoop, NeverMoreThanNInFlight) {
  ClosedLoop m(spec(8, 1ms, 1s), kStart, Rng(7));
  const auto t = simulate(m, 3ms);
  EXPECT_EQ(t.max_in_flight, 8u);
  EXPECT_EQ(m.sent(), 8u * 250u);  // every 4 ms per worker over 1 s
}

TEST(ClosedLoop, BoundedByCount) {
  ClosedLoopSpec s = spec(4, 0ms, 10s);
  s.max_requests = 10;
  ClosedLoop m(s, kStart, Rng(1));
  simulate(m, 1ms);
  EXPECT_EQ(m.sent(), 10u);
  EXPECT_TRUE(m.sendingOver());
  EXPECT_FALSE(m.nextDeadline().has_value());
}

TEST(ClosedLoop, ZeroLengthSendsNothing) {
  ClosedLoop m(spec(4, 0ms, 0ms), kStart, Rng(1));
  EXPECT_TRUE(m.sendingOver());
  EXPECT_FALSE(m.pollSend(kStart + 1s).has_value());
}

TEST(ClosedLoop, ExponentialThinkHasTheMeanAndIsSeeded) {
  // One worker, instant service: the gaps between sends are the think times.
  auto gaps = [](std::uint64_t seed) {
    ClosedLoop m(spec(1, 2ms, 100s, true), kStart, Rng(seed));
    const auto t = simulate(m, 0ms);
    std::vector<double> g;
    for (std::size_t i = 1; i < t.sends[0].size(); ++i) g.push_back(toSeconds(t.sends[0][i] - t.sends[0][i - 1]));
    return g;
  };
  const auto g = gaps(42);
  ASSERT_GT(g.size(), 40'000u);  // about 100 s / 2 ms = 50'000
  double sum = 0, sq = 0;
  for (double x : g) sum += x;
  const double mean = sum / static_cast<double>(g.size());
  for (double x : g) sq += (x - mean) * (x - mean);
  const double cv = std::sqrt(sq / static_cast<double>(g.size() - 1)) / mean;
  EXPECT_NEAR(mean, 0.002, 0.002 * 0.03);
  EXPECT_NEAR(cv, 1.0, 0.03);  // exponential: sd == mean
  EXPECT_EQ(g, gaps(42));
  EXPECT_NE(g, gaps(43));
}

}  // namespace
}  // namespace cutover::loadgen
