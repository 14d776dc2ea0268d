#include "reports/text_summary.hpp"

#include <fmt/format.h>

#include "reports/render_util.hpp"

namespace cutover::reports {

std::string textSummary(const RunResult& r) {
  const auto& s = r.summary;
  std::string out;
  out += fmt::format("scenario   {} ({} mode, seed {}, {:.1f} s)\n", r.scenario, r.mode, r.seed, r.duration_s);
  out += fmt::format("requests   intended {}  sent {}  ({:.0f}/s achieved)\n", s.intended, s.sent,
                     s.achieved_rate_per_s);
  out += "outcomes  ";
  for (std::size_t i = 0; i < kOutcomeCount; ++i) out += fmt::format(" {} {}", kOutcomeNames[i], s.outcomes.n[i]);
  out += "\n";
  for (const auto& [v, c] : s.by_version) {
    out += fmt::format("  {:<8} ok {}  app_error {}  dropped {}", v, c.of(Outcome::ok), c.of(Outcome::app_error),
                       c.dropped());
    const auto l = s.latency_by_version.find(v);
    if (l != s.latency_by_version.end())
      out += fmt::format("  p50 {:.2f} ms  p99 {:.2f} ms{}", l->second.p50_ms, l->second.p99_ms,
                         render::fewResponsesNote(l->second.count));
    out += "\n";
  }
  if (s.latency.count > 0)
    out += fmt::format("latency    p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms (from intended send time{})\n",
                       s.latency.p50_ms, s.latency.p99_ms, s.latency.max_ms,
                       s.latency.count < render::kFewResponses ? "; " + render::fewResponses(s.latency.count) : "");
  else
    out += "latency    none: no response from a service\n";
  if (s.worst_window.latency_windows > 0)
    out += fmt::format("worst {:g} s  p99 {:.2f} ms at {:.1f} s{}  dropped {:.1f}% at {:.1f} s{}\n",
                       s.worst_window.width_s, s.worst_window.p99_ms, s.worst_window.p99_at_s,
                       render::fewResponsesNote(s.worst_window.p99_responses), 100 * s.worst_window.dropped_rate,
                       s.worst_window.dropped_at_s,
                       s.worst_window.dropped_count > 0 ? fmt::format(" ({} of {})", s.worst_window.dropped_count,
                                                                      s.worst_window.dropped_requests)
                                                        : "");
  // Durations (_ms) to the microsecond; counts (requests, retries) as counts.
  for (const auto& [k, v] : r.measures)
    out += k.ends_with("_ms") ? fmt::format("measure    {} = {:.3f}\n", k, v) : fmt::format("measure    {} = {:.0f}\n", k, v);
  out += fmt::format("dropped    {}\n", s.outcomes.dropped());
  out += fmt::format("active     {} at the end\n", r.final_active);
  std::vector<render::ExitSeen> exits;
  for (const auto& in : r.instances)
    if (in.exited_s && *in.exited_s < r.duration_s) exits.push_back({in.id, in.exit, *in.exited_s});
  if (!exits.empty()) out += "exits      " + render::exitsLine(exits, render::kExitsListed) + "\n";
  const auto& v = r.verdict;
  if (!v.valid) {
    out += "verdict    INVALID: the run did not do its work\n";
    for (const auto& reason : v.invalid_reasons) out += "  - " + reason + "\n";
  } else if (v.passed) {
    out += "verdict    PASS\n";
  } else {
    out += "verdict    FAIL\n";
  }
  for (const auto& f : v.failures) out += "  - " + f + "\n";
  return out;
}

}  // namespace cutover::reports
