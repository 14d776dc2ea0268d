#include "sim/switcher/core.hpp"

#include <algorithm>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"

namespace cutover::switcher {

std::string_view routeErrorName(RouteError e) {
  switch (e) {
    case RouteError::none: return "none";
    case RouteError::no_active_pool: return "no_active_pool";
    case RouteError::no_backend: return "no_backend";
  }
  return "unknown";
}

Core::Core(CoreOptions options) : options_(std::move(options)) {
  CUTOVER_ASSERT(options_.max_backends > 0 && options_.max_backends < kNoBackend);
  CUTOVER_ASSERT(options_.max_events > 0);
}

// ---- backends and pools ------------------------------------------------------

Core::PoolIndex Core::poolIndex(const std::string& name) const {
  const auto it = pool_by_name_.find(name);
  return it == pool_by_name_.end() ? kNoPool : it->second;
}

Core::PoolIndex Core::ensurePool(const std::string& name) {
  const PoolIndex found = poolIndex(name);
  if (found != kNoPool) return found;
  const auto index = static_cast<PoolIndex>(pools_.size());
  pools_.push_back(Pool{});
  pools_.back().name = name;
  pool_by_name_.emplace(name, index);
  return index;
}

BackendId Core::allocSlot() {
  if (!free_slots_.empty()) {
    const BackendId id = free_slots_.back();
    free_slots_.pop_back();
    return id;
  }
  if (slots_.size() >= options_.max_backends) return kNoBackend;
  slots_.emplace_back();
  return static_cast<BackendId>(slots_.size() - 1);
}

void Core::releaseIfIdle(BackendId id) {
  Slot& s = slots_[id];
  if (!s.removed || s.in_flight != 0) return;
  s = Slot{};
  free_slots_.push_back(id);
}

bool Core::addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                      Instant now) {
  if (backend_by_instance_.count(instance) != 0) removeBackend(instance, now);
  const BackendId id = allocSlot();
  if (id == kNoBackend) return false;
  const PoolIndex p = ensurePool(pool);
  Slot& s = slots_[id];
  s.instance = instance;
  s.pool = p;
  s.port = port;
  s.used = true;
  pools_[p].members.push_back(id);
  backend_by_instance_[instance] = id;
  emit(now, "backend_added", pool, instance + " on port " + std::to_string(port));
  return true;
}

bool Core::removeBackend(const std::string& instance, Instant now) {
  const auto it = backend_by_instance_.find(instance);
  if (it == backend_by_instance_.end()) return false;
  const BackendId id = it->second;
  backend_by_instance_.erase(it);
  Slot& s = slots_[id];
  Pool& pool = pools_[s.pool];
  const auto pos = std::find(pool.members.begin(), pool.members.end(), id);
  CUTOVER_ASSERT(pos != pool.members.end());
  const auto removed_at = static_cast<std::size_t>(pos - pool.members.begin());
  pool.members.erase(pos);
  // Keep the round robin order of the others: the next one after the removed.
  if (removed_at < pool.cursor) --pool.cursor;
  if (pool.cursor >= pool.members.size()) pool.cursor = 0;
  s.removed = true;
  emit(now, "backend_removed", pool.name,
       instance + (s.in_flight ? " with " + std::to_string(s.in_flight) + " in flight" : ""));
  releaseIfIdle(id);
  return true;
}

bool Core::setHealthy(const std::string& instance, bool healthy, Instant now) {
  const auto it = backend_by_instance_.find(instance);
  if (it == backend_by_instance_.end()) return false;
  Slot& s = slots_[it->second];
  if (s.healthy == healthy) return true;
  s.healthy = healthy;
  emit(now, healthy ? "backend_healthy" : "backend_unhealthy", pools_[s.pool].name, instance);
  return true;
}

// ---- routing -------------------------------------------------------------------

BackendId Core::pickRoundRobin(Pool& pool) {
  const std::size_t n = pool.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = (pool.cursor + i) % n;
    const BackendId id = pool.members[at];
    if (!slots_[id].healthy) continue;
    pool.cursor = (at + 1) % n;
    return id;
  }
  return kNoBackend;
}

BackendId Core::pickLeastOutstanding(Pool& pool) {
  const std::size_t n = pool.members.size();
  BackendId best = kNoBackend;
  std::size_t best_at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = (pool.cursor + i) % n;
    const BackendId id = pool.members[at];
    const Slot& s = slots_[id];
    if (!s.healthy) continue;
    if (best == kNoBackend || s.in_flight < slots_[best].in_flight) {
      best = id;
      best_at = at;
      if (s.in_flight == 0) break;  // cannot do better; first in round robin order
    }
  }
  if (best != kNoBackend) pool.cursor = (best_at + 1) % n;
  return best;
}

Route Core::route(Instant /*now*/, std::uint64_t /*connection*/) {
  Route r;
  if (active_ == kNoPool) {
    r.error = RouteError::no_active_pool;
    return r;
  }
  Pool& pool = pools_[active_];
  const BackendId id = options_.policy == Policy::round_robin ? pickRoundRobin(pool)
                                                              : pickLeastOutstanding(pool);
  if (id == kNoBackend) {
    r.error = RouteError::no_backend;
    return r;
  }
  Slot& s = slots_[id];
  ++s.in_flight;
  ++pool.in_flight;
  r.backend = id;
  r.port = s.port;
  return r;
}

void Core::onRequestDone(BackendId backend, Instant now, Upstream /*outcome*/) {
  CUTOVER_ASSERT(backend < slots_.size());
  Slot& s = slots_[backend];
  CUTOVER_ASSERT(s.used && s.in_flight > 0);
  Pool& pool = pools_[s.pool];
  CUTOVER_ASSERT(pool.in_flight > 0);
  --s.in_flight;
  --pool.in_flight;
  if (pool.draining && pool.in_flight == 0) {
    pool.draining = false;
    emit(now, "drained", pool.name, "drain time " + formatDuration(now - pool.drain_started));
  }
  releaseIfIdle(backend);
}

// ---- switch and drain ------------------------------------------------------------

std::size_t Core::healthyCount(const Pool& pool) const {
  std::size_t n = 0;
  for (const BackendId id : pool.members) n += slots_[id].healthy ? 1 : 0;
  return n;
}

std::optional<std::string> Core::readinessFailure(const Pool& pool) const {
  const std::size_t healthy = healthyCount(pool);
  if (pool.members.empty()) return "pool " + pool.name + " has no backend";
  if (options_.readiness.kind == ReadinessGate::Kind::all) {
    if (healthy < pool.members.size())
      return "pool " + pool.name + " has " + std::to_string(healthy) + " of " +
             std::to_string(pool.members.size()) + " backends healthy (all required)";
    return std::nullopt;
  }
  const std::size_t need = std::max<std::size_t>(options_.readiness.count, 1);
  if (healthy < need)
    return "pool " + pool.name + " has " + std::to_string(healthy) + " healthy backends, " +
           std::to_string(need) + " required";
  return std::nullopt;
}

void Core::startDrain(PoolIndex index, Instant now) {
  Pool& pool = pools_[index];
  pool.drain_started = now;
  pool.drain_deadline = now + options_.drain_timeout;
  pool.draining = pool.in_flight > 0;
  if (!pool.draining) emit(now, "drained", pool.name, "drain time " + formatDuration(Duration{0}));
}

SwitchResult Core::switchTo(const std::string& pool, Instant now) {
  emit(now, "switch_requested", pool, active_ == kNoPool ? "from none" : "from " + pools_[active_].name);
  const PoolIndex target = poolIndex(pool);
  std::optional<std::string> failure;
  if (target == kNoPool) failure = "unknown pool " + pool;
  else failure = readinessFailure(pools_[target]);
  if (failure) {
    emit(now, "switch_refused", pool, *failure);
    return SwitchResult{false, *failure};
  }
  if (target == active_) {
    emit(now, "switched", pool, "already active");
    return SwitchResult{true, ""};
  }
  const PoolIndex previous = active_;
  Pool& next = pools_[target];
  const bool was_draining = next.draining;
  next.draining = false;
  active_ = target;
  std::string detail = previous == kNoPool ? "from none" : "from " + pools_[previous].name;
  if (was_draining) detail += " (its drain cancelled)";
  emit(now, "switched", pool, detail);
  if (previous != kNoPool) startDrain(previous, now);
  return SwitchResult{true, ""};
}

std::optional<Instant> Core::nextDeadline() const {
  std::optional<Instant> next;
  for (const Pool& p : pools_)
    if (p.draining && (!next || p.drain_deadline < *next)) next = p.drain_deadline;
  return next;
}

void Core::onTimeout(Instant now) {
  for (Pool& p : pools_) {
    if (!p.draining || p.drain_deadline > now) continue;
    p.draining = false;
    emit(now, "drain_timeout", p.name,
         std::to_string(p.in_flight) + " still in flight after " + formatDuration(now - p.drain_started));
  }
}

// ---- events and introspection ------------------------------------------------------

void Core::emit(Instant at, std::string kind, std::string pool, std::string detail) {
  if (events_.size() >= options_.max_events) {
    events_.pop_front();
    ++dropped_events_;
  }
  events_.push_back(Event{at, std::move(kind), std::move(pool), std::move(detail)});
}

std::optional<Event> Core::pollEvent() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::vector<Event> Core::takeEvents() {
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

const std::string& Core::activePool() const {
  static const std::string kNone;
  return active_ == kNoPool ? kNone : pools_[active_].name;
}

bool Core::hasPool(const std::string& pool) const { return poolIndex(pool) != kNoPool; }

bool Core::isDraining(const std::string& pool) const {
  const PoolIndex p = poolIndex(pool);
  return p != kNoPool && pools_[p].draining;
}

std::uint32_t Core::poolInFlight(const std::string& pool) const {
  const PoolIndex p = poolIndex(pool);
  return p == kNoPool ? 0 : pools_[p].in_flight;
}

std::optional<BackendView> Core::backend(BackendId id) const {
  if (id >= slots_.size() || !slots_[id].used) return std::nullopt;
  const Slot& s = slots_[id];
  return BackendView{pools_[s.pool].name, s.instance, s.port, s.in_flight, s.healthy};
}

std::optional<BackendId> Core::findBackend(const std::string& instance) const {
  const auto it = backend_by_instance_.find(instance);
  if (it == backend_by_instance_.end()) return std::nullopt;
  return it->second;
}

}  // namespace cutover::switcher
