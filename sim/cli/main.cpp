// cutover: one executable, subcommands. Exit codes: 0 pass, 1 expectations
// failed, 2 bad input (file, key, value, flags), 3 invalid run.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <new>
#include <optional>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fake-services/fake_service.hpp"
#include "fake-services/spec_json.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"
#include "sim/scenario/loader.hpp"

namespace {

// --set KEY=VALUE, repeatable, one value per flag: a positional after it is
// not taken as a second value.
void addSetOption(CLI::App* cmd, std::vector<std::string>& into, const std::string& help) {
  cmd->add_option("--set", into, help)->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

using namespace cutover;

using cli::kExitBadInput;

using cli::g_interrupted;
using cli::installInterruptHandlers;
using cli::loadOrReport;

int cmdValidate(const std::string& file, const scenario::LoadOptions& load) {
  const auto s = loadOrReport(file, load);
  if (!s) return kExitBadInput;
  // A matrix: every combination is a scenario `run` would load; check them all.
  if (!s->matrix.empty() && !cli::matrixRuns(file, load, *s, 1)) return kExitBadInput;
  printOut("{}: ok ({}, {} services, {} load blocks, {} timeline steps)\n", file, s->name, s->services.size(),
             s->load.size(), s->timeline.size());
  return 0;
}

// A seed as a file holds it: 0 .. 2^63-1, digits only (CLI11 would take
// "-1" for an unsigned and wrap it to 2^64-1).
const CLI::Validator kSeed(
    [](const std::string& s) -> std::string {
      const bool digits = !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      if (!digits || std::stoull(s) > scenario::kMaxSeed)
        return fmt::format("a seed is 0 to {}, got '{}'", scenario::kMaxSeed, s);
      return "";
    },
    "SEED");

// The first sentence of a description, for one-line listings.
std::string firstSentence(const std::string& text) {
  const auto dot = text.find(". ");
  std::string s = dot == std::string::npos ? text : text.substr(0, dot + 1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int cmdList(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  if (ec) {
    printErr("error: cannot list {}: {}\n", dir, ec.message());
    return kExitBadInput;
  }
  std::sort(files.begin(), files.end());
  int bad = 0;
  for (const auto& f : files) {
    const auto out = scenario::loadScenarioFile(f.string());
    if (!out.scenario) {
      // Past the live limits (a pool of 1000, 50k/s for an hour) a file may
      // still be one for --mode sim: listed as such, not as invalid.
      scenario::LoadOptions sim;
      sim.simulated = true;
      if (const auto simOnly = scenario::loadScenarioFile(f.string(), sim); simOnly.scenario) {
        printOut("{:<28} (--mode sim only) {}\n", f.filename().string(), firstSentence(simOnly.scenario->description));
        continue;
      }
      printOut("{:<28} INVALID: {}\n", f.filename().string(), out.errors.front().str());
      ++bad;
      continue;
    }
    printOut("{:<28} {}\n", f.filename().string(), firstSentence(out.scenario->description));
  }
  return bad == 0 ? 0 : kExitBadInput;
}

int cmdFakeService(service::FakeServiceOptions opt, const std::string& specJson) {
  if (!specJson.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(specJson);
    } catch (const nlohmann::json::exception& e) {
      printErr("error: --spec-json: {}\n", e.what());
      return kExitBadInput;
    }
    auto spec = service::specFromJson(j);
    if (!spec) {
      printErr("error: --spec-json: {}\n", spec.error().message);
      return kExitBadInput;
    }
    opt.spec = std::move(spec).value();
  }
  return service::runFakeService(opt);
}

}  // namespace

// An empty --out would fall back to the default directory in the tree.
const CLI::Validator kNonEmpty(
    [](std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); }, "DIR", "non-empty");

int runMain(int argc, char** argv) {
  CLI::App app{"cutover: a lab for blue-green deployments"};
  app.require_subcommand(1);

  std::string file, outDir;
  std::vector<std::string> sets;
  double timeScale = 1.0;
  bool quiet = false;
  auto* run = app.add_subcommand("run", "Run a scenario end to end and write its report");
  run->add_option("scenario", file, "Scenario file (YAML)")->required();
  run->add_option("--out", outDir, "Output directory (default reports/out/<name>)")
      ->check(kNonEmpty);
  addSetOption(run, sets, "Override a scenario key: --set load.0.rate=200/s (repeatable)");
  run->add_flag("-q,--quiet", quiet, "No progress lines");
  std::optional<std::uint64_t> seed;
  run->add_option("--seed", seed, "Seed of the run (same as --set seed=N)")->check(kSeed);
  run->add_option("--time-scale", timeScale, "Multiply every duration in the file (0.25: a quarter as long)");
  std::string mode = "live";
  run->add_option("--mode", mode, "live (real processes and sockets) or sim (deterministic simulation)")
      ->check(CLI::IsMember({"live", "sim"}));
  std::optional<std::uint16_t> metricsPort;
  run->add_option("--metrics-port", metricsPort, "Serve Prometheus metrics on 127.0.0.1:N during the run")
      ->check(CLI::Range(1, 65535));
  int repeat = 1;
  run->add_option("--repeat", repeat, "Run N times (seeds seed, seed+1, ...) and report min/median/max")
      ->check(CLI::Range(1, 1000));

  auto* validate = app.add_subcommand("validate", "Check a scenario file; exit 2 with file:line:col errors");
  validate->add_option("scenario", file, "Scenario file (YAML)")->required();
  addSetOption(validate, sets, "Override a scenario key (as for run)");
  validate->add_option("--time-scale", timeScale, "As for run");
  validate->add_option("--mode", mode, "live (default) or sim: the bounds of that kind of run (instances per pool)")
      ->check(CLI::IsMember({"live", "sim"}));

  std::string switcherConfig;
  auto* sw = app.add_subcommand("switcher", "Run the built-in switcher standalone (docs/admin-api.md)");
  sw->add_option("--config", switcherConfig, "Switcher config (YAML)")->required();
  sw->add_flag("-q,--quiet", quiet, "No event lines");

  service::FakeServiceOptions fs;
  std::string specJson;
  auto* fake = app.add_subcommand("fake-service", "Run one fake service instance (normally spawned by run)");
  fake->add_option("--instance", fs.instance, "Instance id (x-cutover-instance)");
  fake->add_option("--port", fs.port, "Port on 127.0.0.1 (0: any free port)");
  fake->add_option("--ready-fd", fs.ready_fd, "Write \"port=P\" to this fd once listening (-1: stdout)");
  fake->add_option("--seed", fs.seed, "Seed for latency and error draws");
  fake->add_option("--control-fd", fs.control_fd,
                   "Read control commands, one per line, from this fd (docs/fake-service.md)");
  fake->add_option("--lifecycle-log", fs.lifecycle_path, "Write the per-request lifecycle log to this file");
  fake->add_option("--spec-json", specJson, "Behaviour spec as JSON (see docs/scenario-reference.md)");

  std::string listDir = "scenarios";
  auto* list = app.add_subcommand("list", "List the scenario library with one-line descriptions");
  list->add_option("dir", listDir, "Directory of scenario files (default: scenarios)");

  std::string reportDir;
  auto* report = app.add_subcommand("report", "Render junit.xml, summary.md and report.html again from RUN_DIR/report.json");
  report->add_option("run_dir", reportDir, "A run's output directory")->required();

  cli::PlanRequest planReq;
  auto* plan = app.add_subcommand("plan", "Capacity planning: a grid of --sweep values, each point simulated");
  plan->add_option("scenario", planReq.file, "Scenario file (YAML)")->required();
  plan->add_option("--sweep", planReq.sweeps, "KEY=A..B or KEY=v1,v2 (a --set key; repeatable, the grid is the product)")
      ->required();
  plan->add_option("--steps", planReq.steps, "Values of a rate or duration range A..B (default 5)");
  plan->add_option("--p99-under", planReq.p99_under, "The question: p99 in the switch window under this (50ms)");
  plan->add_option("--rate", planReq.rate, "The question's load rate (a value of the swept rate key, or load.0.rate)");
  plan->add_option("--min-window", planReq.min_window, "The switch window lasts at least this long (default 0s)");
  plan->add_option("--max-app-errors", planReq.max_app_errors, "The question also asks for at most N app errors per run")
      ->check(CLI::NonNegativeNumber);
  plan->add_option("--out", planReq.out_dir, "Output directory (default reports/out/<name>-plan)")
      ->check(kNonEmpty);
  plan->add_option("--seed", planReq.seed, "Seed of every point")->check(kSeed);
  addSetOption(plan, planReq.load.overrides, "Override a scenario key for every point (repeatable)");
  plan->add_option("--time-scale", planReq.load.time_scale, "As for run");
  plan->add_flag("-q,--quiet", planReq.quiet, "No progress lines");

  auto* compare = app.add_subcommand("compare", "Run a scenario once per switcher and compare them side by side");
  std::string switchers = "builtin,nginx,haproxy";
  compare->add_option("scenario", file, "Scenario file (YAML)")->required();
  compare->add_option("--switchers", switchers, "Comma-separated: builtin, nginx, haproxy (default: all three)");
  compare->add_option("--out", outDir, "Output directory (default reports/out/<name>-compare)")
      ->check(kNonEmpty);
  addSetOption(compare, sets, "Override a scenario key (as for run)");
  compare->add_option("--time-scale", timeScale, "As for run");
  compare->add_flag("-q,--quiet", quiet, "No progress lines");

  auto* calibrate = app.add_subcommand("calibrate", "Run scenarios live and simulated and compare the two");
  cli::CalibrateRequest calReq;
  calibrate->add_option("scenarios", calReq.files, "Scenario files (default: every scenarios/*.yaml)");
  calibrate->add_option("--out", calReq.out_dir, "Output directory (default reports/out/calibrate)")
      ->check(kNonEmpty);
  addSetOption(calibrate, calReq.load.overrides, "Override a scenario key in every file (as for run)");
  calibrate->add_option("--time-scale", calReq.load.time_scale, "As for run");
  calibrate->add_flag("-q,--quiet", calReq.quiet, "No progress lines");

  auto* explore = app.add_subcommand("explore", "Fault search: draw fault schedules from explore.faults, simulate, shrink failures");
  cli::ExploreRequest exReq;
  explore->add_option("scenario", exReq.file, "Scenario file with an explore.faults block")->required();
  explore->add_option("--runs", exReq.runs, "Seeds to try (default 100)");
  explore->add_option("--seed", exReq.seed, "First seed (default: the file's seed)")->check(kSeed);
  explore->add_option("--shrink", exReq.shrink, "Failing seeds to shrink to a minimal file (default 3)")
      ->check(CLI::Range(0, 100));
  explore->add_option("--out", exReq.out_dir, "Output directory (default reports/out/<name>-explore)")
      ->check(kNonEmpty);
  addSetOption(explore, exReq.load.overrides, "Override a scenario key (as for run)");
  explore->add_option("--time-scale", exReq.load.time_scale, "As for run");

  app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  if (*run) {
    if (seed) sets.push_back("seed=" + std::to_string(*seed));
    cli::RunRequest req{file, {sets, timeScale, mode == "sim"}, outDir, quiet, mode, metricsPort};
    return cli::cmdRun(req, repeat);
  }
  if (*compare) {
    cli::CompareRequest req{file, {sets, timeScale}, {}, outDir, quiet};
    for (std::size_t at = 0; at <= switchers.size();) {
      const auto end = std::min(switchers.find(',', at), switchers.size());
      if (end > at) req.switchers.push_back(switchers.substr(at, end - at));
      at = end + 1;
    }
    return cli::cmdCompare(req);
  }
  if (*report) return cli::cmdReport(reportDir);
  if (*calibrate) return cli::cmdCalibrate(calReq);
  exReq.load.simulated = planReq.load.simulated = true;  // both simulate every run
  if (*explore) return cli::cmdExplore(exReq);
  if (*plan) return cli::cmdPlan(planReq);
  if (*list) return cmdList(listDir);
  if (*validate) return cmdValidate(file, {sets, timeScale, mode == "sim"});
  if (*sw) {
    installInterruptHandlers();
    return cli::cmdSwitcher(switcherConfig, quiet, g_interrupted);
  }
  if (*fake) return cmdFakeService(fs, specJson);
  printOut("cutover {}\n", CUTOVER_VERSION);
  return 0;
}

// Out of memory (a run larger than this machine, though the loader bounds
// what a scenario may ask for): a clear line and exit 3 (the run did not do
// its work), not an abort; a report is written only after a run ends.
int main(int argc, char** argv) {
  try {
    return runMain(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("error: out of memory: this run needs more than the machine has; nothing was reported\n", stderr);
    return cli::kExitInvalid;
  }
}
