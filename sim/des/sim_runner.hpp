#pragma once
// The sim shell: a scenario run in virtual time by a single-threaded
// discrete-event engine (docs/simulation.md). Same RunResult as runLive, so
// report.json, verdicts and measures are shared. Pure: no clock reads, no
// threads, no sockets; the seed (scenario.seed unless overridden) decides
// everything, so the same seed and scenario give the same result.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metrics/drop_causes.hpp"
#include "metrics/request_record.hpp"
#include "metrics/run_result.hpp"
#include "sim/core/time.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::des {

// The modeled network (all on one loopback-like link, fixed delays).
struct NetworkModel {
  Duration connect = std::chrono::microseconds(60);  // TCP handshake until the first byte can go
  Duration hop = std::chrono::microseconds(40);      // one message, one direction, one hop
};

struct SimOptions {
  std::optional<std::uint64_t> seed;  // overrides scenario.seed
  NetworkModel network;
  // Bounds (TIGER_STYLE): a run that hits one is reported invalid.
  std::uint64_t max_events = 4'000'000'000ULL;       // simulated steps
  Duration max_overrun = std::chrono::minutes(10);   // virtual time past the scenario's duration
  std::size_t max_requests = scenario::kMaxRequests;  // records kept (56 B each)
  // Set (to the signal number) by a SIGINT/SIGTERM handler: the run stops
  // within a few thousand steps and is reported invalid ("interrupted").
  const std::atomic<int>* interrupted = nullptr;
};

// Everything a simulated run recorded, before measuring: the same inputs the
// live runner measures (records on the virtual clock, ns; events and instances
// in seconds since t=0).
struct SimTrace {
  std::vector<RequestRecord> records;  // per load block in intended order, blocks one after another
  std::vector<std::string> names;      // name table of RequestRecord::version/instance
  std::vector<TimedEvent> events;      // sorted by time
  std::vector<InstanceInfo> instances;
  std::vector<ServiceRequestLog> service_log;  // requests a service saw, for the dropped ones only
  std::int64_t t0_ns = 0;              // t=0 on the records' clock
  std::uint64_t intended = 0;
  double load_length_s = 0;
  std::string final_active;
  std::vector<std::string> invalid;    // reasons the run does not count
  std::uint64_t events_processed = 0;  // simulated steps
  std::uint64_t switcher_retries = 0;  // upstream attempts after the first (as the live proxy counts them)
  std::size_t peak_connections = 0;    // client connections open at once, most, summed over the load blocks
  std::uint64_t connections_opened = 0;  // client connections opened in all
  double virtual_end_s = 0;            // seconds since t=0 when the run ended
};

// The engine alone: runs the scenario in virtual time and returns its trace.
SimTrace simulate(const scenario::Scenario& scenario, const SimOptions& options = {});

// simulate() then the shared measuring (summary, validity, measures, drop
// causes): the same RunResult shape as runner::runLive, with mode "sim".
RunResult runSim(const scenario::Scenario& scenario, const SimOptions& options = {});

// The measuring step alone (what runLive does after its run); exposed so a
// caller can measure a trace again.
RunResult measureTrace(const scenario::Scenario& scenario, SimTrace trace, std::uint64_t seed);

}  // namespace cutover::des
