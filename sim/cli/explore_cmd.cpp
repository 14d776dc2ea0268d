// `cutover explore FILE --runs N`: fault search in the simulator. Each run
// draws a fault schedule from the file's `explore.faults` (swarm: each fault
// on or off, its time within its bounds; sim/scenario/explore.hpp), runs the
// scenario with it in virtual time, and judges the file's `expect:` as
// invariants. Each failing seed is printed with a command that reproduces
// it; the first few are shrunk to a minimal schedule that still fails,
// written as a scenario file (checked by running it once more).
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "reports/render_util.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"
#include "sim/des/sim_runner.hpp"
#include "sim/scenario/explore.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::cli {
namespace {

constexpr int kMaxRuns = 100'000;

struct Judged {
  bool failed = false;
  std::string reason;  // the first failure or invalid reason
  // What kind of failure: "invalid", or the first expectation that did not
  // hold ("dropped"). A shrunk schedule must fail the same way, or it would
  // show another failure than the seed's.
  std::string kind;
};

Judged runWith(const scenario::Scenario& base, const std::vector<scenario::FaultDraw>& draws, std::uint64_t seed) {
  auto s = scenario::withFaults(base, draws);
  s.seed = seed;
  RunResult r = des::runSim(s, des::SimOptions{});
  scenario::judge(s, r);
  Judged j;
  j.failed = !r.verdict.valid || !r.verdict.passed;
  if (!r.verdict.invalid_reasons.empty()) {
    j.reason = "invalid: " + r.verdict.invalid_reasons.front();
    j.kind = "invalid";
  } else if (!r.verdict.failures.empty()) {
    j.reason = r.verdict.failures.front();
    for (const auto& c : r.verdict.checks)
      if (!c.passed) {
        j.kind = c.name;
        break;
      }
  }
  return j;
}

// The flags that make `cutover explore`/`run` load the file as this run did.
std::string loadFlags(const scenario::LoadOptions& load) {
  std::string out;
  for (const auto& o : load.overrides) out += " --set '" + o + "'";
  if (load.time_scale != 1.0) out += fmt::format(" --time-scale {}", load.time_scale);
  return out;
}

nlohmann::json drawsJson(const scenario::Scenario& s, const std::vector<scenario::FaultDraw>& draws) {
  auto out = nlohmann::json::array();
  for (const auto& d : draws)
    out.push_back({{"fault", d.fault}, {"action", scenario::describeAction(s.explore[d.fault].step.action)},
                   {"at_s", toSeconds(d.at)}});
  return out;
}

}  // namespace

int cmdExplore(const ExploreRequest& req) {
  const auto base = loadOrReport(req.file, req.load);
  if (!base) return kExitBadInput;
  if (base->explore.empty()) {
    printErr("error: {}: no explore.faults to draw from (docs/simulation.md, \"Fault search\")\n", req.file);
    return kExitBadInput;
  }
  if (const auto late = scenario::windowsPastTheEnd(*base); !late.empty()) {
    for (const auto& l : late) printErr("error: {}\n", l);
    return kExitBadInput;
  }
  if (const auto missing = scenario::faultTargetsMissing(*base); !missing.empty()) {
    for (const auto& m : missing) printErr("error: {}\n", m);
    return kExitBadInput;
  }
  if (req.runs < 1 || req.runs > kMaxRuns) {
    printErr("error: --runs must be 1 to {}\n", kMaxRuns);
    return kExitBadInput;
  }
  const std::uint64_t first = req.seed.value_or(base->seed);
  // Every seed tried must be one a scenario file may hold (seed: 0 .. 2^63-1),
  // or the reproducing command and the minimal file would be refused.
  if (!scenario::seedsFit(first, static_cast<std::uint64_t>(req.runs))) {
    printErr("error: --seed: seeds run from --seed to --seed + --runs - 1, at most {}\n",
               scenario::kMaxSeed);
    return kExitBadInput;
  }
  const std::filesystem::path out = req.out_dir.empty() ? "reports/out/" + base->name + "-explore" : req.out_dir;
  {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec || !std::filesystem::is_directory(out, ec)) {
      printErr("error: cannot create output directory {}{}\n", out.string(), ec ? ": " + ec.message() : "");
      return kExitBadInput;
    }
    // An earlier explore's results here are not this one's: its explore.json
    // and its minimal files (seed-N-min.yaml) go first.
    std::filesystem::remove(out / "explore.json", ec);
    for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
      const auto name = entry.path().filename().string();
      if (name.starts_with("seed-") && name.ends_with("-min.yaml")) std::filesystem::remove(entry.path(), ec);
    }
  }
  installInterruptHandlers();
  struct Failure {
    std::uint64_t seed;
    std::vector<scenario::FaultDraw> draws;
    std::string reason;
    std::string kind;
  };
  std::vector<Failure> failures;
  bool unwritten = false;  // a file explore should have written is not there
  int done = 0;
  for (int i = 0; i < req.runs && g_interrupted.load() == 0; ++i, ++done) {
    const std::uint64_t seed = first + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    auto draws = scenario::drawFaults(*base, rng);
    const auto j = runWith(*base, draws, seed);
    if (!j.failed) continue;
    printOut("FAIL seed {}: {}\n  faults: {}\n  reproduce: cutover explore {} --seed {} --runs 1{}\n", seed, j.reason,
               scenario::describeDraws(*base, draws), req.file, seed, loadFlags(req.load));
    failures.push_back({seed, std::move(draws), j.reason, j.kind});
  }
  nlohmann::json doc = {{"scenario", base->name}, {"file", req.file}, {"runs", done}, {"first_seed", first},
                        {"failures", nlohmann::json::array()}};
  for (std::size_t k = 0; k < failures.size(); ++k) {
    const auto& f = failures[k];
    nlohmann::json fj = {{"seed", f.seed}, {"reason", f.reason}, {"kind", f.kind}, {"faults", drawsJson(*base, f.draws)}};
    if (static_cast<int>(k) < req.shrink && g_interrupted.load() == 0) {
      const auto shrunk = scenario::shrink(f.draws, *base, [&](const std::vector<scenario::FaultDraw>& c) {
        const auto j = runWith(*base, c, f.seed);
        return j.failed && j.kind == f.kind;  // the same failure, not another one
      });
      std::vector<std::pair<std::size_t, Duration>> steps;
      for (const auto& d : shrunk.draws) steps.emplace_back(d.fault, d.at);
      std::string err;
      const std::string note = fmt::format("{}: the minimal failing fault schedule cutover explore found (seed {}, "
                                           "{} of {} faults, {} simulations to shrink).",
                                           base->name, f.seed, shrunk.draws.size(), f.draws.size(), shrunk.runs);
      const auto yaml = scenario::scheduleAsYaml(req.file, req.load, steps, f.seed, note, &err);
      const auto file = out / fmt::format("seed-{}-min.yaml", f.seed);
      const auto written = yaml ? reports::render::writeFileAtomic(file, *yaml) : Result<std::string>(Error{err});
      if (!written.ok()) {
        printErr("error: cannot write the minimal schedule of seed {}: {}\n", f.seed, written.error().message);
        unwritten = true;
      } else {
        // The file must fail as the schedule did: loaded and run once more.
        scenario::LoadOptions again;
        again.time_scale = req.load.time_scale;
        again.simulated = true;
        const auto reloaded = scenario::loadScenarioFile(file.string(), again);
        bool confirmed = false;
        std::string why, whyKind;
        if (reloaded.scenario) {
          const auto j = runWith(*reloaded.scenario, {}, f.seed);
          confirmed = j.failed && j.kind == f.kind;
          why = j.reason;
          whyKind = j.kind;
        } else {
          why = reloaded.errors.front().str();
        }
        printOut("minimal seed {}: {} ({} simulations)\n  {}: {}\n  reproduce: cutover run --mode sim {}{}\n", f.seed,
                   scenario::describeDraws(*base, shrunk.draws), shrunk.runs, confirmed ? "still fails" : "DOES NOT FAIL AS THE SEED DID",
                   why, file.string(),
                   req.load.time_scale != 1.0 ? fmt::format(" --time-scale {}", req.load.time_scale) : "");
        fj["minimal"] = {{"file", file.string()}, {"faults", drawsJson(*base, shrunk.draws)},
                         {"simulations", shrunk.runs}, {"confirmed", confirmed}, {"reason", why},
                       {"kind", whyKind}};
      }
    }
    doc["failures"].push_back(std::move(fj));
  }
  if (g_interrupted.load() != 0) doc["interrupted"] = true;
  if (const auto w = reports::render::writeFileAtomic(out / "explore.json", doc.dump(2) + "\n"); !w.ok()) {
    printErr("error: {}\n", w.error().message);
    unwritten = true;
  }
  if (unwritten) {  // the failing seeds above are true; the files that should hold them are not all there
    printErr("error: explore's files could not all be written in {}\n", out.string());
    return kExitInvalid;
  }
  printOut("explore    {} runs, {} failing seeds (from seed {}); {}\n", done, failures.size(), first,
             (out / "explore.json").string());
  if (g_interrupted.load() != 0) return kExitInvalid;
  return failures.empty() ? 0 : 1;
}

}  // namespace cutover::cli
