#pragma once
// Subcommands of the cutover executable that live outside main.cpp.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/run_result.hpp"
#include "sim/scenario/loader.hpp"

namespace cutover::cli {

inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInvalid = 3;

// SIGINT, SIGTERM and SIGHUP set it (installInterruptHandlers); a run in progress ends,
// reported invalid.
extern std::atomic<int> g_interrupted;
void installInterruptHandlers();
std::string selfExe();
// Loads, or prints every error (file:line:col: key: message) and returns nullopt.
std::optional<scenario::Scenario> loadOrReport(const std::string& file, const scenario::LoadOptions& load);

// The runs a `matrix:` (or --repeat) asks for: every combination's --set
// overrides and its scenario, each loaded and checked; nullopt (the errors
// printed, naming file, line and key) when one is bad input.
struct MatrixRuns {
  std::vector<std::vector<std::string>> combos;
  std::vector<scenario::Scenario> scenarios;
};
std::optional<MatrixRuns> matrixRuns(const std::string& file, const scenario::LoadOptions& load,
                                     const scenario::Scenario& base, int repeat);

struct RunRequest {
  std::string file;
  scenario::LoadOptions load;
  std::string out_dir;  // "" = reports/out/<name>
  bool quiet = false;
  std::string mode = "live";  // or sim
  std::optional<std::uint16_t> metrics_port;  // --metrics-port (live mode)
};
// One run of a loaded scenario (live or sim, as req.mode says) into outDir:
// judged, report.json, junit.xml, summary.md and report.html written; the
// text summary printed when printSummary. exit is the run's exit code.
struct OneRun {
  int exit = 0;
  std::optional<RunResult> result;
};
OneRun runOne(const scenario::Scenario& s, const std::string& outDir, const RunRequest& req, bool printSummary);
// Before a batch of runs (--repeat, matrix:, compare, calibrate) starts:
// removes its summary files in `out` and the reports in each run directory
// it will write, so a batch that dies (kill -9, a CI timeout) leaves no
// earlier batch's "all passed" beside the runs it did not make.
void removeStaleBatch(const std::string& out, const std::vector<std::string>& summary_files,
                      const std::vector<std::string>& run_dirs);
// PASS (0), FAIL (1), INVALID (anything else) for an exit code.
std::string_view verdictWord(int exit);
// Of two runs' exit codes, the one a batch reports: 3 (invalid) over 2 (bad
// input) over 1 (failed) over 0.
int worseExit(int a, int b);

// `cutover run`: one run, or with `repeat` > 1 or a `matrix:` block in the
// file, one run per (combination, seed) in OUT/<combination>/run-<i> plus
// OUT/aggregate.json and aggregate.md (min, median, max of every measure).
int cmdRun(const RunRequest& request, int repeat);
struct CompareRequest {
  std::string file;
  scenario::LoadOptions load;
  std::vector<std::string> switchers;  // builtin, nginx, haproxy
  std::string out_dir;                 // "" = reports/out/<name>-compare
  bool quiet = false;
};
// `cutover compare FILE --switchers builtin,nginx,haproxy`: one live run per
// switcher (OUT/<switcher>/ with every report), then a side-by-side table on
// stdout and in OUT/compare.md and OUT/compare.json. Exit: the worst of the
// runs (3 when a switcher is not installed).
int cmdCompare(const CompareRequest& request);
struct PlanRequest {
  std::string file;
  scenario::LoadOptions load;       // --set, --time-scale (applied to every point)
  std::vector<std::string> sweeps;  // KEY=A..B or KEY=v1,v2,... (--set keys)
  int steps = 5;                    // values of a rate or duration range A..B
  std::string p99_under;            // "50ms"; "" = no question asked
  std::string rate;                 // "10k/s": the rate the question is asked at
  std::string min_window;           // "2s": the switch window lasts at least this; "" = 0
  long long max_app_errors = -1;    // the question also bounds app errors per run; -1 = not asked
  std::string out_dir;              // "" = reports/out/<name>-plan
  std::optional<std::uint64_t> seed;
  bool quiet = false;
};
// `cutover plan FILE --sweep K=A..B ...`: one simulated run per grid point
// (at most 400), OUT/plan.json, plan.md and plan.svg (docs/simulation.md,
// "Capacity planning"). Exit 0: the question has an answer (or none was
// asked), 1: no point satisfies it, 2: bad input, 3: interrupted.
int cmdPlan(const PlanRequest& request);
struct CalibrateRequest {
  std::vector<std::string> files;  // empty: every scenarios/*.yaml (the library)
  scenario::LoadOptions load;      // --set, --time-scale (applied to every run)
  std::string out_dir;             // "" = reports/out/calibrate
  bool quiet = false;
};
// `cutover calibrate [FILES...]`: each scenario live and simulated, a table of
// the differences (metrics/calibration.hpp) on stdout, OUT/calibration.md and
// OUT/calibration.json. Exit 0, 2 on bad input (nothing runs), 3 when a run
// was invalid or the command was interrupted; differences are reported, not judged.
int cmdCalibrate(const CalibrateRequest& request);
struct ExploreRequest {
  std::string file;
  scenario::LoadOptions load;         // --set, --time-scale
  int runs = 100;                     // seeds first .. first + runs - 1
  std::optional<std::uint64_t> seed;  // the first seed; default: the file's seed
  int shrink = 3;                     // failing seeds shrunk (the first ones)
  std::string out_dir;                // "" = reports/out/<name>-explore
};
// `cutover explore FILE --runs N`: fault search in the simulator (docs/simulation.md,
// "Fault search"). Exit 0: no failing seed; 1: some; 2: bad input; 3: interrupted.
int cmdExplore(const ExploreRequest& request);
// `cutover report RUN_DIR`: junit.xml, summary.md, report.html from report.json.
int cmdReport(const std::string& dir);

// `cutover switcher --config FILE`: the built-in switcher standalone (proxy
// and admin API) until SIGINT, SIGTERM or SIGHUP. `interrupted` is set by the
// caller's signal handler.
int cmdSwitcher(const std::string& config_file, bool quiet, const std::atomic<int>& interrupted);

}  // namespace cutover::cli
