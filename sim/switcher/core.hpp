#pragma once
// switcher::Core: the decisions of the traffic switcher, with no sockets, no
// threads and no clock reads (sans-IO, like quinn-proto). The live proxy and
// the simulator both drive it.
//
// Theory of operation
// -------------------
// A *pool* is a named set of *backends* (instance id, port, in-flight count,
// health). Pools are created by the first addBackend naming them and are
// never forgotten, so "empty" and "unknown" stay distinct reasons.
// At most one pool is *active*; at first none is.
//
// Rules:
//   route(now)            -> a backend of the active pool, chosen by the
//                            policy among its healthy backends, and its
//                            in-flight count goes up by one; or no route,
//                            with the reason (no_active_pool, no_backend).
//   onRequestDone(b, ...) -> b's in-flight goes down by one. Every route
//                            that returned a backend must be matched by
//                            exactly one onRequestDone.
//   switchTo(p, now)      -> switch_requested; then switch_refused (unknown
//                            pool, or the readiness gate does not hold) or,
//                            atomically, p becomes active and the previously
//                            active pool starts draining: switched. Every
//                            route after the call picks from p.
//   draining pool q       -> when q's in-flight reaches 0: drained (detail
//                            has the drain time); if drain_timeout passes
//                            first: drain_timeout, and q stops draining.
//                            A pool made active again stops draining
//                            (detail of switched says so).
//   nextDeadline()        -> the earliest of: a drain deadline, a health
//                            check due, an ejection ending, the end of the
//                            bake window, the end of keep_previous_for. The
//                            one timer the shell arms; it calls
//                            onTimeout(now) when it fires, then drains
//                            pollAction() and re-reads nextDeadline().
//
// Health (active checks; see HealthCheckOptions for the defaults):
//   a backend starts healthy or unhealthy (addBackend's `healthy`, else
//   health_check.start_healthy). With checks enabled, onTimeout queues a
//   StartHealthCheck action for every backend whose check is due (at most one
//   in flight per backend; the first one `jitter` after it was added, each
//   next `interval` plus up to `jitter` after the last result). The shell runs
//   it (GET path, bounded by timeout) and calls onHealthCheckResult.
//   healthy_threshold passes in a row make an unhealthy backend healthy,
//   unhealthy_threshold failures in a row make a healthy one unhealthy:
//   health_changed. Results of a check the Core no longer waits for (the
//   backend was removed or replaced) are ignored.
//
// Outlier ejection (passive, from onRequestDone): outlier.consecutive_5xx
//   failed exchanges in a row (a 5xx response, connect failure, reset or
//   timeout) eject the backend for ejection * (times ejected), capped at
//   max_ejection: ejected, then unejected when it ends. No ejection when it
//   would take more than max_ejection_percent of the pool out (one backend
//   may always be ejected). A backend gets requests when healthy and not
//   ejected.
//
// Rollback (see RollbackOptions): a switch from pool p to q starts a bake
//   window; during it every finished request on q (and every no_backend
//   answer while q is active) is a sample. The first trigger that holds
//   (error rate over a window with a minimum count, a latency percentile over
//   a window, healthy backends of q below a floor) rolls back to p when p
//   still has a healthy backend and keep_previous_for has not passed since
//   the switch: rollback, and q drains. Otherwise rollback_impossible. The
//   bake ends with bake_passed; keep_previous_for ends with previous_released
//   (the runner may stop p then). rollback(now) does the same by hand.
//
// Policies: round robin, and least outstanding requests (the default: it
// keeps a slow backend from collecting a queue); least outstanding breaks
// ties in round robin order, starting after the backend picked last.
//
// Mode (CoreOptions::mode): l7 (default) routes every request on its own.
//   l4 pins a client connection (route's `connection`, nonzero, chosen by the
//   shell) to the backend picked for its first request, as kube-proxy and
//   conntrack do: every later request of that connection goes there, even
//   after a switch, whatever its health (conntrack does not know it). The pin
//   holds one in-flight count on the backend and its pool until
//   closeConnection, so an old pool is drained when its pinned connections
//   close (or at drain_timeout). A pinned backend that was removed (or
//   replaced) answers pinned_backend_gone, like a stale conntrack entry (the
//   shell: a marked 502); a dead one fails at connect. At most max_pins pins;
//   past it a connection is routed per request. No retry on another backend.
//
// Panic (CoreOptions::panic, Envoy's panic routing): when the active pool
//   has backends but none routable, route among all of them anyway: panic
//   (once, when it starts); panic_ended when the active pool has a routable
//   backend again (or another pool becomes active). Off: no_backend (503).
//
// Readiness wait (ReadinessGate::wait): 0 refuses a switch at once when the
//   gate does not hold. Above 0, switchTo answers ok=false, pending=true:
//   switch_pending; the switch happens (switched) the moment the gate holds
//   (a health change, an ejection ending, a backend added), or at
//   the deadline switch_refused ("readiness gate still not met after <wait>").
//   A later switchTo or rollback cancels a pending switch: switch_refused
//   ("cancelled by ..."). So every switch_requested ends in exactly one
//   switched or switch_refused.
//
// Retry (CoreOptions::retry): mayRetry says whether a request whose upstream
//   connect failed, or that was reset before any response byte, is retried:
//   enabled, l7, fewer than `attempts` retries so far, and either the
//   request never left (the connect failed: any method, as nginx's
//   proxy_next_upstream and HAProxy's conn-failure retry do) or its method
//   is idempotent (GET HEAD OPTIONS PUT DELETE TRACE: a POST the backend
//   may have acted on is not sent twice). routeRetry then picks another
//   routable backend of the same pool as the one tried (no panic); the shell
//   reports the failed attempt with onRequestDone after routeRetry.
//   Before that, mayRetryStale: a request sent on a reused idle upstream
//   connection that failed before any response byte (not a timeout, and
//   before the exchange's deadline) is sent once more on a fresh connection
//   to the same backend when its method is idempotent: the keep-alive race,
//   where the server closed the idle connection as the request went out.
//   It is every mode's, with or without switcher.retry, and not a Core call
//   (onRequestDone is not told of it): the same backend gets the request.
//
// Backend handles (BackendId) are indexes into a slot table. A removed
// backend keeps its slot while requests are in flight on it, so
// onRequestDone stays valid; the slot is reused only once it is idle.
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <variant>

#include "sim/core/rng.hpp"
#include "sim/core/time.hpp"
#include "sim/switcher/events.hpp"
#include "sim/switcher/least_loaded.hpp"

namespace cutover::switcher {

using BackendId = std::uint32_t;
inline constexpr BackendId kNoBackend = 0xFFFFFFFFu;

enum class Policy : std::uint8_t { round_robin, least_outstanding };

// Readiness gate of switchTo: how many healthy backends the target pool needs.
struct ReadinessGate {
  enum class Kind : std::uint8_t { at_least, all };
  Kind kind = Kind::at_least;
  std::size_t count = 1;  // for at_least; 0: no gate (a switch to an empty pool happens); `all` also needs one
  // 0: refuse at once when the gate does not hold. Above 0: switch_pending, and
  // switch the moment it holds, or switch_refused at this deadline.
  Duration wait{0};
};

// l7: per-request routing. l4: a client connection is pinned to one backend.
enum class Mode : std::uint8_t { l7, l4 };
std::string_view modeName(Mode m);

// Retry on another backend of the same pool (scenario key switcher.retry).
struct RetryOptions {
  bool enabled = true;
  std::uint32_t attempts = 1;  // retries per request on another backend
};

// Active health checks (scenario key switcher.health_check). Our defaults are
// faster than HAProxy's (inter 2 s, rise 2, fall 3) because lab runs last
// seconds, with the same rise/fall: a check every 1 s plus up to 100 ms of
// jitter, 500 ms timeout, 2 passes to become healthy, 3 failures to become
// unhealthy. Off unless enabled; then backends keep the health they were
// added with (or setHealthy gives them).
struct HealthCheckOptions {
  bool enabled = false;
  std::string path = "/health";
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::milliseconds(500);
  Duration jitter = std::chrono::milliseconds(100);  // uniform in [0, jitter), from the Rng
  std::uint32_t healthy_threshold = 2;
  std::uint32_t unhealthy_threshold = 3;
  bool start_healthy = true;  // of a backend added without an explicit state
};

// Passive outlier ejection (scenario key switcher.outlier), Envoy-like:
// consecutive failures (5xx response, connect failure, reset, timeout) eject a
// backend for ejection * n (n = times ejected so far, including this one),
// capped at max_ejection. Envoy's defaults are 5, 30 s, 300 s and 10 %; ours
// keep 5 and use 1 s / 30 s / 50 % to suit short runs of small pools.
struct OutlierOptions {
  std::uint32_t consecutive_5xx = 0;  // 0: off
  Duration ejection = std::chrono::seconds(1);
  Duration max_ejection = std::chrono::seconds(30);
  double max_ejection_percent = 50.0;  // of the pool's backends; one may always be ejected
};

// One rollback trigger (an entry of scenario key switcher.rollback.on).
struct RollbackTrigger {
  enum class Kind : std::uint8_t { error_rate, latency, healthy_below };
  Kind kind = Kind::error_rate;
  Duration window = std::chrono::seconds(1);
  std::size_t min_requests = 20;  // in the window, for error_rate and latency
  double error_rate = 0.05;       // error_rate: fires when errors / requests > this
  double percentile = 0.99;       // latency: fires when this quantile > max_latency
  Duration max_latency = std::chrono::milliseconds(100);
  std::size_t healthy_below = 1;  // healthy_below: fires when healthy backends < this

  static RollbackTrigger errorRate(double above, Duration window, std::size_t min_requests);
  static RollbackTrigger latency(double percentile, Duration above, Duration window,
                                 std::size_t min_requests = 1);
  static RollbackTrigger healthyBelow(std::size_t floor);
};

// Automatic rollback after a switch (scenario key switcher.rollback). Off when
// `on` is empty (manual rollback() works either way).
struct RollbackOptions {
  std::vector<RollbackTrigger> on;
  Duration bake = std::chrono::seconds(60);  // how long after a switch the new pool is watched
  Duration keep_previous_for = std::chrono::seconds(30);  // like Argo's scaleDownDelaySeconds
  std::size_t max_samples = 1u << 20;  // per window; the oldest are dropped past it
  Duration latency_eval_every = std::chrono::milliseconds(10);  // percentile recomputed at most this often
};

struct CoreOptions {
  Policy policy = Policy::least_outstanding;
  Mode mode = Mode::l7;
  bool panic = false;  // route among all backends of the active pool when none is routable
  RetryOptions retry{};
  Duration drain_timeout = std::chrono::seconds(30);
  ReadinessGate readiness{};
  HealthCheckOptions health_check{};
  OutlierOptions outlier{};
  RollbackOptions rollback{};
  std::size_t max_backends = 4096;  // slots, live and draining-removed
  std::size_t max_events = 65536;   // queued until taken; the oldest are dropped past it
  std::size_t max_pins = 65536;     // l4: pinned connections; past it, routed per request
};

enum class RouteError : std::uint8_t { none, no_active_pool, no_backend, pinned_backend_gone };
std::string_view routeErrorName(RouteError e);

struct Route {
  BackendId backend = kNoBackend;
  std::uint16_t port = 0;
  RouteError error = RouteError::none;
  // The pool it routed into (Core::poolName), read before a no_backend
  // answer could roll the switch back: the pool that had no backend.
  std::uint32_t pool = 0xFFFFFFFFu;
  explicit operator bool() const { return error == RouteError::none; }
};

// How an upstream exchange ended, as the shell saw it.
enum class Upstream : std::uint8_t { response, server_error, connect_failed, reset, timeout, cancelled };

struct BackendView {
  std::string pool;
  std::string instance;
  std::uint16_t port = 0;
  std::uint32_t in_flight = 0;
  bool healthy = true;
  bool ejected = false;
  std::uint32_t times_ejected = 0;
};

// Actions for the shell, drained with pollAction().
struct StartHealthCheck {
  BackendId backend = kNoBackend;
  std::uint64_t check = 0;  // pass back to onHealthCheckResult
  std::uint16_t port = 0;
  std::string instance;
};
using Action = std::variant<StartHealthCheck>;

class RollbackWatch;

class Core {
 public:
  explicit Core(CoreOptions options = {}, Rng rng = Rng(0x5EED));
  ~Core();
  Core(Core&&) noexcept;
  Core& operator=(Core&&) noexcept;

  // Adds `instance` to `pool` (creating the pool). An instance already known
  // is replaced (removed first). False when the slot table is full.
  // It starts healthy or not as health_check.start_healthy says, or as
  // `healthy` says (e.g. true when the runner already saw it ready).
  // Makes `pool` known with no backend (idempotent). A switch to a known but
  // empty pool is judged by the readiness gate (and may wait for it); to an
  // unknown one it is refused at once. `expected` (when above 0) is how many
  // backends the pool is meant to have (its declared instances, updated on
  // scale): the `all` gate waits for that many, not only for those added so
  // far, so a pool whose instances become ready one by one is not "all
  // healthy" at its first.
  void addPool(const std::string& pool, std::size_t expected = 0);
  bool addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                  Instant now);
  bool addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                  Instant now, bool healthy);
  // False when the instance is unknown. In-flight requests on it still end
  // with onRequestDone.
  bool removeBackend(const std::string& instance, Instant now);
  // Health as decided by a checker; unhealthy backends get no new requests.
  bool setHealthy(const std::string& instance, bool healthy, Instant now);

  // `connection` (nonzero) identifies the client connection for l4 pinning;
  // l7 ignores it. A route that returned a backend needs one onRequestDone.
  Route route(Instant now, std::uint64_t connection = 0);
  // Another routable backend of `tried`'s pool (not `tried`), for a retry;
  // no_backend when there is none.
  Route routeRetry(Instant now, BackendId tried);
  // Whether a failed attempt (connect failed, or reset before any response
  // byte) of a `method` request that had `retries_done` retries is retried;
  // `sent`: the request was written to the backend (false: the connect failed).
  bool mayRetry(std::string_view method, std::uint32_t retries_done, bool sent) const;
  // What the shell knows of a failed upstream attempt, for mayRetryStale.
  struct FailedAttempt {
    bool reused = false;          // sent on a kept-alive connection taken from the idle pool
    bool stale_retried = false;   // this exchange already had its stale retry
    bool got_bytes = false;       // some response byte came back
    bool timed_out = false;       // the upstream deadline ended it
    bool past_deadline = false;   // now is at or past the exchange's deadline
  };
  static bool mayRetryStale(std::string_view method, const FailedAttempt& a);
  static bool isIdempotent(std::string_view method);  // one of kIdempotentMethods
  static constexpr std::array<std::string_view, 6> kIdempotentMethods{"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"};
  // l4: the client connection closed; its pin (if any) is released. Unknown
  // connections are ignored.
  void closeConnection(std::uint64_t connection, Instant now);
  void onRequestDone(BackendId backend, Instant now, Upstream outcome);
  // The same, with the exchange's latency for the rollback policy's latency
  // triggers (the overload without it feeds error rates only).
  void onRequestDone(BackendId backend, Instant now, Upstream outcome, Duration latency);

  SwitchResult switchTo(const std::string& pool, Instant now);
  // Back to the pool active before the last switch, if it is still kept and
  // has a healthy backend: rollback; else rollback_impossible. `reason` goes
  // into the event detail.
  SwitchResult rollback(Instant now, const std::string& reason = "manual");

  // The result of a StartHealthCheck: passed (a 2xx in time) or not; `detail`
  // says why not (e.g. "timeout", "status 503", "connect refused").
  void onHealthCheckResult(BackendId backend, std::uint64_t check, bool passed, Instant now,
                           const std::string& detail = "");
  std::optional<Action> pollAction();

  std::optional<Instant> nextDeadline() const;
  void onTimeout(Instant now);

  std::optional<Event> pollEvent();
  std::vector<Event> takeEvents();
  // Whether pollEvent() or pollAction() has something (inline: the
  // simulator asks after every request, and mostly there is nothing).
  bool hasOutput() const { return !events_.empty() || !actions_.empty(); }
  std::uint64_t droppedEvents() const { return dropped_events_; }

  // Introspection (for the shell, tests and reports).
  const std::string& activePool() const;  // "" when none
  bool hasPool(const std::string& pool) const;
  bool isDraining(const std::string& pool) const;
  std::uint32_t poolInFlight(const std::string& pool) const;
  std::optional<BackendView> backend(BackendId id) const;
  std::optional<BackendId> findBackend(const std::string& instance) const;
  std::vector<std::string> poolNames() const;  // in creation order
  const std::string& poolName(std::uint32_t pool) const;  // of Route::pool; "" when none
  std::vector<BackendView> backends() const;   // live (not removed), pool then insertion order
  std::size_t healthyCount(const std::string& pool) const;  // routable: healthy and not ejected
  const std::string& previousPool() const;  // the rollback target; "" when none
  bool baking() const { return bake_.has_value(); }
  bool panicking() const { return panic_pool_ != kNoPool; }
  const std::string& pendingPool() const;  // target of a pending switch; "" when none
  std::size_t pinnedConnections() const { return pins_.size(); }
  const CoreOptions& options() const { return options_; }

 private:
  using PoolIndex = std::uint32_t;
  static constexpr PoolIndex kNoPool = 0xFFFFFFFFu;

  struct Slot {
    std::string instance;
    PoolIndex pool = kNoPool;
    std::uint16_t port = 0;
    std::uint32_t in_flight = 0;
    std::uint32_t member_at = kNoMember;  // index in its pool's members (kNoMember: not a member)
    bool used = false;
    bool removed = false;  // out of its pool, waiting for in-flight to reach 0
    bool healthy = true;
    bool ejected = false;
    Instant ejected_until{};
    std::uint32_t times_ejected = 0;
    std::uint32_t consecutive_failures = 0;  // passive, for outlier ejection
    // Active health checks.
    std::uint64_t check = 0;  // id of the check in flight (0: none)
    Instant next_check{};
    std::uint32_t passes = 0;  // in a row
    std::uint32_t fails = 0;   // in a row
  };
  struct Pool {
    std::string name;
    std::vector<BackendId> members;  // routable candidates, in insertion order
    // Beside members, what least outstanding compares: the member's in-flight
    // count, or kUnroutable (refreshLoad), indexed by load level.
    LeastLoaded load;
    std::size_t expected = 0;        // declared size (addPool); 0: the members there are
    std::size_t cursor = 0;          // round robin position in members
    std::uint32_t in_flight = 0;
    bool draining = false;
    // Its drain_timeout passed with requests still in flight: "drained" is
    // still told when the last one ends (the drain time the design defines),
    // marked as past the timeout.
    bool drain_overdue = false;
    Instant drain_started{};
    Instant drain_deadline{};
  };

  PoolIndex poolIndex(const std::string& name) const;
  PoolIndex ensurePool(const std::string& name);
  BackendId allocSlot();
  void releaseIfIdle(BackendId id);
  std::size_t healthyCount(const Pool& pool) const;
  bool routable(const Slot& s) const { return s.healthy && !s.ejected; }
  static constexpr std::uint32_t kNoMember = 0xFFFFFFFFu;
  static constexpr std::uint32_t kUnroutable = LeastLoaded::kUnroutable;
  // Its pool's load entry after a change of in_flight, healthy or ejected
  // (kept for least outstanding only: round robin never reads it).
  void refreshLoad(const Slot& s) {
    if (s.member_at != kNoMember && options_.policy == Policy::least_outstanding)
      pools_[s.pool].load.set(s.member_at, routable(s) ? s.in_flight : kUnroutable);
  }
  void renumberMembers(Pool& pool);
  Duration jitter();
  void setSlotHealth(BackendId id, bool healthy, Instant now, const std::string& why);
  void dueHealthChecks(Instant now);
  void endEjections(Instant now);
  void done(BackendId backend, Instant now, Upstream outcome, std::optional<Duration> latency);
  void noteOutcome(BackendId id, Upstream outcome, Instant now);
  void tryEject(BackendId id, Instant now);
  void sample(PoolIndex pool, Instant now, bool error, std::optional<Duration> latency);
  void checkRollback(Instant now);
  void bakeTimers(Instant now);
  void activate(PoolIndex target, Instant now, const char* kind, std::string detail);
  void commitSwitch(PoolIndex target, Instant now, std::string detail);
  void cancelPending(Instant now, const std::string& why);
  void checkPending(Instant now);
  void pendingTimer(Instant now);
  void healthImproved(Instant now);  // a pending switch may go, a panic may end
  void updatePanic(Instant now);
  Route routeActive(Instant now);
  Route routePinned(Instant now, std::uint64_t connection);
  void take(BackendId id);
  void release(BackendId id, Instant now);
  std::optional<std::string> readinessFailure(const Pool& pool) const;
  // Among routable members (or all members when `any`), never `exclude`.
  BackendId pick(Pool& pool, BackendId exclude, bool any);
  BackendId pickRoundRobin(Pool& pool, BackendId exclude, bool any);
  BackendId pickLeastOutstanding(Pool& pool, BackendId exclude, bool any);
  BackendId pickLeastOutstandingAny(Pool& pool, BackendId exclude);
  void startDrain(PoolIndex index, Instant now);
  void emit(Instant at, std::string kind, std::string pool, std::string detail);

  CoreOptions options_;
  std::vector<Slot> slots_;
  std::vector<BackendId> free_slots_;
  std::vector<Pool> pools_;
  std::unordered_map<std::string, PoolIndex> pool_by_name_;
  std::unordered_map<std::string, BackendId> backend_by_instance_;
  PoolIndex active_ = kNoPool;
  PoolIndex previous_ = kNoPool;  // rollback target while kept
  Instant previous_until_{};
  std::optional<Instant> bake_;  // end of the bake window of active_
  std::unique_ptr<RollbackWatch> watch_;
  struct PendingSwitch {
    PoolIndex target = kNoPool;
    Instant since{};
    Instant deadline{};
  };
  std::optional<PendingSwitch> pending_;
  PoolIndex panic_pool_ = kNoPool;  // the active pool while it is in panic
  std::unordered_map<std::uint64_t, BackendId> pins_;  // l4: connection -> backend
  Rng rng_;
  std::uint64_t next_check_id_ = 1;
  std::deque<Action> actions_;
  std::deque<Event> events_;
  std::uint64_t dropped_events_ = 0;
};

}  // namespace cutover::switcher
