#pragma once
// The switcher of a live run, whichever it is: the built-in proxy
// (switcher::Proxy), or a real nginx or HAProxy that cutover configures and
// runs as its own child process. The run loop talks only to this interface.
// No Boost here.
//
// Who decides what, per kind:
//   builtin  switcher::Core decides everything (health checks, outliers,
//            readiness gate, automatic rollback); see sim/switcher/core.hpp.
//   nginx    cutover decides: a backend joins its pool's upstream once the
//            runner's readiness probe saw /health 200, leaves it on
//            removeBackend (scale down); switch and rollback rewrite the
//            `proxy_pass` target and send SIGHUP; nginx's graceful worker
//            shutdown is the drain ("drained" once the old workers exited).
//            Automatic rollback triggers are not evaluated (docs/real-switchers.md).
//   haproxy  HAProxy's own health checks (option httpchk on the pool's
//            health path); switch and rollback through the runtime API on a
//            UNIX stats socket: `set map` picks the pool's backend per request,
//            servers are added with `set server addr` + `state ready` and
//            removed with `state maint` (requests in flight finish).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/switcher/core.hpp"
#include "sim/switcher/proxy.hpp"
#include "sim/switcher/events.hpp"

namespace cutover::runner {

class Supervisor;
struct ChildExit;

class SwitcherDriver {
 public:
  virtual ~SwitcherDriver() = default;
  // "builtin", "nginx", "haproxy"
  virtual std::string kind() const = 0;
  // Starts and waits (bounded) until it accepts connections.
  virtual bool start(std::string* error) = 0;
  virtual std::uint16_t port() const = 0;
  // The process that serves (for messages); the runner's own pid for builtin.
  virtual pid_t pid() const = 0;
  // The runner already saw the instance ready.
  // A pool the scenario starts, known before any instance is ready (the
  // built-in switcher's readiness gate can then wait for it).
  virtual void addPool(const std::string& /*pool*/, std::size_t /*expected*/) {}
  // The built-in proxy, for --metrics-port; nullptr for nginx and HAProxy.
  virtual switcher::Proxy* builtinProxy() { return nullptr; }
  virtual void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port) = 0;
  virtual void removeBackend(const std::string& instance) = 0;
  virtual switcher::SwitchResult switchTo(const std::string& pool) = 0;
  virtual switcher::SwitchResult rollback() = 0;
  virtual std::string activePool() const = 0;
  virtual std::vector<switcher::BackendView> backends() const = 0;
  // Events (switched, drained, rollback, ...) since the last call, oldest first.
  virtual std::vector<switcher::Event> takeEvents() = 0;
  // Called from the run loop about every 10 ms (watch drains, processes).
  virtual void tick(Instant /*now*/) {}
  // A child of the supervisor exited: true when it was this switcher's
  // process (the run cannot go on: the caller marks it invalid).
  virtual bool onChildExit(const ChildExit& /*exit*/) { return false; }
  // Upstream attempts after the first, so far (retries of attempts that
  // failed before any response byte); nullopt when this switcher does not
  // tell (nginx) or cannot now. Called before stop().
  virtual std::optional<std::uint64_t> retries() { return std::nullopt; }
  virtual void stop() = 0;
};

struct SwitcherDriverOptions {
  std::string run_dir;          // config, pid, logs, sockets go to run_dir/switcher
  std::string nginx_binary = "/usr/sbin/nginx";
  std::string haproxy_binary = "/usr/sbin/haproxy";
};

// The driver for scenario.switcher.kind. Real switchers are spawned through
// `supervisor` (own process group, die with the run).
std::unique_ptr<SwitcherDriver> makeSwitcherDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                   const SwitcherDriverOptions& options);

// Whether the binary for `kind` exists and is executable (tests skip without it).
bool switcherAvailable(const std::string& kind);

}  // namespace cutover::runner
