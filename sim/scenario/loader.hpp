#pragma once
// Loads a scenario file: parse YAML, apply --set overrides, validate. Every
// problem found is reported (not just the first), each with file:line:col
// and the key it concerns. yaml-cpp stays inside loader.cpp.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based, 0 when the problem has no place in the file
  int column = 0;
  std::string key;  // dotted path: services.blue.latency.p50
  std::string message;
  std::string str() const;  // "file:line:col: key: message"
};

struct LoadOutcome {
  std::optional<Scenario> scenario;  // set only when there is no error
  std::vector<Diagnostic> errors;
};

// The range of --time-scale.
inline constexpr double kMinTimeScale = 0.01;
inline constexpr double kMaxTimeScale = 100;

struct LoadOptions {
  std::vector<std::string> overrides;
  // --time-scale: every duration in the file (times of steps, the run's
  // length, latencies, timeouts, windows, duration bounds under expect) is
  // multiplied by it, after the overrides. Rates and counts are not scaled.
  double time_scale = 1.0;
  // For a simulated run (--mode sim, plan, explore): pools of up to
  // kMaxSimInstances instances; a live run starts at most kMaxLiveInstances
  // processes per pool.
  bool simulated = false;
};

// overrides: "dotted.key=value" (value is YAML: 3, 500/s, "[a, b]"), applied
// before validation; sequence items by index: load.0.rate=50/s.
LoadOutcome loadScenarioFile(const std::string& path, const std::vector<std::string>& overrides = {});
LoadOutcome loadScenarioText(const std::string& text, const std::string& file_name,
                             const std::vector<std::string>& overrides = {});
LoadOutcome loadScenarioFile(const std::string& path, const LoadOptions& options);

// The file at `path` (with options.overrides applied) as YAML text with extra
// timeline steps: for each (i, at), explore.faults[i] with `at` in place of
// `between` (in the file's own time: `at` divided by options.time_scale);
// the `explore` block removed, `seed` set, `description` replaced by `note`
// when given. cutover explore writes its minimal failing schedules with it.
std::optional<std::string> scheduleAsYaml(const std::string& path, const LoadOptions& options,
                                          const std::vector<std::pair<std::size_t, Duration>>& steps,
                                          std::uint64_t seed, const std::string& note, std::string* error);
LoadOutcome loadScenarioText(const std::string& text, const std::string& file_name, const LoadOptions& options);

// Closest of `candidates` to `word` within a small edit distance, or "".
std::string suggestKey(const std::string& word, const std::vector<std::string>& candidates);

// Each pool's most instances over the run: its count, or its largest scale
// step (in the timeline or explore.faults).
std::map<std::string, int> mostInstances(const Scenario& s);
// Why `target` (a pool, or <pool>-<n>) names no instance: n must be 1 to the
// pool's count in `most` (mostInstances). "" when it names one, or is not of
// a known pool.
std::string instanceTargetProblem(const std::map<std::string, int>& most, const std::string& target);
// The pool or instance an action names (switch, signal, stop, fault, heal,
// scale); "" for start and rollback.
std::string actionTarget(const Action& a);

}  // namespace cutover::scenario
