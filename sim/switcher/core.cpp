#include "sim/switcher/core.hpp"

#include <algorithm>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/switcher/rollback_watch.hpp"

namespace cutover::switcher {

Core::Core(CoreOptions options, Rng rng)
    : options_(std::move(options)), watch_(std::make_unique<RollbackWatch>(options_.rollback)), rng_(rng) {
  CUTOVER_ASSERT(options_.max_backends > 0 && options_.max_backends < kNoBackend);
  CUTOVER_ASSERT(options_.max_events > 0);
  const auto& hc = options_.health_check;
  CUTOVER_ASSERT(hc.interval > Duration{0} && hc.timeout > Duration{0} && hc.jitter >= Duration{0});
  CUTOVER_ASSERT(hc.healthy_threshold > 0 && hc.unhealthy_threshold > 0);
  CUTOVER_ASSERT(options_.outlier.ejection >= Duration{0} && options_.outlier.max_ejection >= Duration{0});
}

Core::~Core() = default;
Core::Core(Core&&) noexcept = default;
Core& Core::operator=(Core&&) noexcept = default;

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

void Core::addPool(const std::string& pool, std::size_t expected) {
  const PoolIndex p = ensurePool(pool);
  if (expected > 0) pools_[p].expected = expected;
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
  return addBackend(pool, instance, port, now, options_.health_check.start_healthy);
}

bool Core::addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                      Instant now, bool healthy) {
  if (backend_by_instance_.count(instance) != 0) removeBackend(instance, now);
  const BackendId id = allocSlot();
  if (id == kNoBackend) return false;
  const PoolIndex p = ensurePool(pool);
  Slot& s = slots_[id];
  s.instance = instance;
  s.pool = p;
  s.port = port;
  s.used = true;
  s.healthy = healthy;
  s.next_check = now + jitter();
  s.member_at = static_cast<std::uint32_t>(pools_[p].members.size());
  pools_[p].members.push_back(id);
  pools_[p].load.push_back(0);
  refreshLoad(s);
  backend_by_instance_[instance] = id;
  emit(now, "backend_added", pool,
       instance + " on port " + std::to_string(port) + (healthy ? "" : " (starts unhealthy)"));
  if (healthy) healthImproved(now);
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
  pool.load.erase(removed_at);
  s.member_at = kNoMember;
  renumberMembers(pool);
  // Keep the round robin order of the others: the next one after the removed.
  if (removed_at < pool.cursor) --pool.cursor;
  if (pool.cursor >= pool.members.size()) pool.cursor = 0;
  s.removed = true;
  emit(now, "backend_removed", pool.name,
       instance + (s.in_flight ? " with " + std::to_string(s.in_flight) + " in flight" : ""));
  releaseIfIdle(id);
  return true;
}

void Core::renumberMembers(Pool& pool) {
  for (std::size_t k = 0; k < pool.members.size(); ++k) slots_[pool.members[k]].member_at = static_cast<std::uint32_t>(k);
}

bool Core::setHealthy(const std::string& instance, bool healthy, Instant now) {
  const auto it = backend_by_instance_.find(instance);
  if (it == backend_by_instance_.end()) return false;
  setSlotHealth(it->second, healthy, now, "set");
  return true;
}

// ---- finished requests (routing is in core_route.cpp) ----------------------------

void Core::onRequestDone(BackendId backend, Instant now, Upstream outcome) {
  done(backend, now, outcome, std::nullopt);
}

void Core::onRequestDone(BackendId backend, Instant now, Upstream outcome, Duration latency) {
  done(backend, now, outcome, latency);
}

void Core::done(BackendId backend, Instant now, Upstream outcome, std::optional<Duration> latency) {
  CUTOVER_ASSERT(backend < slots_.size());
  Slot& s = slots_[backend];
  CUTOVER_ASSERT(s.used && s.in_flight > 0);
  const PoolIndex p = s.pool;
  release(backend, now);
  if (!s.removed) noteOutcome(backend, outcome, now);
  releaseIfIdle(backend);
  if (bake_ && p == active_ && outcome != Upstream::cancelled)
    sample(p, now, outcome != Upstream::response, latency);
}

// ---- switch and drain ------------------------------------------------------------

std::size_t Core::healthyCount(const Pool& pool) const {
  std::size_t n = 0;
  for (const BackendId id : pool.members) n += routable(slots_[id]) ? 1 : 0;
  return n;
}

std::optional<std::string> Core::readinessFailure(const Pool& pool) const {
  const std::size_t healthy = healthyCount(pool);
  if (options_.readiness.kind == ReadinessGate::Kind::at_least && options_.readiness.count == 0)
    return std::nullopt;  // no gate: requests get a marked 503 until a backend is routable
  if (pool.members.empty()) return "pool " + pool.name + " has no backend";
  if (options_.readiness.kind == ReadinessGate::Kind::all) {
    const std::size_t want = std::max(pool.expected, pool.members.size());
    if (healthy < want)
      return "pool " + pool.name + " has " + std::to_string(healthy) + " of " + std::to_string(want) +
             " backends healthy (all required)";
    return std::nullopt;
  }
  const std::size_t need = options_.readiness.count;
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
  pool.drain_overdue = false;
  if (!pool.draining) emit(now, "drained", pool.name, "drain time " + formatDuration(Duration{0}));
}

SwitchResult Core::switchTo(const std::string& pool, Instant now) {
  emit(now, "switch_requested", pool, active_ == kNoPool ? "from none" : "from " + pools_[active_].name);
  cancelPending(now, "cancelled by a later switch to " + pool);
  const PoolIndex target = poolIndex(pool);
  std::optional<std::string> failure;
  if (target == kNoPool) failure = "unknown pool " + pool;
  else failure = readinessFailure(pools_[target]);
  const Duration wait = options_.readiness.wait;
  if (failure && target != kNoPool && wait > Duration{0}) {
    pending_ = PendingSwitch{target, now, now + wait};
    emit(now, "switch_pending", pool, *failure + "; waiting up to " + formatDuration(wait));
    return SwitchResult{false, *failure, true};
  }
  if (failure) {
    emit(now, "switch_refused", pool, *failure);
    return SwitchResult{false, *failure};
  }
  commitSwitch(target, now, active_ == kNoPool ? "from none" : "from " + pools_[active_].name);
  return SwitchResult{true, ""};
}

// The switch itself, once the gate held: `target` becomes active, the pool
// that was drains and is kept for rollback; a bake starts.
void Core::commitSwitch(PoolIndex target, Instant now, std::string detail) {
  if (target == active_) {
    emit(now, "switched", pools_[target].name, "already active");
    return;
  }
  const PoolIndex previous = active_;
  activate(target, now, "switched", std::move(detail));
  if (previous != kNoPool) {
    previous_ = previous;
    previous_until_ = now + options_.rollback.keep_previous_for;
    if (!options_.rollback.on.empty()) {
      bake_ = now + options_.rollback.bake;
      watch_->reset();
      checkRollback(now);  // e.g. a healthy floor that already fails
    }
  }
}

// ---- readiness wait --------------------------------------------------------------

void Core::cancelPending(Instant now, const std::string& why) {
  if (!pending_) return;
  const PoolIndex target = pending_->target;
  pending_.reset();
  emit(now, "switch_refused", pools_[target].name, why);
}

void Core::checkPending(Instant now) {
  if (!pending_ || readinessFailure(pools_[pending_->target])) return;
  const PendingSwitch p = *pending_;
  pending_.reset();
  commitSwitch(p.target, now,
               (active_ == kNoPool ? "from none" : "from " + pools_[active_].name) +
                   " (readiness gate met after " + formatDuration(now - p.since) + ")");
}

void Core::pendingTimer(Instant now) {
  checkPending(now);
  if (!pending_ || now < pending_->deadline) return;
  const PoolIndex target = pending_->target;
  pending_.reset();
  const auto failure = readinessFailure(pools_[target]);
  emit(now, "switch_refused", pools_[target].name,
       "readiness gate still not met after " + formatDuration(options_.readiness.wait) +
           (failure ? ": " + *failure : ""));
}

void Core::healthImproved(Instant now) {
  checkPending(now);
  updatePanic(now);
}

const std::string& Core::pendingPool() const {
  static const std::string kNone;
  return pending_ ? pools_[pending_->target].name : kNone;
}

// Makes `target` active at once and drains the pool that was; no gate.
void Core::activate(PoolIndex target, Instant now, const char* kind, std::string detail) {
  const PoolIndex previous = active_;
  Pool& next = pools_[target];
  const bool was_draining = next.draining;
  next.draining = false;
  next.drain_overdue = false;
  active_ = target;
  bake_.reset();
  previous_ = kNoPool;
  if (was_draining) detail += " (its drain cancelled)";
  emit(now, kind, next.name, std::move(detail));
  if (previous != kNoPool) startDrain(previous, now);
  updatePanic(now);
}

// ---- rollback --------------------------------------------------------------------------

SwitchResult Core::rollback(Instant now, const std::string& reason) {
  cancelPending(now, "cancelled by a rollback");
  const std::string from = activePool();
  std::optional<std::string> failure;
  if (previous_ == kNoPool || now >= previous_until_) failure = "no previous pool kept";
  else if (healthyCount(pools_[previous_]) == 0)
    failure = "previous pool " + pools_[previous_].name + " has no healthy backend";
  if (failure) {
    bake_.reset();  // one verdict per bake
    emit(now, "rollback_impossible", from, *failure + "; trigger: " + reason);
    return SwitchResult{false, *failure};
  }
  activate(previous_, now, "rollback", "from " + from + ": " + reason);
  return SwitchResult{true, ""};
}

void Core::sample(PoolIndex pool, Instant now, bool error, std::optional<Duration> latency) {
  if (!bake_ || pool != active_) return;
  watch_->add(now, error, latency);
  checkRollback(now);
}

void Core::checkRollback(Instant now) {
  if (!bake_ || active_ == kNoPool) return;
  if (auto why = watch_->violated(now, healthyCount(pools_[active_]))) (void)rollback(now, *why);
}

void Core::bakeTimers(Instant now) {
  checkRollback(now);
  if (bake_ && now >= *bake_) {
    bake_.reset();
    emit(now, "bake_passed", activePool(), "no rollback trigger held for " + formatDuration(options_.rollback.bake));
  }
  if (previous_ != kNoPool && now >= previous_until_) {
    emit(now, "previous_released", pools_[previous_].name,
         "kept " + formatDuration(options_.rollback.keep_previous_for) + " after the switch");
    previous_ = kNoPool;
  }
}

std::optional<Instant> Core::nextDeadline() const {
  std::optional<Instant> next;
  auto consider = [&next](Instant t) {
    if (!next || t < *next) next = t;
  };
  for (const Pool& p : pools_)
    if (p.draining) consider(p.drain_deadline);
  const bool checks = options_.health_check.enabled;
  for (const Slot& s : slots_) {
    if (!s.used || s.removed) continue;
    if (checks && s.check == 0) consider(s.next_check);
    if (s.ejected) consider(s.ejected_until);
  }
  if (bake_) consider(*bake_);
  if (previous_ != kNoPool) consider(previous_until_);
  if (pending_) consider(pending_->deadline);
  return next;
}

void Core::onTimeout(Instant now) {
  endEjections(now);
  dueHealthChecks(now);
  pendingTimer(now);
  bakeTimers(now);
  for (Pool& p : pools_) {
    if (!p.draining || p.drain_deadline > now) continue;
    p.draining = false;
    p.drain_overdue = true;
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

std::optional<Action> Core::pollAction() {
  if (actions_.empty()) return std::nullopt;
  Action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

const std::string& Core::previousPool() const {
  static const std::string kNone;
  return previous_ == kNoPool ? kNone : pools_[previous_].name;
}

const std::string& Core::poolName(std::uint32_t pool) const {
  static const std::string kNone;
  return pool < pools_.size() ? pools_[pool].name : kNone;
}

std::vector<std::string> Core::poolNames() const {
  std::vector<std::string> out;
  for (const Pool& p : pools_) out.push_back(p.name);
  return out;
}

std::vector<BackendView> Core::backends() const {
  std::vector<BackendView> out;
  for (const Pool& p : pools_)
    for (const BackendId id : p.members) out.push_back(*backend(id));
  return out;
}

std::size_t Core::healthyCount(const std::string& pool) const {
  const PoolIndex p = poolIndex(pool);
  return p == kNoPool ? 0 : healthyCount(pools_[p]);
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
  return BackendView{pools_[s.pool].name, s.instance, s.port, s.in_flight, s.healthy, s.ejected, s.times_ejected};
}

std::optional<BackendId> Core::findBackend(const std::string& instance) const {
  const auto it = backend_by_instance_.find(instance);
  if (it == backend_by_instance_.end()) return std::nullopt;
  return it->second;
}

}  // namespace cutover::switcher
