#include "sim/switcher/least_loaded.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "sim/core/rng.hpp"

namespace cutover::switcher {
namespace {

constexpr auto kNone = LeastLoaded::kNone;
constexpr auto kOff = LeastLoaded::kUnroutable;

// What least outstanding means, by a scan of every member: the least load
// other than `exclude`'s, first from `start` in circular order.
std::size_t reference(const std::vector<std::uint32_t>& load, std::size_t start, std::size_t exclude) {
  const std::size_t n = load.size();
  if (n == 0) return kNone;
  start %= n;
  std::uint32_t least = kOff;
  for (std::size_t k = 0; k < n; ++k)
    if (k != exclude && load[k] < least) least = load[k];
  if (least == kOff) return kNone;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = (start + i) % n;
    if (k != exclude && load[k] == least) return k;
  }
  return kNone;
}

TEST(LeastLoaded, TiesGoToTheFirstFromTheCursorInCircularOrder) {
  LeastLoaded l;
  for (std::uint32_t v : {3u, 1u, 2u, 1u, kOff, 1u}) l.push_back(v);
  EXPECT_EQ(l.pick(0), 1u);
  EXPECT_EQ(l.pick(2), 3u);
  EXPECT_EQ(l.pick(4), 5u);
  EXPECT_EQ(l.pick(6), 1u);        // a cursor past the end wraps
  EXPECT_EQ(l.pick(2, 3), 5u);     // the excluded one is skipped
  l.set(1, 0);
  EXPECT_EQ(l.pick(2), 1u);        // a lower load wins over the cursor
  EXPECT_EQ(l.pick(0, 1), 3u);     // excluded: the next level's first from the cursor
  l.erase(1);                      // {3, 2, 1, off, 1}
  EXPECT_EQ(l.pick(0), 2u);
  EXPECT_EQ(l.pick(3), 4u);
}

TEST(LeastLoaded, NoRoutableMemberGivesNone) {
  LeastLoaded l;
  EXPECT_EQ(l.pick(0), kNone);
  l.push_back(kOff);
  l.push_back(5);
  EXPECT_EQ(l.pick(0), 1u);
  EXPECT_EQ(l.pick(0, 1), kNone);  // the only routable one is excluded
  l.set(1, kOff);
  EXPECT_EQ(l.pick(0), kNone);
}

// Random loads moving one step at a time (as requests come and go), members
// turning unroutable and back, joining and leaving, loads past the levels
// it indexes: every pick equals the scan's.
TEST(LeastLoaded, EveryPickEqualsAScanOfAllMembers) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Rng rng(seed);
    LeastLoaded l;
    std::vector<std::uint32_t> load;
    const std::size_t most = seed == 4 ? 300 : 70;  // several bitmap words
    for (int step = 0; step < 40000; ++step) {
      const auto r = rng() % 100;
      const std::size_t n = load.size();
      if (n == 0 || (r < 3 && n < most)) {
        const std::uint32_t v = rng() % 8 == 0 ? kOff : static_cast<std::uint32_t>(rng() % 4);
        load.push_back(v);
        l.push_back(v);
      } else if (r < 5 && n > 1) {
        const std::size_t k = rng() % n;
        load.erase(load.begin() + static_cast<std::ptrdiff_t>(k));
        l.erase(k);
      } else if (r < 10) {
        const std::size_t k = rng() % n;
        load[k] = load[k] == kOff ? static_cast<std::uint32_t>(rng() % 3) : kOff;
        l.set(k, load[k]);
      } else if (r < 12) {  // an overloaded backend: beyond the indexed levels
        const std::size_t k = rng() % n;
        load[k] = LeastLoaded::kLevels + static_cast<std::uint32_t>(rng() % 3);
        l.set(k, load[k]);
      } else if (r < 55) {
        const std::size_t k = rng() % n;
        if (load[k] != kOff) l.set(k, ++load[k]);
      } else {
        const std::size_t k = rng() % n;
        if (load[k] != kOff && load[k] > 0) l.set(k, --load[k]);
      }
      const std::size_t start = rng() % (load.size() + 2);
      const std::size_t exclude = rng() % 4 == 0 ? rng() % load.size() : kNone;
      ASSERT_EQ(l.pick(start, exclude), reference(load, start, exclude))
          << "seed " << seed << " step " << step << " members " << load.size();
    }
  }
}

}  // namespace
}  // namespace cutover::switcher
