#pragma once
// The scenario model: what a scenario file says, validated, with units
// resolved. Plain data; the loader (loader.hpp) builds it from YAML and the
// reference (docs/scenario-reference.md) documents every key.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fake-services/spec.hpp"
#include "metrics/validity.hpp"
#include "sim/switcher/core.hpp"
#include "sim/core/time.hpp"

namespace cutover::scenario {

// The largest seed a file (or --seed) may hold: 2^63-1, what a YAML integer
// reads without loss. Runs over seeds first .. first + count - 1 (--repeat,
// explore --runs) must stay within it, or a run could not be replayed.
inline constexpr std::uint64_t kMaxSeed = 9223372036854775807ULL;
inline constexpr bool seedsFit(std::uint64_t first, std::uint64_t count) {
  return count == 0 || first <= kMaxSeed - (count - 1);
}

using namespace std::chrono_literals;

// Where a value came from, for messages: "quickstart.yaml:12:5".
struct SourceLoc {
  int line = 0;    // 1-based; 0 when unknown (defaults, --set)
  int column = 0;  // 1-based
};

struct ServiceGroup {
  std::string name;                // the pool name: blue, green, ...
  int instances = 1;
  service::BehaviourSpec behaviour;
  Duration ready_timeout = 10s;    // a started instance must answer /health 200 by then
  Duration stop_grace = 10s;       // SIGTERM, then SIGKILL after this (stop, end of run)
  // A team's own service instead of `cutover fake-service`: argv with {port}
  // and {version} replaced (docs/real-switchers.md). Empty: the fake service.
  std::vector<std::string> command;
  std::string health_path = "/health";  // readiness probe (and haproxy's check) path
  int stop_signal = 15;                  // shutdown.stop_signal: sent on stop, scale down, end of run
  std::string stop_signal_name = "SIGTERM";
  SourceLoc loc;
};

struct SwitcherSpec {
  std::string kind = "builtin";
  std::string mode = "l7";
  Duration upstream_timeout = 30s;
  switcher::CoreOptions core;  // policy, drain, readiness gate, health checks, outliers, rollback
};

// Open-loop arrival processes: constant (evenly spaced), poisson
// (exponential gaps), ramp (linear from `from` to `rate`), step (rates
// that hold from their offsets).
enum class ArrivalKind { constant, poisson, ramp, step };

struct RateStep {
  Duration at = 0s;  // offset from the block's start
  double rate_per_s = 0;
};

// open: requests on a schedule (arrivals), latency from the intended send
// time; closed: `workers` each send, wait for the answer, think, send again.
enum class LoadModel { open, closed };
// keepalive: reuse connections; new_per_request: one connection per request;
// mixed: a seeded `fresh_fraction` of requests on a fresh connection.
enum class ConnectionPolicy { keepalive, new_per_request, mixed };

struct LoadSpec {
  LoadModel model = LoadModel::open;
  int workers = 0;                     // closed
  Duration think = 0s;                 // closed: fixed, or the mean when think_exponential
  bool think_exponential = false;
  ConnectionPolicy connection_policy = ConnectionPolicy::keepalive;
  double fresh_fraction = 0.0;         // mixed
  ArrivalKind arrivals = ArrivalKind::constant;
  double rate_per_s = 100;             // constant, poisson; ramp: the final rate
  double from_per_s = 0;               // ramp: the first rate
  std::vector<RateStep> steps;         // step
  int connections = 32;
  Duration timeout = 2s;
  std::string path = "/";
  // GET, POST, PUT, DELETE or PATCH, with no body: the switcher retries a
  // request it sent only when the method is idempotent (not POST, PATCH).
  std::string method = "GET";
  Duration start = 0s;                 // offset from t=0
  std::optional<Duration> length;      // default: until the scenario's duration
  SourceLoc loc;
};

// Timeline actions. Targets are pool names ("blue") or instance ids ("blue-1").
struct StartAction { std::string pool; };
struct SwitchAction { std::string pool; };
struct SignalAction { std::string target; int signal = 15; std::string signal_name = "SIGTERM"; };
// SIGTERM, then SIGKILL after the pool's shutdown.grace_period.
struct StopAction { std::string target; };
// Control commands to the target's instances (docs/fake-service.md), e.g.
// "fault error_rate=0.5", "fault latency=+100ms", "fault hang".
struct FaultAction { std::string target; std::vector<std::string> commands; std::string text; };
struct HealAction { std::string target; };
struct RollbackAction {};  // a manual rollback through the switcher
// Sets the pool's instance count: new instances start (and join the switcher
// once ready); surplus ones (highest numbers first) leave the switcher, then
// get SIGTERM and, after the grace period, SIGKILL.
struct ScaleAction { std::string pool; int instances = 1; };

// Instances per pool: a live run starts real processes on this machine; a
// simulated one only models them (the Core holds up to 4096 backends).
inline constexpr int kMaxLiveInstances = 64;
inline constexpr int kMaxSimInstances = 1000;
inline constexpr int kMaxTotalInstances = 3000;
// Requests a run records at most (56 B each: ~11 GB): an hour at 50k/s fits.
inline constexpr std::size_t kMaxRequests = 200'000'000;
inline constexpr std::size_t kMaxLoadBlocks = 256;  // all pools at their largest (the Core holds 4096 backends)
using Action = std::variant<StartAction, SwitchAction, SignalAction, StopAction, FaultAction, HealAction,
                            RollbackAction, ScaleAction>;

// `when:` of a step: it fires once the condition holds, at or after its
// `at` (default 0s), and at most `within` after that; otherwise the run is
// invalid (the scenario did not happen as written).
//   healthy: P      every started instance of P is ready and routable
//   drained: P      the switcher reported P drained (or its drain timed out)
//   switched: P     the switcher made P active
//   rolled_back     the switcher rolled back
struct Condition {
  enum class Kind { healthy, drained, switched, rolled_back };
  Kind kind = Kind::healthy;
  std::string pool;  // "" for rolled_back
  Duration within = 30s;
  std::string text;  // as written, for messages: "drained: blue"
};

struct TimelineStep {
  Duration at = 0s;
  std::optional<Condition> when;
  Action action;
  SourceLoc loc;
  std::string key;  // its place in the file, "timeline.3" (error messages name it)
};

// "stop blue", "switch green": the action of a step, for messages.
std::string describeAction(const Action& action);

// A bound on a measured number: "< 300ms", "<= 5", "0" (meaning == 0).
enum class Compare { lt, le, eq, ge, gt };
struct Bound {
  Compare op = Compare::le;
  double value = 0;
  std::string text;  // as written, for messages
  bool holds(double measured) const;
};

// A bound on one measured quantity; values in canonical units (durations
// in ms, rates as fractions, counts as counts).
struct MeasureExpectation {
  std::string key;      // as written under expect: (p99, switch_latency, ...)
  std::string measure;  // what it reads: summary.* or a measures key
  Bound bound;
  SourceLoc loc;
};

struct Expectations {
  std::optional<Bound> dropped;
  std::optional<std::string> final_active;
  std::optional<bool> rolled_back;
  // Every service instance exited with code 0 within its grace period (none
  // was killed after it).
  std::optional<bool> clean_exit;
  std::vector<MeasureExpectation> measures;
};

// One axis of `matrix:`: a --set key and the values it takes.
struct MatrixAxis {
  std::string key;                  // as for --set: green.instances, load.0.rate
  std::vector<std::string> values;  // YAML scalars, as written
  SourceLoc loc;
};

// One candidate of `explore.faults`: a timeline action (kill, stop, signal,
// fault, heal, scale, switch, rollback) without `at`, and the bounds its
// time is drawn from.
struct ExploreFault {
  TimelineStep step;  // `at` unset (0): set per draw
  Duration from{0}, to{0};
  SourceLoc loc;
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  std::string lesson;
  std::uint64_t seed = 1;
  double time_scale = 1.0;  // --time-scale the file was loaded with (already applied)
  Duration duration = 10s;
  std::vector<ServiceGroup> services;
  SwitcherSpec switcher;
  std::vector<LoadSpec> load;
  std::vector<TimelineStep> timeline;  // sorted by `at`, stable
  Expectations expect;
  // When the load itself makes a run invalid (defaults: under 99% of the
  // target rate, or over 1% of sends later than 10 ms). Loosen only for a
  // slow harness (sanitizer builds), never to make a scenario pass.
  ValidityLimits validity;
  // `matrix:` runs the scenario once per combination of values (cutover run
  // writes one report per combination and an aggregate).
  std::vector<MatrixAxis> matrix;
  // `explore:` faults that `cutover explore` may add to the timeline
  // (sim/scenario/explore.hpp); ignored by `run`.
  std::vector<ExploreFault> explore;

  const ServiceGroup* service(const std::string& name) const;
};

}  // namespace cutover::scenario
