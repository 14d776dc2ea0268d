#pragma once
// The behaviour of one fake service, as plain data parsed from a scenario.
// The same spec drives the live fake-service process (server.cpp) and, later,
// the simulated service of the discrete-event engine. Defaults are listed in
// docs/scenario-reference.md.
#include <cstdint>
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
};

}  // namespace cutover::service
