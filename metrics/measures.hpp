#pragma once
// Derived measures of a run, exactly as the design defines them
// (shared/design/architecture.md, "Definitions"), as pure functions of the
// request records, the events and the instances. No clock reads.
//
// Clocks: records hold nanoseconds on the shared monotonic clock; events and
// instances hold seconds since t=0. RunView::t0_ns joins the two.
//
// Events read (source, kind, target):
//   timeline  switch    <pool>      the switch command: starts switch latency and drain time
//   switcher  switched  <pool>      the active pool became <pool>; replayed to know which
//                                   pool was active at any time (the pool a switch came from)
//   switcher  drained   <pool>      <pool> has nothing in flight any more
//   timeline  fault     <pool|instance>   fault onset (also accepted from source "service")
//   switcher  rollback  <pool>      the rollback decision (target: the pool rolled back to);
//                                   it also makes <pool> active (sim/switcher/core.cpp emits
//                                   "rollback" instead of "switched" then)
//   service   exited    <instance>  (and runner stopped) an instance's process ended; used
//                                   with InstanceInfo::exited_s by drop attribution
// Other events are ignored.
//
// Which pool served a request: the pool of its instance (by id); failing
// that, the pool whose instances carry the record's version, when exactly
// one does; failing that, unknown.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"
#include "metrics/run_result.hpp"

namespace cutover {

struct RunView {
  const std::vector<RequestRecord>& records;
  const std::vector<std::string>& names;  // name table of RequestRecord::version/instance
  const std::vector<TimedEvent>& events;
  const std::vector<InstanceInfo>& instances;
  std::int64_t t0_ns = 0;  // t=0 on the records' clock
};

struct SwitchMeasure {
  double at_s = 0;        // the command
  double switched_s = 0;  // when the switcher made it (later than at_s behind a readiness gate)
  std::string from;       // active pool just before it ("" when none)
  std::string to;
  // Command -> last complete response from `from` to a request sent at or
  // after the command; 0 when there is none (an atomic L7 switch).
  double switch_latency_ms = 0;
  std::optional<double> drain_time_ms;  // command -> `from` drained; unset if it never did
};

struct RollbackMeasure {
  double fault_s = 0;       // onset
  std::string faulty_pool;  // the fault's pool (or its instance's pool)
  std::optional<double> detect_latency_ms;  // onset -> first rollback decision; unset without one
  // Onset -> completion of the last failed (not ok) request caused by the
  // faulty pool: served by it, or unattributed and sent while it was active.
  // 0 when no request failed (any_failed false: deriveMeasures leaves it out).
  double recovery_latency_ms = 0;
  bool any_failed = false;
  std::uint64_t blast_radius = 0;  // failed requests completed in [onset, recovery]
  // Whether the run shows the failures ended: none failed, or the load went
  // on after the last one, without another, for at least kRecoveryQuiet and
  // twice the longest gap between two of them. Unrecovered (failing to the
  // end, as rollback-impossible): recovery_latency_ms is only where the run
  // stopped, so deriveMeasures leaves both measures out.
  bool recovered = true;
};
inline constexpr Duration kRecoveryQuiet = std::chrono::milliseconds(100);

// One entry per timeline switch command that changed the active pool, in
// order: the switcher made it ("switched") before the next command. A switch
// it refused, or held at its readiness gate to the end, has none.
std::vector<SwitchMeasure> switchMeasures(const RunView& run);

// The rollback measures around the fault that caused the first rollback
// (the last fault, signal or stop of the pool it rolled back from, at or
// before the decision), else around the run's first fault; nullopt when
// there was none.
std::optional<RollbackMeasure> rollbackMeasure(const RunView& run);

// The flat measures of report.json, units in the names: switch_latency_ms and
// drain_time_ms (first switch that changed pools), rollback_detect_latency_ms,
// rollback_recovery_latency_ms, blast_radius_requests (or, when the failures
// never ended, blast_radius_unrecovered_requests: the failed requests from the
// onset to the end of the run). A measure whose inputs never happened is
// absent (see validity.hpp: missingMeasures).
std::map<std::string, double> deriveMeasures(const RunView& run);
// The same with switchMeasures(run) already at hand (one pass less over the records).
std::map<std::string, double> deriveMeasures(const RunView& run, const std::vector<SwitchMeasure>& switches);

// Helpers shared with drop attribution.
namespace measures_detail {
// The active pool at `t_s` by replaying switcher "switched" events (strictly
// before t_s when `strictly_before`); "" when none yet.
std::string activePoolAt(const std::vector<TimedEvent>& events, double t_s, bool strictly_before = false);
// Pool of every name-table id (instance id or version), "" when unknown.
std::vector<std::string> poolOfNames(const RunView& run);
std::string poolOfRecord(const RequestRecord& r, const std::vector<std::string>& poolOfName,
                         const std::vector<std::string>& names);
double secondsSince0(std::int64_t ns, std::int64_t t0_ns);
}  // namespace measures_detail

}  // namespace cutover
