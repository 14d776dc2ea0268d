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
//   nextDeadline()        -> the earliest drain deadline: the one timer the
//                            shell arms; it calls onTimeout(now) when it fires.
//
// Policies: round robin, and least outstanding requests (the default: it
// keeps a slow backend from collecting a queue); least outstanding breaks
// ties in round robin order, starting after the backend picked last.
//
// Backend handles (BackendId) are indexes into a slot table. A removed
// backend keeps its slot while requests are in flight on it, so
// onRequestDone stays valid; the slot is reused only once it is idle.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/switcher/events.hpp"

namespace cutover::switcher {

using BackendId = std::uint32_t;
inline constexpr BackendId kNoBackend = 0xFFFFFFFFu;

enum class Policy : std::uint8_t { round_robin, least_outstanding };

// Readiness gate of switchTo: how many healthy backends the target pool needs.
struct ReadinessGate {
  enum class Kind : std::uint8_t { at_least, all };
  Kind kind = Kind::at_least;
  std::size_t count = 1;  // for at_least; `all` also needs at least one backend
};

struct CoreOptions {
  Policy policy = Policy::least_outstanding;
  Duration drain_timeout = std::chrono::seconds(30);
  ReadinessGate readiness{};
  std::size_t max_backends = 4096;  // slots, live and draining-removed
  std::size_t max_events = 65536;   // queued until taken; the oldest are dropped past it
};

enum class RouteError : std::uint8_t { none, no_active_pool, no_backend };
std::string_view routeErrorName(RouteError e);

struct Route {
  BackendId backend = kNoBackend;
  std::uint16_t port = 0;
  RouteError error = RouteError::none;
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
};

class Core {
 public:
  explicit Core(CoreOptions options = {});

  // Adds `instance` to `pool` (creating the pool). An instance already known
  // is replaced (removed first). False when the slot table is full.
  bool addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                  Instant now);
  // False when the instance is unknown. In-flight requests on it still end
  // with onRequestDone.
  bool removeBackend(const std::string& instance, Instant now);
  // Health as decided by a checker; unhealthy backends get no new requests.
  bool setHealthy(const std::string& instance, bool healthy, Instant now);

  // `connection` is for connection-affine (L4) routing later; unused by L7.
  Route route(Instant now, std::uint64_t connection = 0);
  void onRequestDone(BackendId backend, Instant now, Upstream outcome);

  SwitchResult switchTo(const std::string& pool, Instant now);

  std::optional<Instant> nextDeadline() const;
  void onTimeout(Instant now);

  std::optional<Event> pollEvent();
  std::vector<Event> takeEvents();
  std::uint64_t droppedEvents() const { return dropped_events_; }

  // Introspection (for the shell, tests and reports).
  const std::string& activePool() const;  // "" when none
  bool hasPool(const std::string& pool) const;
  bool isDraining(const std::string& pool) const;
  std::uint32_t poolInFlight(const std::string& pool) const;
  std::optional<BackendView> backend(BackendId id) const;
  std::optional<BackendId> findBackend(const std::string& instance) const;

 private:
  using PoolIndex = std::uint32_t;
  static constexpr PoolIndex kNoPool = 0xFFFFFFFFu;

  struct Slot {
    std::string instance;
    PoolIndex pool = kNoPool;
    std::uint16_t port = 0;
    std::uint32_t in_flight = 0;
    bool used = false;
    bool removed = false;  // out of its pool, waiting for in-flight to reach 0
    bool healthy = true;
  };
  struct Pool {
    std::string name;
    std::vector<BackendId> members;  // routable candidates, in insertion order
    std::size_t cursor = 0;          // round robin position in members
    std::uint32_t in_flight = 0;
    bool draining = false;
    Instant drain_started{};
    Instant drain_deadline{};
  };

  PoolIndex poolIndex(const std::string& name) const;
  PoolIndex ensurePool(const std::string& name);
  BackendId allocSlot();
  void releaseIfIdle(BackendId id);
  std::size_t healthyCount(const Pool& pool) const;
  std::optional<std::string> readinessFailure(const Pool& pool) const;
  BackendId pickRoundRobin(Pool& pool);
  BackendId pickLeastOutstanding(Pool& pool);
  void startDrain(PoolIndex index, Instant now);
  void emit(Instant at, std::string kind, std::string pool, std::string detail);

  CoreOptions options_;
  std::vector<Slot> slots_;
  std::vector<BackendId> free_slots_;
  std::vector<Pool> pools_;
  std::unordered_map<std::string, PoolIndex> pool_by_name_;
  std::unordered_map<std::string, BackendId> backend_by_instance_;
  PoolIndex active_ = kNoPool;
  std::deque<Event> events_;
  std::uint64_t dropped_events_ = 0;
};

}  // namespace cutover::switcher
