#include "sim/scenario/verdict.hpp"

#include <algorithm>
#include <sstream>

#include "metrics/validity.hpp"

namespace cutover::scenario {
namespace {

const char* opText(Compare c) {
  switch (c) {
    case Compare::lt: return "<";
    case Compare::le: return "<=";
    case Compare::eq: return "==";
    case Compare::ge: return ">=";
    case Compare::gt: return ">";
  }
  return "?";
}

std::string fmtValue(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// The measured value an expectation reads, or nullopt when its inputs never happened.
std::optional<double> measured(const RunResult& r, const std::string& measure) {
  const auto& s = r.summary;
  if (measure == "summary.app_error") return static_cast<double>(s.outcomes.of(Outcome::app_error));
  if (measure == "summary.app_error_rate") {
    const auto total = s.outcomes.total();
    return total == 0 ? 0.0 : static_cast<double>(s.outcomes.of(Outcome::app_error)) / static_cast<double>(total);
  }
  // Latency is of the responses services gave: none, no latency (not 0 ms).
  if (measure.starts_with("summary.latency.") && s.latency.count == 0) return std::nullopt;
  if (measure == "summary.latency.p50_ms") return s.latency.p50_ms;
  if (measure == "summary.latency.p90_ms") return s.latency.p90_ms;
  if (measure == "summary.latency.p99_ms") return s.latency.p99_ms;
  if (measure == "summary.latency.max_ms") return s.latency.max_ms;
  if (measure.starts_with("summary.worst_window.")) {
    if (s.worst_window.windows == 0) return std::nullopt;  // no window had a request
    if (measure != "summary.worst_window.dropped_rate" && s.worst_window.latency_windows == 0)
      return std::nullopt;  // no window had a response from a service
    if (measure == "summary.worst_window.p90_ms") return s.worst_window.p90_ms;
    if (measure == "summary.worst_window.p99_ms") return s.worst_window.p99_ms;
    if (measure == "summary.worst_window.dropped_rate") return s.worst_window.dropped_rate;
  }
  const auto it = r.measures.find(measure);
  if (it == r.measures.end()) return std::nullopt;
  return it->second;
}

}  // namespace

void judge(const Scenario& scenario, RunResult& result) {
  auto& v = result.verdict;
  v.failures.clear();
  v.checks.clear();
  // Every expectation gives one check; a failed one also a failure line.
  const auto check = [&](std::string name, bool passed, std::string measuredText, std::string expected,
                         std::string failure) {
    if (!passed) v.failures.push_back(failure);
    v.checks.push_back({std::move(name), passed, std::move(measuredText), std::move(expected),
                        passed ? std::string() : std::move(failure)});
  };
  const auto& e = scenario.expect;
  if (e.dropped) {
    const auto dropped = result.summary.outcomes.dropped();
    const std::string expected = std::string(opText(e.dropped->op)) + " " + fmtValue(e.dropped->value);
    check("dropped", e.dropped->holds(static_cast<double>(dropped)), std::to_string(dropped), expected,
          "dropped: measured " + std::to_string(dropped) + ", expected " + expected);
  }
  if (e.final_active)
    check("final_active", result.final_active == *e.final_active, result.final_active, *e.final_active,
          "final_active: measured '" + result.final_active + "', expected '" + *e.final_active + "'");
  std::vector<std::string> needed;
  for (const auto& m : e.measures) {
    const auto value = measured(result, m.measure);
    if (!value && m.measure.starts_with("summary.") && m.measure.ends_with("_ms") && result.summary.sent > 0) {
      // Requests went out and no service answered one: the latency claim
      // does not hold (a failure of the system, not of the run).
      check(m.key, false, "", m.bound.text,
            m.key + ": no latency to measure: no request got a response from a service (" +
                std::to_string(result.summary.outcomes.dropped()) + " dropped)");
      continue;
    }
    if (!value && (m.measure == "rollback_recovery_latency_ms" || m.measure == "blast_radius_requests")) {
      if (const auto u = result.measures.find("blast_radius_unrecovered_requests"); u != result.measures.end()) {
        // The fault's failures went on to the end of the run: no recovery, so
        // no bound on its latency or its blast radius holds.
        const auto n = std::to_string(static_cast<std::uint64_t>(u->second));
        check(m.key, false, "not recovered", m.bound.text,
              m.key + ": not recovered: the fault's failures went on to the end of the run (" + n +
                  " failed requests since its onset)");
        continue;
      }
    }
    if (!value) {
      needed.push_back(m.measure);
      v.checks.push_back({m.key, false, "", m.bound.text, m.key + ": not measured (its inputs never happened)"});
      continue;
    }
    const std::string text = fmtValue(*value) + (m.measure.ends_with("_ms") ? " ms" : "");
    check(m.key, m.bound.holds(*value), text, m.bound.text,
          m.key + ": measured " + text + ", expected " + m.bound.text);
  }
  // An expected measure whose inputs never happened makes the run invalid.
  for (auto& reason : missingMeasures(needed, result.measures))
    if (std::find(v.invalid_reasons.begin(), v.invalid_reasons.end(), reason) == v.invalid_reasons.end()) {
      v.invalid_reasons.push_back(reason);
      v.valid = false;
    }
  if (e.rolled_back) {
    const bool rolledBack = std::any_of(result.events.begin(), result.events.end(), [](const TimedEvent& ev) {
      return ev.source == "switcher" && ev.kind == "rollback";
    });
    const std::string m = rolledBack ? "true" : "false", x = *e.rolled_back ? "true" : "false";
    check("rolled_back", rolledBack == *e.rolled_back, m, x, "rolled_back: measured " + m + ", expected " + x);
  }
  if (e.clean_exit) {
    // Clean: every instance ended with exit code 0, and none was killed after
    // its grace period (the runner's "killed" event).
    std::vector<std::pair<std::string, std::string>> why;  // instance, reasons
    for (const auto& in : result.instances)
      if (in.exit != "code 0") why.push_back({in.id, in.exit.empty() ? "still running" : in.exit});
    for (const auto& ev : result.events) {
      if (ev.source != "runner" || ev.kind != "killed") continue;
      const auto at = std::find_if(why.begin(), why.end(), [&](const auto& w) { return w.first == ev.target; });
      if (at == why.end()) why.push_back({ev.target, "killed after the grace period"});
      else at->second += ", killed after the grace period";
    }
    std::vector<std::string> unclean;
    for (const auto& [id, reasons] : why) unclean.push_back(id + " (" + reasons + ")");
    const bool clean = unclean.empty();
    std::string list;
    for (const auto& u : unclean) list += (list.empty() ? "" : ", ") + u;
    const std::string m = clean ? "true" : "false", x = *e.clean_exit ? "true" : "false";
    check("clean_exit", clean == *e.clean_exit, clean ? m : m + ": " + list, x,
          "clean_exit: measured " + m + (clean ? "" : " (" + list + ")") + ", expected " + x);
  }
  v.passed = v.valid && v.failures.empty();
}

int exitCodeOf(const Verdict& verdict) {
  if (!verdict.valid) return 3;
  return verdict.passed ? 0 : 1;
}

}  // namespace cutover::scenario
