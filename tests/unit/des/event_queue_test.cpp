#include "sim/des/event_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "sim/core/rng.hpp"

namespace cutover::des {
namespace {

TEST(EventQueue, TakesEventsByTimeThenBySchedulingOrder) {
  EventQueue q;
  q.push(30, 1, 0);
  q.push(10, 2, 1);
  q.push(10, 3, 2);
  q.push(20, 4, 3);
  std::vector<std::uint32_t> order;
  while (!q.empty()) order.push_back(q.pop().target);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{1, 2, 3, 0}));
}

TEST(EventQueue, LanesMergeWithTheHeapInTheSameTotalOrder) {
  // Random pushes to two lanes (some out of order: they fall back to the
  // heap) and to the heap, interleaved with pops; the result must equal a
  // plain sort by (time, seq).
  EventQueue q;
  const auto a = q.addLane();
  const auto b = q.addLane();
  Rng rng(7);
  std::vector<std::tuple<std::int64_t, std::uint64_t>> expected, got;
  std::int64_t now = 0;
  std::uint64_t seq = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto r = rng() % 10;
    if (r < 7) {
      const std::int64_t t = now + static_cast<std::int64_t>(rng() % 100);
      const auto lane = r < 3 ? a : r < 5 ? b : EventQueue::kNoLane;
      q.push(t, 0, static_cast<std::uint32_t>(seq), 0, lane);
      expected.emplace_back(t, seq++);
    } else if (!q.empty()) {
      const auto e = q.pop();
      ASSERT_GE(e.t, now);
      now = e.t;
      got.emplace_back(e.t, e.target);
    }
  }
  while (!q.empty()) {
    const auto e = q.pop();
    got.emplace_back(e.t, e.target);
  }
  std::sort(expected.begin(), expected.end());
  // Pops interleaved with pushes: the popped sequence must be sorted and hold every event.
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
}

TEST(EventQueue, KindAndGenerationTravelWithTheEvent) {
  EventQueue q;
  q.push(5, 17, 9, 42);
  const auto e = q.pop();
  EXPECT_EQ(e.kind(), 17);
  EXPECT_EQ(e.target, 9u);
  EXPECT_EQ(e.gen, 42u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace cutover::des
