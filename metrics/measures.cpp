#include "metrics/measures.hpp"

#include <algorithm>
#include <limits>
#include <cmath>
#include <set>

namespace cutover {
namespace measures_detail {

double secondsSince0(std::int64_t ns, std::int64_t t0_ns) { return static_cast<double>(ns - t0_ns) / 1e9; }

std::string activePoolAt(const std::vector<TimedEvent>& events, double t_s, bool strictly_before) {
  std::string active;
  double at = -1e300;
  for (const auto& e : events) {
    if (e.source != "switcher" || (e.kind != "switched" && e.kind != "rollback")) continue;
    if (strictly_before ? e.t_s >= t_s : e.t_s > t_s) continue;
    if (e.t_s >= at) at = e.t_s, active = e.target;  // events may come unsorted
  }
  return active;
}

std::vector<std::string> poolOfNames(const RunView& run) {
  std::vector<std::string> out(run.names.size());
  for (std::size_t i = 0; i < run.names.size(); ++i) {
    const auto& n = run.names[i];
    std::set<std::string> byVersion;
    for (const auto& in : run.instances) {
      if (in.id == n) {
        byVersion = {in.pool};
        break;
      }
      if (in.version == n) byVersion.insert(in.pool);
    }
    if (byVersion.size() == 1) out[i] = *byVersion.begin();
  }
  return out;
}

std::string poolOfRecord(const RequestRecord& r, const std::vector<std::string>& poolOfName,
                         const std::vector<std::string>& names) {
  if (r.instance < poolOfName.size() && !poolOfName[r.instance].empty()) return poolOfName[r.instance];
  if (r.pool < names.size()) return names[r.pool];  // the switcher's own answer named it
  if (r.version < poolOfName.size()) return poolOfName[r.version];
  return "";
}

}  // namespace measures_detail

namespace {

using namespace measures_detail;

std::int64_t toNs(double t_s, std::int64_t t0_ns) { return t0_ns + std::llround(t_s * 1e9); }
double msBetween(std::int64_t from_ns, std::int64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e6; }

std::optional<double> drainTime(const RunView& run, const std::string& pool, double command_s) {
  std::optional<double> best;
  for (const auto& e : run.events)
    if (e.source == "switcher" && e.kind == "drained" && e.target == pool && e.t_s >= command_s &&
        (!best || e.t_s < *best))
      best = e.t_s;
  if (!best) return std::nullopt;
  return (*best - command_s) * 1e3;
}

std::string poolOfTarget(const RunView& run, const std::string& target) {
  for (const auto& in : run.instances)
    if (in.id == target) return in.pool;
  return target;
}

}  // namespace

std::vector<SwitchMeasure> switchMeasures(const RunView& run) {
  std::vector<const TimedEvent*> commands;
  for (const auto& e : run.events)
    if (e.source == "timeline" && e.kind == "switch") commands.push_back(&e);
  std::stable_sort(commands.begin(), commands.end(), [](auto* a, auto* b) { return a->t_s < b->t_s; });
  const auto pools = poolOfNames(run);
  std::vector<SwitchMeasure> out;
  for (std::size_t ci = 0; ci < commands.size(); ++ci) {
    const auto* c = commands[ci];
    SwitchMeasure m;
    m.at_s = c->t_s;
    m.to = c->target;
    m.from = activePoolAt(run.events, c->t_s, /*strictly_before=*/true);
    if (m.from.empty() || m.from == m.to) continue;
    // A switch the switcher refused, or held at its readiness gate to the
    // end, did not happen: it has no latency (measured to the old version's
    // last response it would be the rest of the run).
    const double next_command = ci + 1 < commands.size() ? commands[ci + 1]->t_s : INFINITY;
    const auto made = std::find_if(run.events.begin(), run.events.end(), [&](const TimedEvent& e) {
      return e.source == "switcher" && e.kind == "switched" && e.target == m.to && e.t_s >= c->t_s &&
             e.t_s < next_command;
    });
    if (made == run.events.end()) continue;
    m.switched_s = made->t_s;
    const std::int64_t at = toNs(c->t_s, run.t0_ns);
    // Only requests sent while this switch held, answered before it ended: a
    // later rollback or switch back to `from` makes its responses legitimate
    // again, and a request sent just before that and answered after it may
    // have been routed after it (the client's clock and the switcher's
    // event differ by the hop: milliseconds under a sanitizer).
    std::int64_t until = std::numeric_limits<std::int64_t>::max();
    for (const auto& e : run.events)
      if (e.source == "switcher" && (e.kind == "switched" || e.kind == "rollback") && e.target != m.to &&
          e.t_s > c->t_s) {
        until = std::min(until, toNs(e.t_s, run.t0_ns));
      }
    std::int64_t last = at;
    for (const auto& r : run.records)
      // A response from the old version: a backend of it answered (ok or
      // app_error). The switcher's own errors are not, even when they name
      // a backend of it they tried (a refused connect's 502).
      if (r.sent_ns >= at && r.sent_ns < until && r.done_ns != 0 && r.done_ns < until && !isDropped(r.outcome) &&
          poolOfRecord(r, pools, run.names) == m.from)
        last = std::max(last, r.done_ns);
    m.switch_latency_ms = msBetween(at, last);
    m.drain_time_ms = drainTime(run, m.from, c->t_s);
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<RollbackMeasure> rollbackMeasure(const RunView& run) {
  // The onset. With a rollback: the last disturbance of the pool it rolled
  // back from (a fault, or a signal or stop step: a kill can trigger a
  // healthy_below rollback) at or before the first rollback decision; a
  // fault elsewhere, or an earlier one, did not cause it. Without one (or
  // with none of that pool): the run's first fault.
  const TimedEvent* rollback = nullptr;
  for (const auto& e : run.events)
    if (e.source == "switcher" && e.kind == "rollback" && (!rollback || e.t_s < rollback->t_s)) rollback = &e;
  const TimedEvent* fault = nullptr;
  if (rollback) {
    const std::string from = activePoolAt(run.events, rollback->t_s, /*strictly_before=*/true);
    for (const auto& e : run.events) {
      const bool disturbance = (e.source == "service" && e.kind == "fault") ||
                               (e.source == "timeline" && (e.kind == "fault" || e.kind == "signal" || e.kind == "stop"));
      if (disturbance && e.t_s <= rollback->t_s && poolOfTarget(run, e.target) == from &&
          (!fault || e.t_s >= fault->t_s))
        fault = &e;
    }
  }
  if (!fault)
    for (const auto& e : run.events)
      if (e.kind == "fault" && (e.source == "timeline" || e.source == "service") && (!fault || e.t_s < fault->t_s))
        fault = &e;
  if (!fault) return std::nullopt;
  RollbackMeasure m;
  m.fault_s = fault->t_s;
  m.faulty_pool = poolOfTarget(run, fault->target);
  for (const auto& e : run.events)
    if (e.source == "switcher" && e.kind == "rollback" && e.t_s >= m.fault_s) {
      const double ms = (e.t_s - m.fault_s) * 1e3;
      if (!m.detect_latency_ms || ms < *m.detect_latency_ms) m.detect_latency_ms = ms;
    }
  const std::int64_t onset = toNs(m.fault_s, run.t0_ns);
  const auto pools = poolOfNames(run);
  std::int64_t recovered = onset;
  std::int64_t last_outcome = onset;  // the run's last outcome (its load's end)
  std::vector<std::int64_t> failed;   // completions of the faulty pool's failures
  for (const auto& r : run.records) {
    if (r.done_ns == 0) continue;
    last_outcome = std::max(last_outcome, r.done_ns);
    if (r.outcome == Outcome::ok || r.done_ns < onset) continue;
    std::string pool = poolOfRecord(r, pools, run.names);
    if (pool.empty()) pool = activePoolAt(run.events, secondsSince0(r.sent_ns != 0 ? r.sent_ns : r.intended_ns, run.t0_ns));
    if (pool == m.faulty_pool) {
      recovered = std::max(recovered, r.done_ns);
      failed.push_back(r.done_ns);
    }
  }
  m.any_failed = !failed.empty();
  if (!failed.empty()) {
    std::sort(failed.begin(), failed.end());
    std::int64_t gap = 0;
    for (std::size_t i = 1; i < failed.size(); ++i) gap = std::max(gap, failed[i] - failed[i - 1]);
    m.recovered = last_outcome - recovered >= std::max<std::int64_t>(kRecoveryQuiet.count(), 2 * gap);
  }
  m.recovery_latency_ms = msBetween(onset, recovered);
  for (const auto& r : run.records)
    if (r.done_ns != 0 && r.outcome != Outcome::ok && r.done_ns >= onset && r.done_ns <= recovered &&
        recovered > onset)
      ++m.blast_radius;
  return m;
}

std::map<std::string, double> deriveMeasures(const RunView& run) { return deriveMeasures(run, switchMeasures(run)); }

std::map<std::string, double> deriveMeasures(const RunView& run, const std::vector<SwitchMeasure>& switches) {
  std::map<std::string, double> out;
  if (!switches.empty()) {
    out["switch_latency_ms"] = switches.front().switch_latency_ms;
    if (switches.front().drain_time_ms) out["drain_time_ms"] = *switches.front().drain_time_ms;
  }
  if (const auto rb = rollbackMeasure(run)) {
    if (rb->detect_latency_ms) out["rollback_detect_latency_ms"] = *rb->detect_latency_ms;
    if (rb->recovered) {
      // No request failed: nothing to recover from (the measure's input, the
      // last failed request, never happened); the blast radius is 0.
      if (rb->any_failed) out["rollback_recovery_latency_ms"] = rb->recovery_latency_ms;
      out["blast_radius_requests"] = static_cast<double>(rb->blast_radius);
    } else {
      out["blast_radius_unrecovered_requests"] = static_cast<double>(rb->blast_radius);
    }
  }
  return out;
}

}  // namespace cutover
