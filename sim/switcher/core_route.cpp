// switcher::Core, continued: routing. The policies, l4 pinning, panic
// routing and retries on another backend; the rules are in core.hpp's theory
// of operation. route() is the hot path (see tests/bench/switcher_core_bench).
#include <array>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/switcher/core.hpp"

namespace cutover::switcher {

std::string_view routeErrorName(RouteError e) {
  switch (e) {
    case RouteError::none: return "none";
    case RouteError::no_active_pool: return "no_active_pool";
    case RouteError::no_backend: return "no_backend";
    case RouteError::pinned_backend_gone: return "pinned_backend_gone";
  }
  return "unknown";
}

std::string_view modeName(Mode m) { return m == Mode::l4 ? "l4" : "l7"; }

// ---- picks -----------------------------------------------------------------------

BackendId Core::pick(Pool& pool, BackendId exclude, bool any) {
  return options_.policy == Policy::round_robin ? pickRoundRobin(pool, exclude, any)
                                                : pickLeastOutstanding(pool, exclude, any);
}

BackendId Core::pickRoundRobin(Pool& pool, BackendId exclude, bool any) {
  const std::size_t n = pool.members.size();
  std::size_t at = n ? pool.cursor % n : 0;
  for (std::size_t i = 0; i < n; ++i, at = at + 1 == n ? 0 : at + 1) {
    const BackendId id = pool.members[at];
    if (id == exclude || !(any || routable(slots_[id]))) continue;
    pool.cursor = at + 1 == n ? 0 : at + 1;
    return id;
  }
  return kNoBackend;
}

// The least loaded routable member; ties go to the first at or after the
// round robin cursor (LeastLoaded: constant time per route, the simulator
// routes every request through here).
BackendId Core::pickLeastOutstanding(Pool& pool, BackendId exclude, bool any) {
  if (any) return pickLeastOutstandingAny(pool, exclude);
  const std::size_t n = pool.members.size();
  if (n == 0) return kNoBackend;
  std::size_t hidden = LeastLoaded::kNone;
  if (exclude < slots_.size() && slots_[exclude].member_at < n && pool.members[slots_[exclude].member_at] == exclude)
    hidden = slots_[exclude].member_at;
  const std::size_t at = pool.load.pick(pool.cursor, hidden);
  if (at == LeastLoaded::kNone) return kNoBackend;
  pool.cursor = at + 1 == n ? 0 : at + 1;
  return pool.members[at];
}

// Panic routing: among all members, routable or not (rare; by the slots).
BackendId Core::pickLeastOutstandingAny(Pool& pool, BackendId exclude) {
  const std::size_t n = pool.members.size();
  BackendId best = kNoBackend;
  std::uint32_t best_in_flight = 0;
  std::size_t best_at = 0;
  std::size_t at = n ? pool.cursor % n : 0;
  for (std::size_t i = 0; i < n; ++i, at = at + 1 == n ? 0 : at + 1) {
    const BackendId id = pool.members[at];
    const Slot& s = slots_[id];
    if (id == exclude) continue;
    if (best == kNoBackend || s.in_flight < best_in_flight) {
      best = id;
      best_in_flight = s.in_flight;
      best_at = at;
      if (best_in_flight == 0) break;  // cannot do better; first in round robin order
    }
  }
  if (best != kNoBackend) pool.cursor = best_at + 1 == n ? 0 : best_at + 1;
  return best;
}

void Core::take(BackendId id) {
  Slot& s = slots_[id];
  ++s.in_flight;
  ++pools_[s.pool].in_flight;
  refreshLoad(s);
}

void Core::release(BackendId id, Instant now) {
  Slot& s = slots_[id];
  Pool& pool = pools_[s.pool];
  CUTOVER_ASSERT(s.in_flight > 0 && pool.in_flight > 0);
  --s.in_flight;
  --pool.in_flight;
  refreshLoad(s);
  if (pool.draining && pool.in_flight == 0) {
    pool.draining = false;
    emit(now, "drained", pool.name, "drain time " + formatDuration(now - pool.drain_started));
  } else if (pool.drain_overdue && pool.in_flight == 0) {
    pool.drain_overdue = false;
    emit(now, "drained", pool.name,
         "drain time " + formatDuration(now - pool.drain_started) + ", past its drain_timeout");
  }
}

// ---- route -----------------------------------------------------------------------

Route Core::route(Instant now, std::uint64_t connection) {
  if (options_.mode == Mode::l4 && connection != 0) return routePinned(now, connection);
  return routeActive(now);
}

Route Core::routeActive(Instant now) {
  Route r;
  if (active_ == kNoPool) {
    r.error = RouteError::no_active_pool;
    return r;
  }
  r.pool = active_;
  Pool& pool = pools_[active_];
  BackendId id = pick(pool, kNoBackend, false);
  if (id != kNoBackend) {
    if (panic_pool_ != kNoPool) updatePanic(now);
  } else if (options_.panic && !pool.members.empty()) {
    if (panic_pool_ == kNoPool) {
      panic_pool_ = active_;
      emit(now, "panic", pool.name,
           "no routable backend among " + std::to_string(pool.members.size()) + ": routing among all of them");
    }
    id = pick(pool, kNoBackend, true);
  }
  if (id == kNoBackend) {
    r.error = RouteError::no_backend;
    if (bake_) sample(active_, now, true, std::nullopt);  // a switcher error of the new pool
    return r;
  }
  take(id);
  r.backend = id;
  r.port = slots_[id].port;
  return r;
}

Route Core::routePinned(Instant now, std::uint64_t connection) {
  const auto it = pins_.find(connection);
  if (it != pins_.end()) {
    Route r;
    const BackendId id = it->second;
    if (slots_[id].removed) {
      r.error = RouteError::pinned_backend_gone;  // a stale conntrack entry
      return r;
    }
    take(id);
    r.backend = id;
    r.port = slots_[id].port;
    return r;
  }
  const Route r = routeActive(now);
  if (!r || pins_.size() >= options_.max_pins) return r;  // past the bound: per request
  pins_.emplace(connection, r.backend);
  take(r.backend);  // the connection itself, until closeConnection
  return r;
}

void Core::closeConnection(std::uint64_t connection, Instant now) {
  const auto it = pins_.find(connection);
  if (it == pins_.end()) return;
  const BackendId id = it->second;
  pins_.erase(it);
  release(id, now);
  releaseIfIdle(id);
}

// ---- panic -----------------------------------------------------------------------

void Core::updatePanic(Instant now) {
  if (panic_pool_ == kNoPool) return;
  if (panic_pool_ == active_ && healthyCount(pools_[active_]) == 0) return;
  const std::string& name = pools_[panic_pool_].name;
  const std::string why = panic_pool_ == active_ ? "a backend is routable again" : "pool no longer active";
  panic_pool_ = kNoPool;
  emit(now, "panic_ended", name, why);
}

// ---- retry -----------------------------------------------------------------------

bool Core::isIdempotent(std::string_view method) {
  for (const auto m : kIdempotentMethods)
    if (m == method) return true;
  return false;
}

bool Core::mayRetry(std::string_view method, std::uint32_t retries_done, bool sent) const {
  const auto& r = options_.retry;
  return r.enabled && options_.mode == Mode::l7 && retries_done < r.attempts && (!sent || isIdempotent(method));
}

bool Core::mayRetryStale(std::string_view method, const FailedAttempt& a) {
  return a.reused && !a.stale_retried && !a.got_bytes && !a.timed_out && !a.past_deadline && isIdempotent(method);
}

Route Core::routeRetry(Instant /*now*/, BackendId tried) {
  Route r;
  r.error = RouteError::no_backend;
  if (tried >= slots_.size() || !slots_[tried].used) return r;
  const BackendId id = pick(pools_[slots_[tried].pool], tried, false);
  if (id == kNoBackend) return r;
  take(id);
  r.error = RouteError::none;
  r.backend = id;
  r.port = slots_[id].port;
  return r;
}

}  // namespace cutover::switcher
