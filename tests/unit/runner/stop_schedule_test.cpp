#include "sim/runner/stop_schedule.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;
const Instant kT0 = fromNanos(1'000'000'000);

TEST(StopSchedule, TheKillIsDueAtTheEndOfTheGracePeriodAndSentOnce) {
  StopSchedule s;
  s.stop(0, kT0 + 1s);
  EXPECT_TRUE(s.stopping(0));
  EXPECT_EQ(s.nextDeadline(), kT0 + 1s);
  EXPECT_TRUE(s.takeDue(kT0 + 999ms).empty());
  EXPECT_EQ(s.takeDue(kT0 + 1s), std::vector<std::size_t>{0});
  EXPECT_TRUE(s.takeDue(kT0 + 2s).empty());  // once
  EXPECT_FALSE(s.nextDeadline());            // nothing to wake for
  EXPECT_TRUE(s.stopping(0));                // killed, not reaped yet: still on its way out
  s.exited(0);
  EXPECT_FALSE(s.stopping(0));
}

// The regression of 30c2a08: an instance that exited within its grace period
// kept its deadline, the loop was told to wake at that past instant and spun.
TEST(StopSchedule, AnExitWithinTheGracePeriodCancelsItsKill) {
  StopSchedule s;
  s.stop(0, kT0 + 1s);
  s.stop(1, kT0 + 3s);
  s.exited(0);
  EXPECT_EQ(s.nextDeadline(), kT0 + 3s);
  EXPECT_TRUE(s.takeDue(kT0 + 2s).empty());
  EXPECT_EQ(s.takeDue(kT0 + 3s), std::vector<std::size_t>{1});
  s.stop(0, kT0 + 5s);  // a stop for an instance gone does nothing
  EXPECT_FALSE(s.stopping(0));
  EXPECT_FALSE(s.nextDeadline());
}

TEST(StopSchedule, ASecondStopKeepsTheFirstDeadlineAndDueKillsComeInInstanceOrder) {
  StopSchedule s;
  s.stop(4, kT0 + 2s);
  s.stop(2, kT0 + 1s);
  s.stop(4, kT0 + 10s);  // the grace period runs from the first signal
  EXPECT_EQ(s.nextDeadline(), kT0 + 1s);
  EXPECT_FALSE(s.stopping(3));
  EXPECT_EQ(s.takeDue(kT0 + 2s), (std::vector<std::size_t>{2, 4}));
  EXPECT_FALSE(s.nextDeadline());
}

}  // namespace
}  // namespace cutover::runner
