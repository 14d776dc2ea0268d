#pragma once
// Fault search (`cutover explore`), the deciding part: which of a scenario's
// `explore.faults` a seed turns on and when, the scenario with them added,
// and the shrinking of a failing schedule. Pure: the caller runs the
// simulations (the `fails` predicate); time comes only from the draws.
//
// Swarm testing: each seed turns each candidate fault on with probability
// 1/2 (so some seeds try few faults, some many, and faults that mask each
// other are also tried apart), and draws each one's time uniformly in its
// [from, to], to the millisecond.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

struct FaultDraw {
  std::size_t fault = 0;  // index in Scenario::explore
  Duration at{0};         // time since t0 (in the loaded, scaled file)
  bool operator==(const FaultDraw&) const = default;
};

std::vector<FaultDraw> drawFaults(const Scenario& s, Rng& rng);

// Faults whose window ends after the run (checked by `cutover explore`, not
// by the loader: `run --set duration=3s` ignores the block): one
// "FILE:line:col: explore.faults.N.between: ..." line each.
std::vector<std::string> windowsPastTheEnd(const Scenario& s);
// Faults whose target names no instance (blue-3 of 2): each would act on
// nothing. `run` ignores the block, so only `explore` checks this.
std::vector<std::string> faultTargetsMissing(const Scenario& s);

// `base` with the drawn faults as timeline steps (kept in time order) and
// its `explore` block dropped.
Scenario withFaults(const Scenario& base, const std::vector<FaultDraw>& draws);

// "kill blue-1 at 2.345 s, fault green error_rate=0.3 at 1.200 s".
std::string describeDraws(const Scenario& s, const std::vector<FaultDraw>& draws);

// A smaller schedule that still fails: faults are removed one at a time while
// `fails` stays true, until no single removal keeps it failing (1-minimal);
// then each remaining fault's time is moved to its `from` bound when that
// still fails. At most `max_runs` calls of `fails`.
struct ShrinkResult {
  std::vector<FaultDraw> draws;
  int runs = 0;  // calls of `fails`
};
ShrinkResult shrink(std::vector<FaultDraw> failing, const Scenario& s,
                    const std::function<bool(const std::vector<FaultDraw>&)>& fails, int max_runs = 200);

}  // namespace cutover::scenario
