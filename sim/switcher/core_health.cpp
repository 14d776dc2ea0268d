// switcher::Core, continued: backend health. Active health checks (the Core
// says when a check is due and applies its result; the shell performs it) and
// passive outlier ejection. The rules are in core.hpp's theory of operation.
#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/switcher/core.hpp"

namespace cutover::switcher {

Duration Core::jitter() {
  const auto range = options_.health_check.jitter.count();
  if (range <= 0) return Duration{0};
  return Duration{static_cast<Duration::rep>(rng_() % static_cast<std::uint64_t>(range))};
}

void Core::setSlotHealth(BackendId id, bool healthy, Instant now, const std::string& why) {
  Slot& s = slots_[id];
  s.passes = 0;
  s.fails = 0;
  if (s.healthy == healthy) return;
  s.healthy = healthy;
  refreshLoad(s);
  emit(now, "health_changed", pools_[s.pool].name,
       s.instance + (healthy ? " healthy: " : " unhealthy: ") + why);
  if (s.pool == active_) checkRollback(now);  // a healthy floor
  if (healthy) healthImproved(now);
}

void Core::dueHealthChecks(Instant now) {
  if (!options_.health_check.enabled) return;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.used || s.removed || s.check != 0 || s.next_check > now) continue;
    s.check = next_check_id_++;
    actions_.push_back(StartHealthCheck{static_cast<BackendId>(i), s.check, s.port, s.instance});
  }
}

void Core::onHealthCheckResult(BackendId backend, std::uint64_t check, bool passed, Instant now,
                               const std::string& detail) {
  if (backend >= slots_.size() || check == 0) return;
  Slot& s = slots_[backend];
  if (!s.used || s.removed || s.check != check) return;  // a check we no longer wait for
  const auto& hc = options_.health_check;
  s.check = 0;
  s.next_check = now + hc.interval + jitter();
  if (passed) {
    s.fails = 0;
    ++s.passes;
    if (!s.healthy && s.passes >= hc.healthy_threshold)
      setSlotHealth(backend, true, now, std::to_string(s.passes) + " checks passed in a row");
  } else {
    s.passes = 0;
    ++s.fails;
    if (s.healthy && s.fails >= hc.unhealthy_threshold)
      setSlotHealth(backend, false, now,
                    std::to_string(s.fails) + " checks failed in a row" +
                        (detail.empty() ? "" : " (last: " + detail + ")"));
  }
}

// ---- outlier ejection ------------------------------------------------------------

void Core::noteOutcome(BackendId id, Upstream outcome, Instant now) {
  const auto& o = options_.outlier;
  if (o.consecutive_5xx == 0 || outcome == Upstream::cancelled) return;
  Slot& s = slots_[id];
  if (outcome == Upstream::response) {
    s.consecutive_failures = 0;
    return;
  }
  ++s.consecutive_failures;
  if (!s.ejected && s.consecutive_failures >= o.consecutive_5xx) tryEject(id, now);
}

void Core::tryEject(BackendId id, Instant now) {
  const auto& o = options_.outlier;
  Slot& s = slots_[id];
  const Pool& pool = pools_[s.pool];
  std::size_t ejected = 0;
  for (const BackendId m : pool.members) ejected += slots_[m].ejected ? 1 : 0;
  const auto cap = static_cast<std::size_t>(
      std::floor(o.max_ejection_percent / 100.0 * static_cast<double>(pool.members.size())));
  if (ejected + 1 > std::max<std::size_t>(cap, 1)) return;  // tried again at the next failure
  ++s.times_ejected;
  const Duration grown = o.ejection * s.times_ejected;
  const Duration length = std::min(grown, o.max_ejection);
  s.ejected = true;
  refreshLoad(s);
  s.ejected_until = now + length;
  emit(now, "ejected", pool.name,
       s.instance + " for " + formatDuration(length) + " after " + std::to_string(s.consecutive_failures) +
           " failures in a row (ejection " + std::to_string(s.times_ejected) + ")");
  s.consecutive_failures = 0;
  if (s.pool == active_) checkRollback(now);
}

void Core::endEjections(Instant now) {
  for (Slot& s : slots_) {
    if (!s.used || s.removed || !s.ejected || s.ejected_until > now) continue;
    s.ejected = false;
    refreshLoad(s);
    emit(now, "unejected", pools_[s.pool].name, s.instance);
    healthImproved(now);
  }
}

}  // namespace cutover::switcher
