#include "metrics/validity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "sim/core/units.hpp"

namespace cutover {
namespace {

std::string format(const char* fmt, double a, double b, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
  return buf;
}

std::string whatIsMissing(const std::string& measure) {
  if (measure == "switch_latency_ms") return "no switch between pools happened";
  if (measure == "drain_time_ms") return "the old pool never drained (or no switch happened)";
  if (measure == "rollback_detect_latency_ms") return "no rollback happened after a fault";
  if (measure == "rollback_recovery_latency_ms" || measure == "blast_radius_requests") return "no fault happened";
  if (measure == "switcher_retries") return "this switcher does not report its retries (nginx tells no count)";
  return "its inputs never happened";
}

}  // namespace

std::vector<std::string> loadValidityProblems(const RunSummary& s, double target_rate_per_s,
                                              const ValidityLimits& limits, LoadSender sender) {
  std::vector<std::string> out;
  // The simulated client is never late by itself: its requests waited for a
  // connection of their block, all busy (load.connections against the rate
  // and the service time).
  const std::string who = sender == LoadSender::live ? "load generator fell behind"
                          : sender == LoadSender::live_connections_busy
                              ? "load held back: every client connection was busy at times, or the load generator fell behind"
                              : "simulated load held back: every client connection was busy";
  const std::string hint = sender == LoadSender::live ? "" : " (raise load.connections or lower the rate)";
  // Written, or refused at connect (never written: the system refused it).
  const std::uint64_t delivered = s.sent + s.outcomes.of(Outcome::refused);
  if (delivered == 0) {
    out.push_back("no request was sent");
    return out;
  }
  if (target_rate_per_s > 0) {
    const double rate = s.sent == 0 ? 0.0
                                    : s.achieved_rate_per_s * static_cast<double>(delivered) / static_cast<double>(s.sent);
    if (rate < limits.min_rate_fraction * target_rate_per_s)
      out.push_back(who + format(": achieved %.1f/s of a %.1f/s target (%.2f%%, minimum %.0f%%)", rate,
                                 target_rate_per_s, 100.0 * rate / target_rate_per_s, 100.0 * limits.min_rate_fraction) +
                    hint);
  } else if (static_cast<double>(delivered) < limits.min_rate_fraction * static_cast<double>(s.intended)) {
    out.push_back(format("load not delivered: sent %.0f of %.0f intended requests (minimum %.0f%%)",
                         static_cast<double>(delivered), static_cast<double>(s.intended),
                         100.0 * limits.min_rate_fraction));
  }
  if (s.sent == 0) return out;  // every one refused: no lateness to judge
  const double late = static_cast<double>(s.late_sends) / static_cast<double>(s.sent);
  if (late > limits.max_late_fraction)
    out.push_back(who + format(": %.2f%% of sends later than 10 ms (maximum %.0f%%); lateness p99 %.3f ms, max %.3f ms",
                               100.0 * late, 100.0 * limits.max_late_fraction, s.lateness.p99_ms,
                               s.max_send_lateness_ms) +
                  hint);
  return out;
}

std::string lateStepProblem(const std::string& what, Duration due, Duration fired, const ValidityLimits& limits) {
  if (fired - due <= kMaxStepLateness || limits.max_late_fraction >= 1.0) return "";
  return "timeline step '" + what + "' due at " + formatDuration(due) + " fired " + formatDuration(fired - due) +
         " late (more than " + formatDuration(kMaxStepLateness) + ")";
}

std::vector<std::string> switchesWithoutLoad(const std::vector<SwitchMeasure>& switches,
                                             const std::vector<RequestRecord>& records, std::int64_t t0_ns) {
  std::vector<std::string> out;
  std::int64_t last = INT64_MIN;  // the last intended send
  for (const auto& r : records) last = std::max(last, r.intended_ns);
  for (const auto& sw : switches) {
    if (last >= t0_ns + std::llround(sw.switched_s * 1e9)) continue;
    char at[32];
    std::snprintf(at, sizeof at, "%.3f s", sw.switched_s);
    out.push_back("no request was sent after the switch to " + sw.to + " at " + at +
                  ": the run shows nothing of it (the load ended first, or its rate is too low)");
  }
  return out;
}

std::vector<std::string> missingMeasures(const std::vector<std::string>& expected,
                                         const std::map<std::string, double>& measures) {
  std::vector<std::string> out;
  for (const auto& m : expected)
    if (!measures.count(m)) out.push_back(m + " was expected but " + whatIsMissing(m));
  return out;
}

}  // namespace cutover
