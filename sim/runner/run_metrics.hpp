#pragma once
// The Prometheus endpoint of one `cutover run --metrics-port N` (issue 7):
// the switcher's metrics (switcher::SwitcherMetrics, fed as the proxy's
// observer) plus the load generator's and the run's own, served as text
// format 0.0.4 on GET http://127.0.0.1:N/metrics by a switcher::AdminServer
// (a read-only context: /metrics, /health and /state answer, /switch and
// /rollback are refused with 409; the run's timeline drives the switcher).
//
// Load metrics are pulled, not pushed: each load source is a function that
// returns a LoadSnapshot (cumulative counters and gauges), called on the
// endpoint's I/O thread at scrape time. No prometheus-cpp and no Boost here.
//
// Metric names (besides the switcher's, see sim/switcher/switcher_metrics.hpp;
// the list is declared once, in run_metrics.cpp, and documented in
// docs/observability.md):
//   cutover_loadgen_requests_total{source,outcome}       counter
//   cutover_loadgen_in_flight{source}                    gauge (when the source knows it)
//   cutover_loadgen_send_lateness_seconds{source}        histogram (when the source keeps one)
//   cutover_run_elapsed_seconds                          gauge, since startClock(); 0 before
//   cutover_run_duration_seconds                         gauge, the planned length (when > 0)
//   cutover_run_info{scenario,mode}                      gauge, always 1
//
// Lifetime: RunMetrics must outlive the proxy's I/O thread (the proxy calls
// the observer) and the load sources' objects must outlive stop(). Order for
// a runner: construct, proxy.setObserver(switcherObserver()), attachProxy,
// start; at the end stop() before proxy.stop() and before the load clients go.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/core/time.hpp"
#include "sim/switcher/proxy.hpp"

namespace cutover::switcher {
class SwitcherMetrics;
}

namespace cutover::runner {

// A histogram a load source keeps: counts[i] observations <= bounds[i]
// (and > bounds[i-1]); counts has one more entry than bounds, the last for
// +Inf. Bounds in seconds, ascending.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
};

// What a load source knows at one moment. Counters are cumulative since the
// source started.
struct LoadSnapshot {
  // Finished requests by outcome (index: cutover::Outcome), when the source
  // counts each outcome. Then `completed` and `dropped` are ignored.
  std::optional<std::array<std::uint64_t, kOutcomeCount>> outcomes;
  // Otherwise the totals (LoadClient::completed(), droppedSoFar()); exported
  // as outcome="delivered" (ok + app_error) and outcome="dropped".
  std::uint64_t completed = 0;
  std::uint64_t dropped = 0;
  std::optional<std::uint64_t> in_flight;
  std::optional<HistogramSnapshot> send_lateness;  // seconds after the intended send time
};

struct RunMetricsOptions {
  std::string host = "127.0.0.1";  // a loopback address (AdminServer refuses others)
  std::uint16_t port = 0;          // 0: any free port (see port() after start)
  std::string scenario;            // cutover_run_info{scenario}
  std::string mode = "live";       // cutover_run_info{mode}
  Duration planned_duration{0};    // cutover_run_duration_seconds; 0: not exported
};

class RunMetrics {
 public:
  static constexpr std::size_t kMaxLoadSources = 64;  // more are refused
  static constexpr std::size_t kMaxLabelBytes = 64;   // longer names are cut

  explicit RunMetrics(RunMetricsOptions options = {});
  ~RunMetrics();  // stops
  RunMetrics(const RunMetrics&) = delete;
  RunMetrics& operator=(const RunMetrics&) = delete;

  // Pass to Proxy::setObserver before the proxy starts.
  switcher::ProxyObserver* switcherObserver();
  switcher::SwitcherMetrics& switcherMetrics();
  // The proxy whose backends and active pool the scrape-time gauges
  // (in-flight per pool, health, active pool) and /state describe; nullptr
  // (the default) leaves those gauges as last refreshed. Not owned.
  void attachProxy(switcher::Proxy* proxy);

  // Adds a load source named `name` (the `source` label; unique names are
  // the caller's business). `source` is called at every scrape, on the
  // endpoint's thread: it must be quick, thread-safe, and must not call back
  // into this object. False when kMaxLoadSources are already registered.
  bool addLoadSource(std::string name, std::function<LoadSnapshot()> source);

  // cutover_run_elapsed_seconds counts from t0 (the run's clock start).
  void startClock(Instant t0);

  // Binds host:port and serves. False (with a message) on failure.
  bool start(std::string* error);
  void stop();  // bounded; idempotent
  std::uint16_t port() const;

  // The exposition GET /metrics answers (refreshes the switcher's gauges from
  // the attached proxy first). Any thread.
  std::string metricsText();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A LoadSnapshot from a load client's totals (completed(), droppedSoFar()).
LoadSnapshot loadSnapshotFromTotals(std::uint64_t completed, std::uint64_t dropped);

}  // namespace cutover::runner
