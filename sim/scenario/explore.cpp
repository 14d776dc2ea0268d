#include "sim/scenario/explore.hpp"

#include <algorithm>
#include <cstdio>

#include "sim/core/units.hpp"
#include "sim/scenario/loader.hpp"

namespace cutover::scenario {

std::vector<FaultDraw> drawFaults(const Scenario& s, Rng& rng) {
  std::vector<FaultDraw> out;
  for (std::size_t i = 0; i < s.explore.size(); ++i) {
    const auto& f = s.explore[i];
    const bool on = (rng() & 1u) != 0;
    const double u = rng.uniform();  // drawn for every candidate: one fault's draw never shifts another's
    if (!on) continue;
    const auto span = std::chrono::duration_cast<std::chrono::milliseconds>(f.to - f.from).count();
    const auto ms = static_cast<std::int64_t>(u * static_cast<double>(span + 1));
    out.push_back({i, f.from + std::chrono::milliseconds(std::min<std::int64_t>(ms, span))});
  }
  return out;
}

std::vector<std::string> windowsPastTheEnd(const Scenario& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.explore.size(); ++i) {
    const auto& f = s.explore[i];
    if (f.to <= s.duration) continue;
    out.push_back(s.file + ":" + std::to_string(f.loc.line) + ":" + std::to_string(f.loc.column) + ": explore.faults." +
                  std::to_string(i) + ".between: ends at " + formatDuration(f.to) + ", after the end of the run (" +
                  formatDuration(s.duration) + ")");
  }
  return out;
}

std::vector<std::string> faultTargetsMissing(const Scenario& s) {
  std::vector<std::string> out;
  const auto most = mostInstances(s);
  for (std::size_t i = 0; i < s.explore.size(); ++i) {
    const std::string target = actionTarget(s.explore[i].step.action);
    if (const auto why = instanceTargetProblem(most, target); !target.empty() && !why.empty())
      out.push_back(s.file + ":" + std::to_string(s.explore[i].loc.line) + ":" +
                    std::to_string(s.explore[i].loc.column) + ": explore.faults." + std::to_string(i) + ": " + why);
  }
  return out;
}

Scenario withFaults(const Scenario& base, const std::vector<FaultDraw>& draws) {
  Scenario s = base;
  s.explore.clear();
  for (const auto& d : draws) {
    TimelineStep step = base.explore[d.fault].step;
    step.at = d.at;
    step.loc = base.explore[d.fault].loc;
    s.timeline.push_back(std::move(step));
  }
  std::stable_sort(s.timeline.begin(), s.timeline.end(),
                   [](const TimelineStep& a, const TimelineStep& b) { return a.at < b.at; });  // as the loader
  return s;
}

std::string describeDraws(const Scenario& s, const std::vector<FaultDraw>& draws) {
  std::string out;
  for (const auto& d : draws) {
    if (!out.empty()) out += ", ";
    char at[32];
    std::snprintf(at, sizeof at, "%.3f s", toSeconds(d.at));
    out += describeAction(s.explore[d.fault].step.action) + " at " + at;
  }
  return out.empty() ? "no fault" : out;
}

ShrinkResult shrink(std::vector<FaultDraw> failing, const Scenario& s,
                    const std::function<bool(const std::vector<FaultDraw>&)>& fails, int max_runs) {
  ShrinkResult r;
  const auto tryIt = [&](const std::vector<FaultDraw>& candidate) {
    if (r.runs >= max_runs) return false;
    ++r.runs;
    return fails(candidate);
  };
  bool removed = true;
  while (removed && !failing.empty()) {
    removed = false;
    for (std::size_t i = 0; i < failing.size(); ++i) {
      auto candidate = failing;
      candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(i));
      if (tryIt(candidate)) {
        failing = std::move(candidate);
        removed = true;
        break;
      }
    }
  }
  for (std::size_t i = 0; i < failing.size(); ++i) {
    const Duration from = s.explore[failing[i].fault].from;
    if (failing[i].at == from) continue;
    auto candidate = failing;
    candidate[i].at = from;
    if (tryIt(candidate)) failing = std::move(candidate);
  }
  r.draws = std::move(failing);
  return r;
}

}  // namespace cutover::scenario
