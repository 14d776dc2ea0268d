#pragma once
// The built-in switcher's live shell: an HTTP/1.1 reverse proxy on
// Boost.Asio/Beast with one I/O thread. Decisions (which pool, which backend,
// switch, drain) are switcher::Core's; this class moves bytes. No Boost in
// this header: the Beast code is compiled once, in proxy.cpp.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/switcher/core.hpp"
#include "sim/switcher/events.hpp"

namespace cutover::switcher {

struct ProxyOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                               // 0: any free port
  Duration upstream_connect_timeout = std::chrono::seconds(1);
  Duration upstream_timeout = std::chrono::seconds(30);  // whole exchange
  Duration client_idle_timeout = std::chrono::seconds(60);
  std::size_t max_client_connections = 4096;
  std::uint64_t seed = 0x5EED;  // of the Core's Rng (health check jitter)
  // Routing policy, mode (l7/l4), panic, retry, drain timeout, readiness gate
  // (and its wait), health checks, outliers, rollback: see core.hpp.
  CoreOptions core{};
};

// SwitchResult is declared in events.hpp (shared with switcher::Core).

// Counters of the proxy, readable from any thread.
struct ProxyStats {
  std::uint64_t client_connections = 0;  // accepted
  std::uint64_t requests = 0;            // read from clients
  std::uint64_t switch_errors = 0;       // answered by the switcher itself (marked)
  std::uint64_t upstream_connects = 0;   // fresh upstream connections attempted
  std::uint64_t upstream_reuses = 0;     // requests sent on an idle kept-alive connection
  // Idempotent requests retried: after a stale idle connection (same backend,
  // fresh connection) and on another backend (core.retry).
  std::uint64_t upstream_retries = 0;
  // l4: client connections closed because their backend closed the idle
  // path under them (a draining server ending keep-alive connections).
  std::uint64_t upstream_closed_idle = 0;
};

// One finished client exchange, as the proxy saw it (for metrics).
struct ExchangeInfo {
  std::string pool;      // the pool of the backend that answered or was tried; "" if none
  std::string instance;  // "" when no backend was chosen
  std::string version;   // the backend's x-cutover-version answer header; "" if none
  unsigned status = 0;   // status sent to the client
  // "ok" (a response relayed from a backend, any status), or the switcher's
  // own error: "no_backend", "connect_failed", "reset", "timeout".
  std::string outcome;
  Duration latency{};    // request read -> response written
  std::uint32_t retries = 0;  // upstream attempts after the first
};

// Hooks for the admin API and Prometheus metrics. Called on the proxy's I/O
// thread: implementations must be quick and thread-safe against readers on
// other threads. Every Event given to onEvent is also kept for takeEvents().
class ProxyObserver {
 public:
  virtual ~ProxyObserver() = default;
  virtual void onExchange(const ExchangeInfo& exchange) = 0;
  virtual void onEvent(const Event& event) = 0;
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);
  ~Proxy();  // stops
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Set before start(); not owned; must outlive the proxy's I/O thread.
  void setObserver(ProxyObserver* observer);

  // Binds and starts the I/O thread. Returns false (with a message) on failure.
  bool start(std::string* error);
  // Stops accepting, closes every connection, joins the I/O thread.
  void stop();
  std::uint16_t port() const;

  // Control, safe to call from any thread (posted to the I/O thread).
  // Starts healthy as core.health_check.start_healthy says, or as `healthy`
  // says (true when the caller already saw it ready). With health checks
  // enabled the proxy GETs core.health_check.path on it from then on.
  // Makes `pool` known with no backend yet (Core::addPool): a switch to it
  // is then judged by the readiness gate (and may wait) instead of refused
  // as an unknown pool.
  void addPool(const std::string& pool, std::size_t expected = 0);
  void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port);
  void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port, bool healthy);
  void removeBackend(const std::string& instance);
  // No pool is active at first (requests get a marked 503). switchTo makes
  // `pool` active; refused when the pool has no backend or the readiness gate
  // does not hold (pending=true when core.readiness.wait > 0: the switch then
  // happens when the gate holds, or is refused at the deadline; see the
  // events). Atomic: every request routed after this returns goes to `pool`
  // (in l4 mode: every new connection); the old pool drains.
  SwitchResult switchTo(const std::string& pool);
  // Back to the pool active before the last switch (Core::rollback).
  SwitchResult rollback();
  std::string activePool() const;
  // Live backends with health, ejection and in-flight counts.
  std::vector<BackendView> backends() const;
  // Events (switched, drained, ...) since the last call, oldest first.
  std::vector<Event> takeEvents();
  ProxyStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cutover::switcher
