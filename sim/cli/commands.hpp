#pragma once
// Subcommands of the cutover executable that live outside main.cpp.
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/loader.hpp"

namespace cutover::cli {

inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInvalid = 3;

// SIGINT/SIGTERM set it (installInterruptHandlers); a run in progress ends,
// reported invalid.
extern std::atomic<int> g_interrupted;
void installInterruptHandlers();
std::string selfExe();
// Loads, or prints every error (file:line:col: key: message) and returns nullopt.
std::optional<scenario::Scenario> loadOrReport(const std::string& file, const scenario::LoadOptions& load);

struct RunRequest {
  std::string file;
  scenario::LoadOptions load;
  std::string out_dir;  // "" = reports/out/<name>
  bool quiet = false;
  std::string mode = "live";  // or sim
};
// `cutover run`: one run, or with `repeat` > 1 or a `matrix:` block in the
// file, one run per (combination, seed) in OUT/<combination>/run-<i> plus
// OUT/aggregate.json and aggregate.md (min, median, max of every measure).
int cmdRun(const RunRequest& request, int repeat);
// `cutover report RUN_DIR`: junit.xml, summary.md, report.html from report.json.
int cmdReport(const std::string& dir);

// `cutover switcher --config FILE`: the built-in switcher standalone (proxy
// and admin API) until SIGINT or SIGTERM. `interrupted` is set by the
// caller's signal handler.
int cmdSwitcher(const std::string& config_file, bool quiet, const std::atomic<int>& interrupted);

}  // namespace cutover::cli
