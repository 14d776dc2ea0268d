// `cutover run` (one run, --repeat, matrix:) and `cutover report`.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "reports/json_report.hpp"
#include "reports/render_util.hpp"
#include "reports/text_summary.hpp"
#include "reports/write_all.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"
#include "sim/des/sim_runner.hpp"
#include "sim/runner/runner.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::cli {

std::atomic<int> g_interrupted{0};

namespace {

void onInterrupt(int sig) { g_interrupted.store(sig); }

// Writes report.json, then junit.xml, summary.md and report.html from it.
// When one cannot be written, the ones written before it are removed too: a
// CI must not find a passing junit.xml or report.json of a run whose reports
// failed (exit 3).
int writeReports(const scenario::Scenario& s, const RunResult& result, const std::string& outDir, bool quiet) {
  const auto fail = [&](const std::string& message) {
    printErr("error: {}\n", message);
    reports::removeAll(outDir);
    printErr("error: the reports of this run could not be written; none is left in {}\n", outDir);
    return kExitInvalid;
  };
  reports::ReportExtras extras;
  extras.description = s.description;
  extras.lesson = s.lesson;
  extras.expectations = result.verdict.checks;
  extras.dropped_list_limit = kDroppedListLimit;
  extras.dropped = result.dropped_first;
  const auto doc = reports::toJson(result, extras);
  const auto written = reports::writeJsonFile(doc, (std::filesystem::path(outDir) / "report.json").string());
  if (!written) return fail(written.error().message);
  const auto all = reports::writeAll(doc, outDir);
  if (!all) return fail(all.error().message);
  if (!quiet) printOut("report     {}\n", written.value());
  return 0;
}

}  // namespace

OneRun runOne(const scenario::Scenario& s, const std::string& outDir, const RunRequest& req, bool printSummary) {
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (ec) {
    printErr("error: cannot create output directory {}: {}\n", outDir, ec.message());
    return {kExitBadInput, std::nullopt};
  }
  reports::removeAll(outDir);  // never leave a stale one
  RunResult result;
  if (req.mode == "sim") {
    if (!req.quiet)
      printErr("simulating {} ({:.1f} s of virtual time) -> {}\n", s.name, toSeconds(s.duration), outDir);
    des::SimOptions so;
    so.interrupted = &g_interrupted;
    result = des::runSim(s, so);
  } else {
    runner::RunOptions opt;
    opt.out_dir = outDir;
    opt.self_exe = selfExe();
    opt.progress = !req.quiet;
    opt.interrupted = &g_interrupted;
    opt.metrics_port = req.metrics_port;
    if (!req.quiet) printErr("running {} ({:.1f} s) -> {}\n", s.name, toSeconds(s.duration), outDir);
    result = runner::runLive(s, opt);
  }
  scenario::judge(s, result);
  if (!result.verdict.valid)
    for (const auto& reason : result.verdict.invalid_reasons) printErr("invalid run: {}\n", reason);
  if (printSummary) printOut("{}", reports::textSummary(result));
  if (const int rc = writeReports(s, result, outDir, !printSummary); rc != 0) return {rc, std::move(result)};
  return {scenario::exitCodeOf(result.verdict), std::move(result)};
}

std::string_view verdictWord(int exit) { return exit == 0 ? "PASS" : exit == 1 ? "FAIL" : "INVALID"; }

int worseExit(int a, int b) { return a == kExitInvalid || b == kExitInvalid ? kExitInvalid : std::max(a, b); }

namespace {

// The values one run contributes to the aggregate.
std::map<std::string, double> figuresOf(const RunResult& r) {
  std::map<std::string, double> f;
  f["dropped"] = static_cast<double>(r.summary.outcomes.dropped());
  f["app_errors"] = static_cast<double>(r.summary.outcomes.of(Outcome::app_error));
  f["p50_ms"] = r.summary.latency.p50_ms;
  f["p99_ms"] = r.summary.latency.p99_ms;
  f["max_latency_ms"] = r.summary.latency.max_ms;
  f["achieved_rate_per_s"] = r.summary.achieved_rate_per_s;
  for (const auto& [k, v] : r.measures) f[k] = v;
  return f;
}

nlohmann::json statsOf(const std::vector<std::map<std::string, double>>& runs) {
  std::map<std::string, std::vector<double>> byKey;
  for (const auto& r : runs)
    for (const auto& [k, v] : r) byKey[k].push_back(v);
  nlohmann::json out = nlohmann::json::object();
  for (auto& [k, vs] : byKey) {
    std::sort(vs.begin(), vs.end());
    const double median = vs.size() % 2 ? vs[vs.size() / 2] : (vs[vs.size() / 2 - 1] + vs[vs.size() / 2]) / 2;
    out[k] = {{"min", vs.front()}, {"median", median}, {"max", vs.back()}, {"n", vs.size()}};
  }
  return out;
}

// "green.instances=2 load.0.rate=500/s" -> "green.instances-2_load.0.rate-500-s"
std::string dirNameOf(const std::vector<std::string>& sets) {
  std::string out;
  for (const auto& s : sets) {
    if (!out.empty()) out += "_";
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-';
  }
  return out.empty() ? "base" : out;
}

std::string fmtNum(double v) { return fmt::format("{:.4g}", v); }

// Removes combination/run-K for K > repeat when it holds only what a run
// writes (its reports and logs/): an earlier, larger --repeat's runs.
void removeRunsPast(const std::filesystem::path& combination, int repeat) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(combination, ec)) return;
  static const std::set<std::string> kOurs = {"report.json", "junit.xml", "summary.md", "report.html", "logs"};
  for (const auto& entry : fs::directory_iterator(combination, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("run-") || name.size() > 10 || !entry.is_directory(ec)) continue;
    const std::string digits = name.substr(4);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stol(digits) <= repeat)
      continue;
    bool ours = true;
    for (const auto& inner : fs::directory_iterator(entry.path(), ec)) ours = ours && kOurs.contains(inner.path().filename().string());
    if (ours && !ec) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

void removeStaleBatch(const std::string& out, const std::vector<std::string>& summary_files,
                      const std::vector<std::string>& run_dirs) {
  std::error_code ec;
  for (const auto& f : summary_files) std::filesystem::remove(std::filesystem::path(out) / f, ec);
  for (const auto& d : run_dirs) reports::removeAll(d);
}

void installInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);  // the terminal went away (an ssh session closed): stop in order too
  signal(SIGPIPE, SIG_IGN);
}

std::string selfExe() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("cutover") : p.string();
}

std::optional<scenario::Scenario> loadOrReport(const std::string& file, const scenario::LoadOptions& load) {
  auto out = scenario::loadScenarioFile(file, load);
  for (const auto& e : out.errors) printErr("error: {}\n", e.str());
  if (!out.errors.empty())
    printErr("{} error{} in {}; nothing was run\n", out.errors.size(), out.errors.size() == 1 ? "" : "s", file);
  return std::move(out.scenario);
}

std::optional<MatrixRuns> matrixRuns(const std::string& file, const scenario::LoadOptions& load,
                                     const scenario::Scenario& base, int repeat) {
  // Every combination of the matrix (one, without it), each checked before anything runs.
  std::vector<std::vector<std::string>> combos{{}};
  for (const auto& axis : base.matrix) {
    std::vector<std::vector<std::string>> next;
    for (const auto& c : combos)
      for (const auto& v : axis.values) {
        auto n = c;
        n.push_back(axis.key + "=" + v);
        next.push_back(std::move(n));
      }
    combos = std::move(next);
  }
  if (combos.size() * static_cast<std::size_t>(repeat) > 1000) {
    const auto& first = base.matrix.empty() ? scenario::SourceLoc{} : base.matrix.front().loc;
    printErr("error: {}:{}:{}: matrix: {} combinations x {} repeats is over 1000 runs\n", file, first.line,
               first.column, combos.size(), repeat);
    return std::nullopt;
  }
  // Each combination has its own directory: two that would share one (a
  // value listed twice, or names equal once made safe for a path) would
  // overwrite each other's runs.
  std::map<std::string, std::string> dirs;
  for (const auto& c : combos) {
    const auto name = dirNameOf(c);
    std::string joined;
    for (const auto& o : c) joined += (joined.empty() ? "" : ", ") + o;
    if (const auto [it, fresh] = dirs.emplace(name, joined); !fresh) {
      const auto& first = base.matrix.front().loc;
      printErr("error: {}:{}:{}: matrix: combinations [{}] and [{}] would share the directory {}\n", file,
                 first.line, first.column, it->second, joined, name);
      return std::nullopt;
    }
  }
  MatrixRuns runs;
  runs.combos = combos;
  for (const auto& c : combos) {
    auto l = load;
    l.overrides.insert(l.overrides.end(), c.begin(), c.end());
    auto out = scenario::loadScenarioFile(file, l);
    if (!out.scenario) {
      for (const auto& e : out.errors) printErr("error: [{}] {}\n", dirNameOf(c), e.str());
      for (const auto& axis : base.matrix)
        printErr("  from {}:{}:{}: matrix.{}\n", file, axis.loc.line, axis.loc.column, axis.key);
      printErr("matrix combination {} is invalid; nothing was run\n", dirNameOf(c));
      return std::nullopt;
    }
    runs.scenarios.push_back(std::move(*out.scenario));
  }
  return runs;
}

int cmdRun(const RunRequest& req, int repeat) {
  const auto base = loadOrReport(req.file, req.load);
  if (!base) return kExitBadInput;
  const std::string outDir = req.out_dir.empty() ? "reports/out/" + base->name : req.out_dir;
  installInterruptHandlers();
  if (req.metrics_port && req.mode == "sim") {
    printErr("error: --metrics-port: live runs only (a simulated run passes in virtual time; nothing "
                       "could scrape it)\n");
    return kExitBadInput;
  }
  if (repeat <= 1 && base->matrix.empty()) {
    std::error_code ec;  // an earlier --repeat's aggregate here must not stand for this run
    for (const char* f : {"aggregate.json", "aggregate.md"}) std::filesystem::remove(std::filesystem::path(outDir) / f, ec);
    return runOne(*base, outDir, req, true).exit;
  }
  auto matrix = matrixRuns(req.file, req.load, *base, repeat);
  if (!matrix) return kExitBadInput;
  const auto& combos = matrix->combos;
  auto& scenarios = matrix->scenarios;
  // Seeds run from each run's seed to seed + repeat - 1: every one must be a
  // seed a file or --seed can hold, or a run could not be replayed.
  for (const auto& s : scenarios)
    if (!scenario::seedsFit(s.seed, static_cast<std::uint64_t>(repeat))) {
      printErr("error: --repeat {}: seeds run from {} to seed + {}, over the largest seed {}\n", repeat,
                 s.seed, repeat - 1, scenario::kMaxSeed);
      return kExitBadInput;
    }
  {  // the reports of an earlier single run here must not stand for this one
    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    if (ec) {
      printErr("error: cannot create output directory {}: {}\n", outDir, ec.message());
      return kExitBadInput;
    }
    reports::removeAll(outDir);
    // Runs past this repeat's count, left by an earlier, larger --repeat
    // into the same directory: they are not part of this aggregate.
    for (const auto& combo : combos) removeRunsPast(std::filesystem::path(outDir) / dirNameOf(combo), repeat);
    std::vector<std::string> runDirs;
    for (const auto& combo : combos)
      for (int i = 0; i < repeat; ++i)
        runDirs.push_back((std::filesystem::path(outDir) / dirNameOf(combo) / fmt::format("run-{}", i + 1)).string());
    removeStaleBatch(outDir, {"aggregate.json", "aggregate.md"}, runDirs);
  }

  nlohmann::json agg = {{"scenario", base->name}, {"file", req.file}, {"mode", req.mode}, {"repeat", repeat},
                        {"combinations", nlohmann::json::array()}};
  std::string md = fmt::format("# {}: {} combination{} x {} run{}\n\n", base->name, combos.size(),
                               combos.size() == 1 ? "" : "s", repeat, repeat == 1 ? "" : "s");
  md += "| combination | passed | failed | invalid | dropped (min/median/max) | p99 ms (min/median/max) |\n";
  md += "|---|---|---|---|---|---|\n";
  int worst = 0;
  for (std::size_t ci = 0; ci < combos.size() && g_interrupted.load() == 0; ++ci) {
    const auto name = dirNameOf(combos[ci]);
    nlohmann::json runs = nlohmann::json::array();
    std::vector<std::map<std::string, double>> figures;
    int passed = 0, failed = 0, invalid = 0;
    for (int i = 0; i < repeat && g_interrupted.load() == 0; ++i) {
      auto s = scenarios[ci];
      s.seed = scenarios[ci].seed + static_cast<std::uint64_t>(i);
      const auto dir = (std::filesystem::path(outDir) / name / fmt::format("run-{}", i + 1)).string();
      if (!req.quiet) printErr("[{}] run {}/{} seed {}\n", name, i + 1, repeat, s.seed);
      const auto one = runOne(s, dir, req, false);
      const int code = one.exit;
      worst = worseExit(worst, code);
      (code == 0 ? passed : code == 1 ? failed : invalid)++;
      nlohmann::json jr = {{"seed", s.seed}, {"dir", dir}, {"exit", code}};
      if (one.result) {
        jr["valid"] = one.result->verdict.valid;
        jr["passed"] = one.result->verdict.passed;
        jr["failures"] = one.result->verdict.failures;
        jr["invalid_reasons"] = one.result->verdict.invalid_reasons;
        if (one.result->verdict.valid) figures.push_back(figuresOf(*one.result));  // invalid runs measure nothing
      }
      printOut("{:<40} run {:>3}  seed {:<6} {}\n", name, i + 1, s.seed,
                 verdictWord(code));
      runs.push_back(jr);
    }
    const auto stats = statsOf(figures);
    agg["combinations"].push_back({{"name", name}, {"overrides", combos[ci]}, {"passed", passed}, {"failed", failed},
                                   {"invalid", invalid}, {"runs", runs}, {"stats", stats}});
    const auto cell = [&](const char* key) {
      if (!stats.contains(key)) return std::string("-");
      const auto& st = stats[key];
      return fmtNum(st["min"]) + " / " + fmtNum(st["median"]) + " / " + fmtNum(st["max"]);
    };
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", name, passed, failed, invalid, cell("dropped"), cell("p99_ms"));
  }
  if (g_interrupted.load() != 0) {
    agg["interrupted"] = true;
    worst = kExitInvalid;
    md += "\nInterrupted: the aggregate is partial.\n";
  }
  md += "\nEvery measure with min, median and max over the valid runs is in aggregate.json.\n";
  if (const auto err =
          reports::render::writeAllOrNone(outDir, {{"aggregate.json", agg.dump(2) + "\n"}, {"aggregate.md", md}});
      !err.empty()) {
    printErr("error: {}\nerror: the aggregate could not be written; none is left in {}\n", err, outDir);
    return kExitInvalid;
  }
  printOut("aggregate  {}\n", (std::filesystem::path(outDir) / "aggregate.json").string());
  return worst;
}

int cmdReport(const std::string& dir) {
  const auto written = reports::rerenderRunDir(dir);
  if (!written) {
    printErr("error: {}\n", written.error().message);
    return kExitBadInput;
  }
  for (const auto& f : written.value()) printOut("{}\n", f);
  return 0;
}

}  // namespace cutover::cli
