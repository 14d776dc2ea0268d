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
#include "metrics/windows.hpp"
#include "sim/core/time.hpp"

namespace cutover {

struct OutcomeCounts {
  std::array<std::uint64_t, kOutcomeCount> n{};
  void add(Outcome o) { ++n[static_cast<std::size_t>(o)]; }
  std::uint64_t of(Outcome o) const { return n[static_cast<std::size_t>(o)]; }
  std::uint64_t total() const;
  std::uint64_t dropped() const;
};

struct LatencySummary {
  std::uint64_t count = 0;  // requests a service answered (ok, app_error); 0: every figure is absent
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

// Send lateness: how long after its intended time each request was written.
struct LatenessSummary {
  std::uint64_t count = 0;        // requests sent
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::uint64_t late = 0;         // sent more than 10 ms late
  double late_fraction = 0;       // late / count (0 when nothing was sent)
};

// One time bucket of a run: the requests whose intended send time falls in
// [t_s, t_s + width), counted when they have an outcome.
struct TimeBucket {
  double t_s = 0;                                    // bucket start, seconds since t=0
  OutcomeCounts outcomes;
  std::map<std::string, OutcomeCounts> by_version;   // "unknown" when unattributed
  std::uint64_t responses = 0;  // complete responses (the latency sample)
  double p50_ms = 0, p99_ms = 0;  // intended -> complete response (exact, nearest rank)
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
  // Latency from the intended send time to the outcome, per outcome word
  // (only outcomes that occurred); for failures it is the time to failure.
  std::map<std::string, LatencySummary> latency_by_outcome;
  LatenessSummary lateness;
  double bucket_width_s = 0.1;
  std::vector<TimeBucket> series;  // consecutive buckets from t=0 (empty ones included)
  WorstWindows worst_window;       // p90/p99 and dropped rate "in any 1 s window"
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

// One expectation of the scenario's `expect:` block as judged (for junit.xml).
struct ExpectationCheck {
  std::string name;      // the key under expect: (dropped, final_active, p99, ...)
  bool passed = false;
  std::string measured;  // "329", "blue", "12.5 ms"; "" when not measured
  std::string expected;  // "<= 0", "green"
  std::string message;   // the failure text of verdict.failures, "" when it held
};

// One dropped request (metrics/dropped_requests.hpp builds them).
struct DroppedRequest {
  std::uint64_t request_id = 0;
  double intended_s = 0;  // seconds since t=0
  double done_s = 0;      // when its outcome was known
  std::string outcome;    // switch_error | reset | refused | timeout
  std::string version;    // "" when unattributed
  std::string instance;   // "" when unknown
  std::uint32_t connection_id = 0;
  std::uint32_t connection_reuse = 0;  // requests sent before it on its connection
  std::string cause_class;
  std::string cause;
};

// The first N dropped requests listed in report.json (counts by cause cover all).
inline constexpr std::size_t kDroppedListLimit = 100;

struct Verdict {
  bool valid = true;
  bool passed = false;
  std::vector<std::string> invalid_reasons;  // why the run does not count
  std::vector<std::string> failures;         // expectations that did not hold
  std::vector<ExpectationCheck> checks;      // one per expect: key, held or not (for junit.xml)
};

// The load generator's own cost (live mode): CPU of its client threads.
struct LoadGeneratorInfo {
  double cpu_s = 0;              // user + system, all client threads
  double wall_s = 0;             // the longest client thread
  double cpu_pct_of_core = 0;    // cpu_s / wall_s, in % of one core
  std::size_t peak_connections = 0;
  std::uint64_t connections_opened = 0;
};

struct RunResult {
  std::string scenario;
  std::string scenario_file;
  std::string mode = "live";
  std::uint64_t seed = 0;
  double duration_s = 0;
  double time_scale = 1.0;  // --time-scale the scenario was loaded with
  LoadGeneratorInfo load_generator;
  std::vector<DroppedRequest> dropped_first;  // the first kDroppedListLimit drops, with causes
  std::string started_utc;  // wall-clock start, ISO 8601 (for humans only)
  RunSummary summary;
  std::map<std::string, double> measures;  // switch_latency_ms, drain_time_ms, ...
  // Drop-cause attribution (metrics/drop_causes.hpp): counts by cause class
  // and by cause string, every dropped request counted once.
  std::map<std::string, std::uint64_t> dropped_by_class;
  std::map<std::string, std::uint64_t> dropped_by_cause;
  std::vector<TimedEvent> events;
  std::vector<InstanceInfo> instances;
  std::string final_active;
  Verdict verdict;
};

struct SummaryOptions {
  std::uint64_t intended = 0;   // requests the load asked for
  double length_s = 0;          // load length, for the achieved rate
  // t=0 on the records' clock (ns); unset: the earliest intended time.
  std::optional<std::int64_t> t0_ns;
  Duration bucket = std::chrono::milliseconds(100);
  std::size_t max_buckets = 36'000;  // an hour of 100 ms buckets; later records go in the last
  // worst_window: windows of this width over [t0, t0 + span) (span 0: length_s).
  Duration window = std::chrono::seconds(1);
  Duration span{0};
};

// Counts, latencies, lateness and the time series of a run's request
// records. `names` is the name table of RequestRecord::version. Latency
// percentiles come from HDR histograms (< 0.05% relative error); bucket
// percentiles are exact. Records before t0 are counted in the first bucket.
RunSummary summarize(const std::vector<RequestRecord>& records, const std::vector<std::string>& names,
                     const SummaryOptions& options);
// The same with t0 = the earliest intended time and 100 ms buckets.
RunSummary summarize(const std::vector<RequestRecord>& records, const std::vector<std::string>& names,
                     std::uint64_t intended, double length_s);

}  // namespace cutover
