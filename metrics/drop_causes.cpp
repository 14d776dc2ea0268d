#include "metrics/drop_causes.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <unordered_map>
#include <utility>

namespace cutover {
namespace {

using namespace measures_detail;

std::string seconds(double t_s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f s", t_s);
  return buf;
}

std::string millis(std::int64_t ns) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

struct Cause {
  std::string cause_class;
  std::string cause;
};

class Joiner {
 public:
  Joiner(const RunView& run, const std::vector<ServiceRequestLog>& log) : run_(run) {
    for (const auto& e : log) {
      auto [it, added] = byId_.emplace(e.request_id, &e);
      if (!added && e.accepted_ns >= it->second->accepted_ns) it->second = &e;
    }
    for (const auto& in : run.instances)
      if (in.exited_s) noteExit(in.id, *in.exited_s);
    for (const auto& e : run.events)
      if ((e.source == "service" || e.source == "runner") && (e.kind == "exited" || e.kind == "stopped"))
        noteExit(e.target, e.t_s);
    for (const auto& r : run.records)
      if (r.instance < run.names.size() && r.connection_id != 0)
        served_[r.connection_id].push_back({r.connection_reuse, r.instance});
  }

  Cause explain(const RequestRecord& r) const {
    const ServiceRequestLog* seen = nullptr;
    if (const auto it = byId_.find(r.request_id); it != byId_.end() && it->second->accepted_ns != 0)
      seen = it->second;
    if (r.sent_ns == 0) {
      if (r.outcome == Outcome::timeout)  // waiting for a free client connection, or for its connect
        return {"not_sent", "timed out before the request was written (no connection was free or connected)"};
      return {"not_sent", std::string("connection ") + (r.outcome == Outcome::refused ? "refused" : "lost") +
                              " before the request was written (safe to retry)"};
    }
    // The service's lifecycle log ends such a request with exit_reset or
    // exit_close (fake-services/lifecycle_log.hpp); other logs may leave it unfinished.
    if (seen && (seen->finished_ns == 0 || seen->how.rfind("exit_", 0) == 0)) {
      if (const auto exit = exitOf(seen->instance))
        return {"in_flight_at_exit", "in flight on " + seen->instance + " when it exited at " + seconds(*exit)};
    }
    switch (r.outcome) {
      case Outcome::switch_error: return switcherError(r, seen);
      case Outcome::reset: return reset(r, seen);
      case Outcome::refused: return {"refused", "connection refused"};
      case Outcome::timeout: return timeout(r, seen);
      default: return {"not_dropped", "not dropped"};
    }
  }

 private:
  void noteExit(const std::string& id, double t_s) {
    auto [it, added] = exits_.emplace(id, t_s);
    if (!added) it->second = std::min(it->second, t_s);
  }
  std::optional<double> exitOf(const std::string& id) const {
    const auto it = exits_.find(id);
    if (it == exits_.end()) return std::nullopt;
    return it->second;
  }
  std::string status(const RequestRecord& r) const { return r.status ? std::to_string(r.status) : "5xx"; }

  Cause switcherError(const RequestRecord& r, const ServiceRequestLog* seen) const {
    const double sent_s = secondsSince0(r.sent_ns, run_.t0_ns);
    if (r.switcher_reason == SwitcherReason::no_backend) {
      // The switcher names the pool (kHeaderSwitcherPool); switchers that do
      // not (nginx, HAProxy): the pool active when the request was sent.
      const std::string pool = r.pool < run_.names.size() ? run_.names[r.pool] : activePoolAt(run_.events, sent_s);
      return {"no_healthy_backend", status(r) + ": no healthy backend in " + (pool.empty() ? "the active pool" : pool)};
    }
    if (r.switcher_reason == SwitcherReason::no_active_pool)
      return {"no_active_pool", status(r) + ": no active pool"};
    const std::string reason(switcherReasonName(r.switcher_reason));
    // The switcher names the backend it tried (x-cutover-switcher-backend).
    if (!seen && r.instance < run_.names.size()) {
      const auto& backend = run_.names[r.instance];
      if (const auto exit = exitOf(backend)) {
        if (*exit >= sent_s)  // exit times come from reaping: a little late, never early
          return {"in_flight_at_exit", "in flight on " + backend + " when it exited at " + seconds(*exit)};
        if (*exit < sent_s)
          return {"backend_gone", status(r) + " " + reason + ": routed to " + backend + " after it exited at " +
                                      seconds(*exit)};
      }
    }
    std::string cause = status(r) + " " + reason;
    if (seen) cause += " from " + seen->instance + (seen->how.empty() ? "" : " (service: " + seen->how + ")");
    else cause += ", no service saw the request";
    return {"switcher_" + reason, cause};
  }

  Cause reset(const RequestRecord& r, const ServiceRequestLog* seen) const {
    if (seen)
      return {"reset_after_service", "reset after " + seen->instance + " handled it" +
                                         (seen->how.empty() ? "" : " (" + seen->how + ")")};
    if (r.connection_reuse > 0) {
      std::string to;
      if (const auto it = served_.find(r.connection_id); it != served_.end()) {
        int best = -1;
        for (const auto& [reuse, instance] : it->second)
          if (reuse < r.connection_reuse && reuse > best) best = reuse, to = run_.names[instance];
      }
      // The connection's last answer came from `to`: in l4 its pinned
      // backend; in l7 (a backend per request) only where the previous went.
      return {"reset_reused_connection",
              "reset on a reused keep-alive connection" + (to.empty() ? std::string() : " (last answered by " + to + ")") +
                  ", no service saw the request"};
    }
    return {"reset_new_connection", "reset on a new connection, no service saw the request"};
  }

  Cause timeout(const RequestRecord& r, const ServiceRequestLog* seen) const {
    if (!seen) return {"timeout_not_accepted", "timeout: no service saw the request"};
    if (seen->finished_ns == 0) return {"timeout_in_service", "timeout: in flight on " + seen->instance + ", never answered"};
    return {"timeout_in_service", "timeout: " + seen->instance + " answered " +
                                      millis(seen->finished_ns - r.intended_ns) + " after the intended send time"};
  }

  const RunView& run_;
  std::unordered_map<std::uint64_t, const ServiceRequestLog*> byId_;
  std::unordered_map<std::string, double> exits_;
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::uint16_t, std::uint16_t>>> served_;
};

}  // namespace

DropAttribution attributeDrops(const RunView& run, const std::vector<ServiceRequestLog>& service_log,
                               const AttributionLimits& limits) {
  DropAttribution out;
  const Joiner joiner(run, service_log);
  for (std::size_t i = 0; i < run.records.size(); ++i) {
    const auto& r = run.records[i];
    if (r.done_ns == 0 || !isDropped(r.outcome)) continue;
    auto c = joiner.explain(r);
    ++out.dropped;
    ++out.by_class[c.cause_class];
    if (out.by_cause.size() < limits.max_causes || out.by_cause.count(c.cause)) ++out.by_cause[c.cause];
    else ++out.by_cause["other"];
    if (out.drops.size() < limits.max_listed)
      out.drops.push_back({i, r.request_id, std::move(c.cause_class), std::move(c.cause)});
  }
  return out;
}

}  // namespace cutover
