// `cutover calibrate [FILES...]`: each scenario run live and simulated (same
// file, seed and overrides), then a table of the differences (dropped,
// p50/p99, rollback detect latency) on stdout and in OUT/calibration.md and
// OUT/calibration.json. What should agree and how closely is
// metrics/calibration.hpp's; each run keeps its reports in
// OUT/<scenario>/live and OUT/<scenario>/sim.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "metrics/calibration.hpp"
#include "reports/render_util.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"

namespace cutover::cli {
namespace {

constexpr std::size_t kMaxScenarios = 100;

std::string num(const std::optional<double>& v, int digits) {
  return v ? fmt::format("{:.{}f}", *v, digits) : std::string("-");
}

std::string pair(const ModePair& p, int digits) { return num(p.live, digits) + " / " + num(p.sim, digits); }

nlohmann::json pairJson(const ModePair& p) {
  return {{"live", p.live ? nlohmann::json(*p.live) : nlohmann::json()},
          {"sim", p.sim ? nlohmann::json(*p.sim) : nlohmann::json()}};
}

std::string table(const std::vector<CalibrationRow>& rows) {
  std::string md =
      "| scenario | valid live / sim | dropped live / sim | p50 ms live / sim | p99 ms live / sim | "
      "rollback detect ms live / sim | switcher retries live / sim | live slip ms |\n|---|---|---|---|---|---|---|---|\n";
  int droppedAgree = 0, rollbackAgree = 0, rollbackAsked = 0;
  for (const auto& r : rows) {
    droppedAgree += r.dropped_agrees ? 1 : 0;
    if (r.rollback_agrees) {
      ++rollbackAsked;
      rollbackAgree += *r.rollback_agrees ? 1 : 0;
    }
    const std::string rollback =
        pair(r.rollback_detect_ms, 1) +
        (r.rollback_agrees
             ? fmt::format(" ({} {:.0f} ms)", *r.rollback_agrees ? "within" : "NOT within", r.rollback_tolerance_ms)
             : "");
    md += fmt::format("| {} | {} / {} | {}{} | {} | {} | {} | {} | {:.1f} |\n", r.scenario,
                      r.live_valid ? "yes" : "NO", r.sim_valid ? "yes" : "NO", pair(r.dropped, 0),
                      r.dropped_agrees ? "" : " (differ)", pair(r.p50_ms, 2), pair(r.p99_ms, 2), rollback,
                      pair(r.switcher_retries, 0), r.live_slip_ms);
  }
  md += fmt::format(
      "\ndropped agree in {} of {} scenarios; rollback detect latency within one health-check interval in {} of "
      "{} that rolled back in either mode. Live slip: how late the live run's timeline steps, SIGKILLs and sends "
      "were against the simulation's (a dropped count decided by timing can differ when it exceeds the scenario's "
      "margin).\n",
      droppedAgree, rows.size(), rollbackAgree, rollbackAsked);
  return md;
}

// The library: every *.yaml of scenarios/, in name order.
std::vector<std::string> libraryFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("scenarios", ec))
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int cmdCalibrate(const CalibrateRequest& req) {
  const auto files = req.files.empty() ? libraryFiles() : req.files;
  if (files.empty() || files.size() > kMaxScenarios) {
    printErr("error: calibrate takes 1 to {} scenario files (none given and no scenarios/*.yaml here)\n",
               kMaxScenarios);
    return kExitBadInput;
  }
  // Every file is checked before anything runs.
  std::vector<scenario::Scenario> scenarios;
  for (const auto& f : files) {
    auto s = loadOrReport(f, req.load);
    if (!s) return kExitBadInput;
    scenarios.push_back(std::move(*s));
  }
  const std::filesystem::path out = req.out_dir.empty() ? "reports/out/calibrate" : req.out_dir;
  {
    std::vector<std::string> runDirs;
    for (const auto& s : scenarios)
      for (const char* mode : {"live", "sim"}) runDirs.push_back((out / s.name / mode).string());
    removeStaleBatch(out.string(), {"calibration.md", "calibration.json"}, runDirs);
  }
  installInterruptHandlers();
  std::vector<CalibrationRow> rows;
  nlohmann::json doc = {{"time_scale", req.load.time_scale}, {"scenarios", nlohmann::json::array()}};
  int exit = 0;
  for (std::size_t i = 0; i < scenarios.size() && g_interrupted.load() == 0; ++i) {
    const auto& s = scenarios[i];
    const auto dir = out / s.name;
    RunResult results[2];
    const char* modes[2] = {"live", "sim"};
    for (int m = 0; m < 2 && g_interrupted.load() == 0; ++m) {
      const RunRequest one{files[i], req.load, (dir / modes[m]).string(), true, modes[m], std::nullopt};
      auto run = runOne(s, one.out_dir, one, false);
      if (run.exit == kExitBadInput) return kExitBadInput;  // e.g. an output directory that cannot be made
      if (run.result) results[m] = std::move(*run.result);  // else: a default result, not valid
    }
    if (g_interrupted.load() != 0) break;
    rows.push_back(calibrate(s.name, results[0], results[1], toMillis(s.switcher.core.health_check.interval)));
    const auto& r = rows.back();
    if (!r.live_valid || !r.sim_valid) exit = kExitInvalid;
    if (!req.quiet)
      printErr("calibrate  {:<36} dropped {}  p99 {} ms\n", s.name, pair(r.dropped, 0), pair(r.p99_ms, 1));
    doc["scenarios"].push_back({{"scenario", r.scenario},
                                {"file", files[i]},
                                {"valid", {{"live", r.live_valid}, {"sim", r.sim_valid}}},
                                {"dropped", pairJson(r.dropped)},
                                {"dropped_agrees", r.dropped_agrees},
                                {"p50_ms", pairJson(r.p50_ms)},
                                {"p99_ms", pairJson(r.p99_ms)},
                                {"rollback_detect_latency_ms", pairJson(r.rollback_detect_ms)},
                                {"rollback_agrees", r.rollback_agrees ? nlohmann::json(*r.rollback_agrees)
                                                                      : nlohmann::json()},
                                {"rollback_tolerance_ms", r.rollback_tolerance_ms},
                                {"switcher_retries", pairJson(r.switcher_retries)},
                                {"live_slip_ms", r.live_slip_ms},
                                {"dir", dir.string()}});
  }
  if (g_interrupted.load() != 0) {
    doc["interrupted"] = true;
    exit = kExitInvalid;
  }
  const std::string md =
      fmt::format("# Calibration: live against simulated\n\nEach scenario run live and in the simulator with the same "
                  "seed and overrides (time scale {}); reports in {}/<scenario>/live and sim.\n\n",
                  req.load.time_scale, out.string()) +
      table(rows) +
      (g_interrupted.load() != 0 ? fmt::format("\nInterrupted: {} of {} scenarios calibrated; the table is partial.\n",
                                               rows.size(), scenarios.size())
                                 : std::string());
  printOut("{}", md);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (const auto err =
          reports::render::writeAllOrNone(out, {{"calibration.md", md}, {"calibration.json", doc.dump(2) + "\n"}});
      !err.empty()) {
    printErr("error: {}\nerror: the calibration could not be written; none is left in {}\n", err,
               out.string());
    return kExitInvalid;
  }
  if (!req.quiet) printOut("calibrate  {}\n", (out / "calibration.json").string());
  return exit;
}

}  // namespace cutover::cli
