// `cutover compare FILE --switchers builtin,nginx,haproxy`: the same scenario
// (same seed, same load, same timeline) once with each switcher, live, and a
// side-by-side table: dropped, switch latency, drain time, rollback
// latencies, p99. Each run keeps its full reports in OUT/<switcher>/.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "reports/json_report.hpp"
#include "reports/render_util.hpp"
#include "reports/write_all.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"
#include "sim/runner/runner.hpp"
#include "sim/runner/switcher_driver.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::cli {
namespace {

constexpr std::size_t kMaxSwitchers = 8;

struct Row {
  std::string kind;
  std::string verdict;  // PASS, FAIL, INVALID, NOT INSTALLED, BAD INPUT
  int exit = kExitInvalid;  // the exit code it stands for
  std::optional<RunResult> result;
  std::string note;     // first failure or invalid reason
};

std::string cell(const std::optional<RunResult>& r, const char* measure, int digits = 1) {
  if (!r) return "-";
  const auto it = r->measures.find(measure);
  return it == r->measures.end() ? std::string("-") : fmt::format("{:.{}f}", it->second, digits);
}

nlohmann::json rowJson(const Row& row, const std::string& dir) {
  nlohmann::json j = {{"switcher", row.kind}, {"verdict", row.verdict}, {"dir", dir}, {"note", row.note}};
  if (!row.result) return j;
  const auto& r = *row.result;
  const auto& o = r.summary.outcomes;
  j["dropped"] = o.dropped();
  j["outcomes"] = nlohmann::json::object();
  for (std::size_t i = 0; i < kOutcomeCount; ++i)
    j["outcomes"][std::string(kOutcomeNames[i])] = o.of(static_cast<Outcome>(i));
  j["p99_ms"] = r.summary.latency.p99_ms;
  j["measures"] = r.measures;
  return j;
}

Row runWith(const CompareRequest& req, const std::string& kind, const std::string& dir) {
  Row row{kind, "", kExitInvalid, std::nullopt, ""};
  if (!runner::switcherAvailable(kind)) {
    row.verdict = "NOT INSTALLED";
    row.note = kind + " is not installed (apt-get install " + kind + ")";
    return row;
  }
  auto load = req.load;
  load.overrides.push_back("switcher.kind=" + kind);
  const auto s = loadOrReport(req.file, load);
  if (!s) {
    row.verdict = "BAD INPUT";
    row.exit = kExitBadInput;
    return row;
  }
  // The same run as `cutover run` (reports, dropped list, stale files removed).
  const RunRequest one{req.file, load, dir, req.quiet, "live", std::nullopt};
  if (!req.quiet) printErr("[{}] ", kind);
  auto run = runOne(*s, dir, one, false);
  row.verdict = std::string(verdictWord(run.exit));
  row.exit = run.exit;
  if (!run.result) return row;
  RunResult& result = *run.result;
  if (!result.verdict.invalid_reasons.empty()) row.note = result.verdict.invalid_reasons.front();
  else if (!result.verdict.failures.empty()) row.note = result.verdict.failures.front();
  row.result = std::move(result);
  return row;
}

std::string table(const std::vector<Row>& rows) {
  std::string md =
      "| switcher | verdict | dropped | switch_error | reset | retries | switch latency ms | drain ms | "
      "rollback detect ms | rollback recovery ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : rows) {
    const auto& r = row.result;
    const auto count = [&](Outcome o) { return r ? std::to_string(r->summary.outcomes.of(o)) : std::string("-"); };
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", row.kind, row.verdict,
                      r ? std::to_string(r->summary.outcomes.dropped()) : "-", count(Outcome::switch_error),
                      count(Outcome::reset), cell(r, "switcher_retries", 0), cell(r, "switch_latency_ms"), cell(r, "drain_time_ms"),
                      cell(r, "rollback_detect_latency_ms"), cell(r, "rollback_recovery_latency_ms"),
                      r ? fmt::format("{:.1f}", r->summary.latency.p99_ms) : "-");
  }
  return md;
}

}  // namespace

int cmdCompare(const CompareRequest& req) {
  const auto base = loadOrReport(req.file, req.load);
  if (!base) return kExitBadInput;
  if (req.switchers.empty() || req.switchers.size() > kMaxSwitchers) {
    printErr("error: --switchers takes 1 to {} of builtin, nginx, haproxy\n", kMaxSwitchers);
    return kExitBadInput;
  }
  for (const auto& k : req.switchers)
    if (k != "builtin" && k != "nginx" && k != "haproxy") {
      printErr("error: --switchers: unknown switcher '{}' (builtin, nginx, haproxy)\n", k);
      return kExitBadInput;
    }
  for (std::size_t i = 0; i < req.switchers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (req.switchers[i] == req.switchers[j]) {  // one report directory per switcher
        printErr("error: --switchers: '{}' is named twice\n", req.switchers[i]);
        return kExitBadInput;
      }
  const std::string outDir = req.out_dir.empty() ? "reports/out/" + base->name + "-compare" : req.out_dir;
  {
    std::vector<std::string> runDirs;
    for (const auto& kind : req.switchers) runDirs.push_back((std::filesystem::path(outDir) / kind).string());
    removeStaleBatch(outDir, {"compare.md", "compare.json"}, runDirs);
  }
  installInterruptHandlers();
  std::vector<Row> rows;
  nlohmann::json doc = {{"scenario", base->name}, {"file", req.file}, {"seed", base->seed},
                        {"switchers", nlohmann::json::array()}};
  int worst = 0;
  for (const auto& kind : req.switchers) {
    if (g_interrupted.load() != 0) break;
    const auto dir = (std::filesystem::path(outDir) / kind).string();
    rows.push_back(runWith(req, kind, dir));
    worst = worseExit(worst, rows.back().exit);
    doc["switchers"].push_back(rowJson(rows.back(), dir));
  }
  if (g_interrupted.load() != 0) {
    doc["interrupted"] = true;
    worst = kExitInvalid;
  }
  std::string md = fmt::format("# {}: switchers compared\n\nSame scenario, seed {}, load and timeline; one live "
                               "run per switcher (reports in {}/<switcher>/).\n\n",
                               base->name, base->seed, outDir);
  md += table(rows);
  for (const auto& row : rows)
    if (!row.note.empty()) md += fmt::format("\n- {}: {}", row.kind, row.note);
  md += "\n";
  if (g_interrupted.load() != 0)
    md += fmt::format("\nInterrupted: {} of {} switchers run; the comparison is partial.\n", rows.size(),
                      req.switchers.size());
  printOut("{}", md);
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (const auto err = reports::render::writeAllOrNone(outDir, {{"compare.md", md}, {"compare.json", doc.dump(2) + "\n"}});
      !err.empty()) {
    printErr("error: {}\nerror: the comparison could not be written; none is left in {}\n", err, outDir);
    return kExitInvalid;
  }
  if (!req.quiet) printOut("compare    {}\n", (std::filesystem::path(outDir) / "compare.json").string());
  return worst;
}

}  // namespace cutover::cli
