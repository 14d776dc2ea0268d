#pragma once
// The behaviour of one fake service, as plain data parsed from a scenario.
// The same spec drives the live fake-service process (server.cpp) and, later,
// the simulated service of the discrete-event engine. Defaults are listed in
// docs/scenario-reference.md.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/time.hpp"

namespace cutover::service {

using namespace std::chrono_literals;

enum class LatencyDistribution { fixed, uniform, normal, lognormal, empirical };

struct LatencySpec {
  LatencyDistribution distribution = LatencyDistribution::lognormal;
  Duration p50 = 2ms;        // lognormal, normal (mean)
  Duration p99 = 20ms;       // lognormal, normal
  Duration value = 2ms;      // fixed
  Duration min = 1ms;        // uniform
  Duration max = 5ms;        // uniform
  std::vector<Duration> samples;  // empirical: drawn uniformly
};

struct StartupSpec {
  Duration listen_after = 0ms;   // delay before the listener opens
  Duration ready_after = 0ms;    // delay after listening before /health turns 200
  Duration warmup = 0ms;         // after ready: service times are multiplied...
  double warmup_factor = 1.0;    // ...by this factor (cold caches)
};

// What happens to a request that finds max_in_flight requests in service.
enum class Overflow {
  reject,  // answer at once with capacity.overflow_status (503)
  refuse,  // reset the connection (RST); the listener is closed while full
  queue,   // wait in a FIFO of queue_length; when that is full, reject
};

struct CapacitySpec {
  std::size_t max_in_flight = 0;        // requests in service at once; 0: unlimited
  Overflow overflow = Overflow::reject;
  std::size_t queue_length = 128;       // queue: requests waiting for a slot
  std::uint16_t overflow_status = 503;  // reject, and queue when the queue is full
};

inline constexpr std::size_t kMaxQueueLength = 65536;

enum class HealthMode {
  healthy,   // /health follows readiness: 200 once ready, 503 while draining
  failing,   // /health always 503
  flapping,  // once ready: 200 for half of flap_period, then 503 for half, ...
  lying,     // /health always 200 (even draining) while every request fails
};

struct HealthSpec {
  HealthMode mode = HealthMode::healthy;
  Duration flap_period = 10s;
  Duration delay = 0ms;  // every /health answer waits this long (slow health)
};

// Overrides for requests whose target starts with `prefix` (first match wins).
struct PathOverride {
  std::string prefix;
  std::optional<LatencySpec> latency;
  std::optional<double> error_rate;
  std::optional<std::uint16_t> error_status;
};

enum class OnSigterm {
  graceful,   // stop accepting, fail readiness, finish in-flight, exit
  immediate,  // exit at once: in-flight connections are reset
  ignore,     // catch SIGTERM and keep serving until SIGKILL
};

struct ShutdownSpec {
  OnSigterm on_sigterm = OnSigterm::graceful;
  Duration pre_stop_delay = 0ms;   // graceful: keep accepting this long first
  Duration drain_timeout = 5s;     // graceful: give up on in-flight after this
  bool close_keepalive = true;     // graceful: "Connection: close" while draining
};

struct BehaviourSpec {
  std::string version = "v1";
  LatencySpec latency;
  double error_rate = 0.0;         // fraction of requests answered with error_status
  std::uint16_t error_status = 500;
  std::size_t response_bytes = 2;  // body size of "/" responses
  StartupSpec startup;
  ShutdownSpec shutdown;
  CapacitySpec capacity;
  HealthSpec health;
  std::vector<PathOverride> paths;  // at most kMaxPathOverrides
};

inline constexpr std::size_t kMaxPathOverrides = 64;

}  // namespace cutover::service
