// `cutover plan`: capacity planning in the simulator (issue 8, docs/simulation.md
// "Capacity planning"). A grid of --sweep values, one simulated run per point,
// per point the cutover figures beside an Erlang-C (M/M/c) estimate, then
// plan.json, plan.md (table + answer line) and plan.svg.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "fake-services/behaviour.hpp"
#include "metrics/queueing.hpp"
#include "reports/render_util.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/print.hpp"
#include "sim/core/units.hpp"
#include "sim/des/sim_runner.hpp"
#include "sim/scenario/verdict.hpp"

namespace cutover::cli {
namespace {

using nlohmann::json;

struct Sweep {
  std::string key;
  std::vector<std::string> values;  // as --set values
};

std::optional<long long> asInt(const std::string& s) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The number a value stands for (integer, rate per s, duration ms, plain number), for order and axes.
std::optional<double> numericOf(const std::string& s) {
  if (const auto i = asInt(s)) return static_cast<double>(*i);
  if (const auto r = parseRate(s)) return *r;
  if (const auto d = parseDuration(s)) return toSeconds(*d) * 1e3;
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc{} && p == s.data() + s.size()) return v;
  return std::nullopt;
}

std::optional<Sweep> parseSweep(const std::string& text, int steps, std::string& err) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    err = fmt::format("--sweep '{}': expected KEY=A..B or KEY=v1,v2,...", text);
    return std::nullopt;
  }
  Sweep s{text.substr(0, eq), {}};
  const std::string v = text.substr(eq + 1);
  const auto dots = v.find("..");
  if (dots == std::string::npos) {
    std::size_t from = 0;
    while (from <= v.size()) {
      const auto comma = std::min(v.find(',', from), v.size());
      if (comma == from) {
        err = fmt::format("--sweep {}: empty value in '{}'", s.key, v);
        return std::nullopt;
      }
      s.values.push_back(v.substr(from, comma - from));
      from = comma + 1;
    }
    return s;
  }
  const std::string a = v.substr(0, dots), b = v.substr(dots + 2);
  const auto ia = asInt(a), ib = asInt(b);
  if (ia && ib) {
    if (*ia > *ib || *ib - *ia >= 400) {
      err = fmt::format("--sweep {}: range {}..{} must go upwards and hold at most 400 values", s.key, a, b);
      return std::nullopt;
    }
    for (long long i = *ia; i <= *ib; ++i) s.values.push_back(std::to_string(i));
    return s;
  }
  const auto ra = parseRate(a), rb = parseRate(b);
  const auto da = parseDuration(a), db = parseDuration(b);
  if (!(ra && rb) && !(da && db)) {
    err = fmt::format("--sweep {}: '{}' needs two integers, two rates (1k/s) or two durations (10ms)", s.key, v);
    return std::nullopt;
  }
  const double lo = ra ? *ra : toSeconds(*da) * 1e3, hi = ra ? *rb : toSeconds(*db) * 1e3;
  if (lo > hi) {
    err = fmt::format("--sweep {}: range {} must go upwards", s.key, v);
    return std::nullopt;
  }
  if (lo != hi && steps < 2) {
    err = fmt::format("--sweep {}: a range {} needs --steps 2 or more (--steps 1 would keep only {})", s.key, v, a);
    return std::nullopt;
  }
  const int n = lo == hi ? 1 : steps;
  for (int i = 0; i < n; ++i) {
    const double x = n == 1 ? lo : lo + (hi - lo) * i / (n - 1);
    // Plain digits, never an exponent ("1e+06/s" is not a rate the loader reads).
    std::string num = fmt::format("{:.6f}", x);
    num.erase(num.find_last_not_of('0') + 1);
    if (num.back() == '.') num.pop_back();
    s.values.push_back(num + (ra ? "/s" : "ms"));
  }
  return s;
}

// ---- the queueing estimate ------------------------------------------------

struct Capacity {
  std::string pool;
  int instances = 0;
  std::size_t max_in_flight = 0;  // 0: unlimited
  double rate_per_s = 0;          // offered: open blocks' nominal (peak) rates
  double mean_service_ms = 0;
};

// The pool that carries the load after the cutover: the first switch target, else the last pool;
// its instances when the switch is made (its `scale:` steps up to then), else after every scale step.
Capacity capacityOf(const scenario::Scenario& s) {
  Capacity c;
  std::optional<Duration> switchAt;
  for (const auto& step : s.timeline)
    if (const auto* sw = std::get_if<scenario::SwitchAction>(&step.action); sw && c.pool.empty()) {
      c.pool = sw->pool;
      switchAt = step.at;
    }
  const auto* g = c.pool.empty() ? (s.services.empty() ? nullptr : &s.services.back()) : s.service(c.pool);
  if (g == nullptr) return c;
  c.pool = g->name;
  c.instances = g->instances;
  // The last timed scale step of the pool (a `when:` step has no time; at one time, the later in the file).
  std::optional<Duration> scaledAt;
  for (const auto& step : s.timeline)
    if (const auto* sc = std::get_if<scenario::ScaleAction>(&step.action);
        sc && sc->pool == g->name && !step.when && (!switchAt || step.at <= *switchAt) &&
        (!scaledAt || step.at >= *scaledAt)) {
      scaledAt = step.at;
      c.instances = sc->instances;
    }
  c.max_in_flight = g->behaviour.capacity.max_in_flight;
  c.mean_service_ms = toSeconds(service::meanServiceTime(g->behaviour.latency)) * 1e3;
  for (const auto& b : s.load) {
    if (b.model != scenario::LoadModel::open) continue;
    double r = b.rate_per_s;
    if (b.arrivals == scenario::ArrivalKind::ramp) r = std::max(b.from_per_s, b.rate_per_s);
    for (const auto& st : b.steps) r = std::max(r, st.rate_per_s);
    c.rate_per_s += r;
  }
  return c;
}

// The Erlang-C estimate (metrics/queueing.hpp) of the pool after the cutover, in ms.
json erlangC(const Capacity& cap) {
  const double servers = static_cast<double>(cap.instances) * static_cast<double>(cap.max_in_flight);
  const auto e = cutover::erlangC(cap.rate_per_s, cap.mean_service_ms / 1e3, servers);
  if (!e) return nullptr;
  json out = {{"servers", e->servers}, {"offered_erlangs", e->offered_erlangs}, {"rho", e->rho}, {"stable", e->stable}};
  if (!e->stable) return out;
  out["p_wait"] = e->p_wait;
  out["mean_wait_ms"] = e->mean_wait_s * 1e3;
  out["wait_p99_ms"] = e->wait_p99_s * 1e3;
  out["response_p99_ms"] = e->response_p99_s * 1e3;
  return out;
}

// ---- one point --------------------------------------------------------------

struct Window {
  double from_s = 0, to_s = 0;
  bool found = false;
};

// From the bucket of the first real switch (not the setup's "from none") to
// the end of the bucket where the old pool drained; +2 s when it never did;
// at least `min_s` long (--min-window).
Window switchWindow(const std::vector<TimedEvent>& events, double bucket_s, double min_s) {
  Window w;
  std::string old;
  for (const auto& e : events) {
    if (!w.found && e.kind == "switched" && e.detail.starts_with("from ") && e.detail != "from none") {
      w.found = true;
      w.from_s = e.t_s;
      w.to_s = e.t_s + std::max(2.0, min_s);  // never drained: 2 s, or the minimum when longer
      old = e.detail.substr(5);
    } else if (w.found && e.kind == "drained" && e.target == old && e.t_s >= w.from_s) {
      w.to_s = std::max(e.t_s, w.from_s + min_s);
      break;
    }
  }
  w.from_s = std::floor(w.from_s / bucket_s) * bucket_s;
  w.to_s = (std::floor(w.to_s / bucket_s) + 1) * bucket_s;
  return w;
}

struct Latencies {
  std::vector<std::int64_t> ns;
  std::uint64_t dropped = 0;
  json p99() {
    if (ns.empty()) return nullptr;
    const auto k = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(ns.size()))) - 1;
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
    return static_cast<double>(ns[k]) / 1e6;
  }
};

// Requests whose intended send time is in [from, to) s since t0.
Latencies collect(const des::SimTrace& t, double from_s, double to_s) {
  Latencies out;
  for (const auto& r : t.records) {
    const double at = static_cast<double>(r.intended_ns - t.t0_ns) / 1e9;
    if (at < from_s || at >= to_s) continue;
    if (isDropped(r.outcome)) ++out.dropped;
    else if (r.done_ns > 0) out.ns.push_back(r.done_ns - r.intended_ns);
  }
  return out;
}

json runPoint(const scenario::Scenario& s, double min_window_s) {
  auto trace = des::simulate(s, des::SimOptions{});
  const auto w = switchWindow(trace.events, 0.1, min_window_s);
  auto inWindow = collect(trace, w.from_s, w.to_s);
  const double steadyFrom = w.found ? w.to_s : 0.0;
  auto steady = collect(trace, steadyFrom, std::max(trace.load_length_s, steadyFrom));
  // From the switch window's start to the end (the whole run when nothing switched): what the
  // question's "0 dropped" counts; drops before the switch are the old pool's alone.
  const auto fromSwitch = collect(trace, w.found ? w.from_s : 0.0, std::numeric_limits<double>::infinity());
  RunResult r = des::measureTrace(s, std::move(trace), s.seed);
  scenario::judge(s, r);
  const auto cap = capacityOf(s);
  const double servers = static_cast<double>(cap.instances) * static_cast<double>(cap.max_in_flight);
  json p = {{"valid", r.verdict.valid},
            {"invalid_reasons", r.verdict.invalid_reasons},
            {"dropped", r.summary.outcomes.dropped()},
            {"app_errors", r.summary.outcomes.of(Outcome::app_error)},
            {"p99_ms", r.summary.latency.p99_ms},
            {"switch_window", w.found ? json{{"from_s", w.from_s}, {"to_s", w.to_s}} : json(nullptr)},
            {"p99_switch_window_ms", w.found ? inWindow.p99() : json(nullptr)},
            {"dropped_in_switch_window", inWindow.dropped},
            {"dropped_from_switch", fromSwitch.dropped},
            {"steady_from_s", steadyFrom},
            {"steady_p99_ms", steady.p99()},
            {"capacity", {{"pool", cap.pool}, {"instances", cap.instances}, {"max_in_flight", cap.max_in_flight},
                          {"rate_per_s", cap.rate_per_s}, {"mean_service_ms", cap.mean_service_ms}}},
            {"utilisation", servers > 0 ? json(cap.rate_per_s * cap.mean_service_ms / 1e3 / servers) : json(nullptr)},
            {"erlang_c", erlangC(cap)}};
  return p;
}

// ---- outputs ------------------------------------------------------------------

std::string cell(const json& v, const char* fmtSpec = "{:.4g}") {
  if (v.is_null()) return "-";
  if (v.is_number()) return fmt::format(fmt::runtime(fmtSpec), v.get<double>());
  return v.dump();
}

std::string markdown(const json& plan, const std::vector<Sweep>& sweeps, const std::string& answerLine) {
  std::string md = fmt::format("# Capacity plan: {} ({} points, simulated)\n\n", plan["scenario"].get<std::string>(),
                               plan["points"].size());
  if (!answerLine.empty()) md += answerLine + "\n\n";
  std::string head = "|", rule = "|";
  for (const auto& s : sweeps) head += " " + s.key + " |", rule += "---|";
  md += head + " dropped | dropped from the switch on | p99 ms | p99 switch window ms | app errors | utilisation | Erlang-C mean wait ms | Erlang-C p99 ms | sim steady p99 ms | valid |\n";
  md += rule + "---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& p : plan["points"]) {
    std::string row = "|";
    for (const auto& s : sweeps) row += " " + p["values"][s.key].get<std::string>() + " |";
    const auto& e = p["erlang_c"];
    const bool stable = !e.is_null() && e["stable"].get<bool>();
    const std::string est = e.is_null() ? "-" : stable ? cell(e["response_p99_ms"]) : "overloaded";
    const std::string wait = e.is_null() ? "-" : stable ? cell(e["mean_wait_ms"]) : "overloaded";
    md += row + fmt::format(" {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", p["dropped"].get<std::uint64_t>(),
                            p["dropped_from_switch"].get<std::uint64_t>(), cell(p["p99_ms"]), cell(p["p99_switch_window_ms"]), p["app_errors"].get<std::uint64_t>(),
                            cell(p["utilisation"], "{:.3f}"), wait, est, cell(p["steady_p99_ms"]),
                            p["valid"].get<bool>() ? "yes" : "no");
  }
  md += "\nutilisation = rate x mean service time / (instances x capacity.max_in_flight) of the pool switched to; "
        "Erlang-C: M/M/c with c = instances x max_in_flight (docs/simulation.md, Capacity planning).\n";
  return md;
}

// p99 in the switch window against the first key, one line per value of the other keys.
std::string svg(const json& plan, const std::vector<Sweep>& sweeps) {
  struct Pt { double x, y; };
  std::map<std::string, std::vector<Pt>> lines;
  const auto& k1 = sweeps.front();
  double xmax = 1e-9, ymax = 1e-9, xmin = std::numeric_limits<double>::max();
  for (const auto& p : plan["points"]) {
    const auto v1 = p["values"][k1.key].get<std::string>();
    const auto idx = std::find(k1.values.begin(), k1.values.end(), v1) - k1.values.begin();
    const double x = numericOf(v1).value_or(static_cast<double>(idx));
    xmin = std::min(xmin, x), xmax = std::max(xmax, x);
    std::string label;
    for (std::size_t i = 1; i < sweeps.size(); ++i)
      label += (label.empty() ? "" : " ") + sweeps[i].key + "=" + p["values"][sweeps[i].key].get<std::string>();
    auto& line = lines[label.empty() ? "all" : label];
    if (p["p99_switch_window_ms"].is_null()) continue;
    const double y = p["p99_switch_window_ms"].get<double>();
    ymax = std::max(ymax, y);
    line.push_back({x, y});
  }
  if (xmin >= xmax) xmax = xmin + 1;
  const double W = 720, H = 420, L = 70, R = 220, T = 30, B = 50;
  const auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
  const auto py = [&](double y) { return H - B - y / (ymax * 1.05) * (H - T - B); };
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n<text x=\"{2}\" y=\"18\">p99 in the switch window (ms) vs {3}</text>\n"
      "<line x1=\"{2}\" y1=\"{4}\" x2=\"{5}\" y2=\"{4}\" stroke=\"black\"/><line x1=\"{2}\" y1=\"{6}\" x2=\"{2}\" y2=\"{4}\" stroke=\"black\"/>\n",
      W, H, L, k1.key, H - B, W - R, T);
  for (int i = 0; i <= 4; ++i) {
    const double xv = xmin + (xmax - xmin) * i / 4, yv = ymax * 1.05 * i / 4;
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.4g}</text>\n", px(xv), H - B + 18, xv);
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>\n", L - 6, py(yv) + 4, yv);
  }
  static constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::size_t n = 0;
  for (auto& [label, pts] : lines) {
    std::stable_sort(pts.begin(), pts.end(), [](const Pt& a, const Pt& b) { return a.x < b.x; });  // left to right
    const char* colour = kColours[n % 8];
    std::string d;
    for (const auto& p : pts) d += fmt::format("{:.1f},{:.1f} ", px(p.x), py(p.y));
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", colour, d);
    for (const auto& p : pts) out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(p.x), py(p.y), colour);
    out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", W - R + 10, T + 16 * (n + 1), colour, label);
    ++n;
  }
  return out + "</svg>\n";
}

bool sameRate(const std::string& value, double rate) {
  const auto r = parseRate(value);
  return r && std::abs(*r - rate) <= 1e-9 * std::max(1.0, rate);
}

std::string valuesOf(const Sweep& s) {
  std::string out;
  for (const auto& v : s.values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

}  // namespace

int cmdPlan(const PlanRequest& req) {
  // The grid, checked before anything runs.
  std::vector<Sweep> sweeps;
  std::string err;
  if (req.steps < 1 || req.steps > 400) err = "--steps must be in 1..400";
  for (const auto& text : req.sweeps) {
    if (!err.empty()) break;
    auto s = parseSweep(text, req.steps, err);
    if (!s) break;
    for (const auto& o : sweeps)
      if (o.key == s->key) err = "--sweep " + s->key + " given twice";
    sweeps.push_back(std::move(*s));
  }
  if (err.empty() && sweeps.empty()) err = "give at least one --sweep KEY=A..B";
  std::size_t points = 1;
  for (const auto& s : sweeps) points = std::min<std::size_t>(points * s.values.size(), 100000);
  if (err.empty() && points > 400) err = fmt::format("the grid has {} points; at most 400", points);
  // The question: smallest first-key value with p99 (switch window) < X and 0 dropped, at rate L.
  std::optional<Duration> p99Under;
  std::optional<double> rate;
  std::string rateKey;
  if (err.empty() && !req.p99_under.empty() && !(p99Under = parseDuration(req.p99_under)))
    err = "--p99-under '" + req.p99_under + "' is not a duration (50ms)";
  std::optional<Duration> minWindow;
  if (err.empty() && !req.min_window.empty() && !(minWindow = parseDuration(req.min_window)))
    err = "--min-window '" + req.min_window + "' is not a duration (2s)";
  if (err.empty() && !req.rate.empty() && !(rate = parseRate(req.rate)))
    err = "--rate '" + req.rate + "' is not a rate (10k/s)";
  if (err.empty() && req.max_app_errors >= 0 && req.p99_under.empty())
    err = "--max-app-errors is part of the question: give --p99-under too";
  if (err.empty() && !req.rate.empty() && req.p99_under.empty())
    err = "--rate is part of the question: give --p99-under too (to run every point at one rate, --set load.0.rate=...)";
  if (err.empty() && rate && sweeps.front().key.ends_with(".rate"))
    err = fmt::format("--rate fixes the rate, but {} is the key the question answers (the first --sweep); "
                      "sweep another key first, or leave --rate out",
                      sweeps.front().key);
  if (err.empty() && rate) {
    for (const auto& s : sweeps)
      if (s.key.ends_with(".rate") && s.key != sweeps.front().key && rateKey.empty()) rateKey = s.key;
    const auto* rs = rateKey.empty() ? nullptr : &*std::find_if(sweeps.begin(), sweeps.end(), [&](auto& s) { return s.key == rateKey; });
    if (rs && std::none_of(rs->values.begin(), rs->values.end(), [&](const std::string& v) { return sameRate(v, *rate); }))
      err = fmt::format("--rate {} is not a value of {} in the grid ({})", req.rate, rateKey, valuesOf(*rs));
  }
  if (!err.empty()) {
    printErr("error: {}\n", err);
    return kExitBadInput;
  }
  auto base = req.load;
  if (rate && rateKey.empty()) base.overrides.push_back("load.0.rate=" + req.rate);  // the rate of the question, fixed
  if (req.seed) base.overrides.push_back("seed=" + std::to_string(*req.seed));

  std::vector<std::vector<std::string>> combos{{}};
  for (const auto& s : sweeps) {
    std::vector<std::vector<std::string>> next;
    for (const auto& c : combos)
      for (const auto& v : s.values) {
        auto n = c;
        n.push_back(v);
        next.push_back(std::move(n));
      }
    combos = std::move(next);
  }
  std::vector<scenario::Scenario> scenarios;
  for (const auto& c : combos) {
    auto load = base;
    std::string label;
    for (std::size_t i = 0; i < c.size(); ++i) {
      load.overrides.push_back(sweeps[i].key + "=" + c[i]);
      label += (label.empty() ? "" : " ") + load.overrides.back();
    }
    auto out = scenario::loadScenarioFile(req.file, load);
    if (!out.scenario) {
      for (const auto& e : out.errors) printErr("error: [{}] {}\n", label, e.str());
      printErr("grid point {} is invalid; nothing was run\n", label);
      return kExitBadInput;
    }
    if (minWindow && *minWindow > out.scenario->duration) {
      printErr("error: --min-window {} is longer than the run it is part of ({}{}); nothing was run\n",
                 req.min_window, label.empty() ? "" : "[" + label + "] ",
                 formatDuration(out.scenario->duration));
      return kExitBadInput;
    }
    scenarios.push_back(std::move(*out.scenario));
  }

  const std::string outDir = req.out_dir.empty() ? "reports/out/" + scenarios.front().name + "-plan" : req.out_dir;
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (ec) {
    printErr("error: cannot create output directory {}: {}\n", outDir, ec.message());
    return kExitBadInput;
  }
  installInterruptHandlers();
  json plan = {{"scenario", scenarios.front().name}, {"file", req.file}, {"mode", "sim"}, {"sweeps", json::array()},
               {"points", json::array()}};
  for (const auto& s : sweeps) plan["sweeps"].push_back({{"key", s.key}, {"values", s.values}});
  for (std::size_t i = 0; i < combos.size(); ++i) {
    if (g_interrupted.load() != 0) {
      printErr("interrupted after {} of {} points\n", i, combos.size());
      return kExitInvalid;
    }
    json p = runPoint(scenarios[i], minWindow ? toSeconds(*minWindow) : 0.0);
    json values = json::object();
    for (std::size_t k = 0; k < sweeps.size(); ++k) values[sweeps[k].key] = combos[i][k];
    p["values"] = values;
    p["seed"] = scenarios[i].seed;
    if (!req.quiet)
      printErr("[{}/{}] {} dropped {} p99(switch) {} ms\n", i + 1, combos.size(), values.dump(),
                 p["dropped"].get<std::uint64_t>(), cell(p["p99_switch_window_ms"]));
    plan["points"].push_back(std::move(p));
  }

  std::string answerLine;
  int rc = 0;
  if (p99Under) {
    const double limit = toSeconds(*p99Under) * 1e3;
    const auto& k1 = sweeps.front();
    std::vector<std::string> order = k1.values;
    std::stable_sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
      return numericOf(a).value_or(0) < numericOf(b).value_or(0);
    });
    std::optional<std::string> answer;
    std::uint64_t answerAppErrors = 0;
    for (const auto& v : order) {
      bool all = true, any = false;
      answerAppErrors = 0;
      for (const auto& p : plan["points"]) {
        if (p["values"][k1.key] != v) continue;
        if (!rateKey.empty() && !sameRate(p["values"][rateKey].get<std::string>(), *rate)) continue;
        any = true;
        const auto& q = p["p99_switch_window_ms"];
        const auto appErrors = p["app_errors"].get<std::uint64_t>();
        answerAppErrors += appErrors;
        all = all && p["valid"].get<bool>() && p["dropped_from_switch"].get<std::uint64_t>() == 0 && !q.is_null() &&
              q.get<double>() < limit && (req.max_app_errors < 0 || appErrors <= static_cast<std::uint64_t>(req.max_app_errors));
      }
      if (any && all) {
        answer = v;
        break;
      }
    }
    const std::string appNote = req.max_app_errors >= 0 ? fmt::format(" and at most {} app errors", req.max_app_errors) : "";
    const std::string at = rate ? fmt::format(" at {}={}", rateKey.empty() ? "load.0.rate" : rateKey, req.rate) : "";
    // The other keys of the grid: the answer holds at each of their values (a rate --rate fixes excepted).
    std::string every;
    for (std::size_t i = 1; i < sweeps.size(); ++i)
      if (sweeps[i].key != rateKey) every += (every.empty() ? "" : ", ") + sweeps[i].key;
    if (!every.empty()) every = " at every " + every + " of the grid";
    answerLine = fmt::format("smallest {} with p99 < {} in the switch window and 0 dropped from the switch on{}{}{}: {}",
                             k1.key, req.p99_under, appNote, at, every, answer ? *answer : "none in the grid");
    plan["question"] = {{"key", k1.key},
                        {"p99_under_ms", limit},
                        {"rate", rate ? json(req.rate) : json(nullptr)},
                        {"max_app_errors", req.max_app_errors >= 0 ? json(req.max_app_errors) : json(nullptr)},
                        {"min_window_ms", minWindow ? json(toSeconds(*minWindow) * 1e3) : json(nullptr)},
                        {"answer", answer ? json(*answer) : json(nullptr)},
                        {"line", answerLine}};
    // e.g. capacity.overflow: reject answers 503 (app_error), not a drop
    if (answer && answerAppErrors > 0 && req.max_app_errors < 0)
      answerLine += fmt::format("\n(note: its runs had {} app error{}; --max-app-errors 0 counts them against it)",
                                answerAppErrors, answerAppErrors == 1 ? "" : "s");
    if (!answer && std::none_of(plan["points"].begin(), plan["points"].end(),
                                [](const json& p) { return !p["switch_window"].is_null(); }))
      answerLine += "\n(note: no point switched pools, so none has a switch window to judge: the question needs a "
                    "`switch` step)";
    rc = answer ? 0 : 1;
  }
  const auto dir = std::filesystem::path(outDir);
  // Each file whole or not at all; a plan whose files could not be written
  // leaves none that could be read as its result.
  if (const auto unwritten = reports::render::writeAllOrNone(dir, {{"plan.json", plan.dump(2) + "\n"},
                                                             {"plan.md", markdown(plan, sweeps, answerLine)},
                                                             {"plan.svg", svg(plan, sweeps)}});
      !unwritten.empty()) {
    printErr("error: {}\nerror: the plan's files could not be written; none is left in {}\n", unwritten,
               outDir);
    return kExitInvalid;
  }
  if (!answerLine.empty()) printOut("{}\n", answerLine);
  printOut("plan       {}\n", (dir / "plan.md").string());
  return rc;
}

}  // namespace cutover::cli
