#pragma once
// What a run produced, whatever ran it (live or simulated): the numbers the
// reports print and the verdict checks. Times are seconds since the run's
// t=0 (the moment the load started), on the shared monotonic clock.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"

namespace cutover {

struct OutcomeCounts {
  std::array<std::uint64_t, kOutcomeCount> n{};
  void add(Outcome o) { ++n[static_cast<std::size_t>(o)]; }
  std::uint64_t of(Outcome o) const { return n[static_cast<std::size_t>(o)]; }
  std::uint64_t total() const;
  std::uint64_t dropped() const;
};

struct LatencySummary {
  std::uint64_t count = 0;  // requests with a complete response
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

struct RunSummary {
  std::uint64_t intended = 0;  // requests the load asked for
  std::uint64_t sent = 0;      // requests actually written to a socket
  OutcomeCounts outcomes;      // of every intended request that has an outcome
  std::map<std::string, OutcomeCounts> by_version;  // attributed requests; "unknown" otherwise
  LatencySummary latency;      // from intended send time to complete response
  std::map<std::string, LatencySummary> latency_by_version;
  double achieved_rate_per_s = 0;
  double max_send_lateness_ms = 0;
  std::uint64_t late_sends = 0;  // sent more than 10 ms after the intended time
};

struct TimedEvent {
  double t_s = 0;          // seconds since t=0
  std::string source;      // timeline | switcher | service | runner
  std::string kind;        // start, switch, switched, drained, signal, exited, ready, ...
  std::string target;      // pool or instance
  std::string detail;
};

struct InstanceInfo {
  std::string id;         // blue-1
  std::string pool;       // blue
  std::string version;    // v1
  unsigned short port = 0;
  int pid = 0;
  std::optional<double> ready_s;   // when /health first answered 200
  std::optional<double> exited_s;
  std::string exit;                // "code 0", "signal 9", "" while alive
};

struct Verdict {
  bool valid = true;
  bool passed = false;
  std::vector<std::string> invalid_reasons;  // why the run does not count
  std::vector<std::string> failures;         // expectations that did not hold
};

struct RunResult {
  std::string scenario;
  std::string scenario_file;
  std::string mode = "live";
  std::uint64_t seed = 0;
  double duration_s = 0;
  std::string started_utc;  // wall-clock start, ISO 8601 (for humans only)
  RunSummary summary;
  std::map<std::string, double> measures;  // switch_latency_ms, drain_time_ms, ...
  std::vector<TimedEvent> events;
  std::vector<InstanceInfo> instances;
  std::string final_active;
  Verdict verdict;
};

// Counts, latencies and lateness of a run's request records. `names` is the
// name table of RequestRecord::version; t0_ns/length_s give the achieved rate.
RunSummary summarize(const std::vector<RequestRecord>& records, const std::vector<std::string>& names,
                     std::uint64_t intended, double length_s);

}  // namespace cutover
