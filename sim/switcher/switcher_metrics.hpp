#pragma once
// Prometheus metrics of the live switcher (prometheus-cpp), fed by the proxy's
// ProxyObserver hooks, plus a bounded ring of its most recent events for the
// admin API's /state. No prometheus-cpp in this header: the registry is
// reachable through a forward-declared type only.
//
// Counters and histograms move on the proxy's I/O thread (onExchange,
// onEvent); gauges that describe the proxy's current state (in-flight per
// pool, backend health, the active pool) are refreshed from a snapshot at
// scrape time (refresh). Every member function is thread-safe.
//
// Metric names (declared once, in switcher_metrics.cpp's kMetricList):
//   cutover_switcher_requests_total{pool,version,outcome}   counter
//   cutover_switcher_retries_total                           counter
//   cutover_switcher_request_duration_seconds{pool}          histogram
//   cutover_switcher_in_flight{pool}                         gauge (scrape)
//   cutover_switcher_backend_healthy{pool,instance}          gauge (scrape), 1/0
//   cutover_switcher_backend_ejected{pool,instance}          gauge (scrape), 1/0
//   cutover_switcher_active_pool{pool}                       gauge (scrape), 1/0
//   cutover_switcher_switches_total                          counter (switched events)
//   cutover_switcher_rollbacks_total                         counter (rollback events)
//   cutover_switcher_ejections_total                         counter (ejected events)
//   cutover_switcher_drain_timeouts_total                    counter (drain_timeout events)
//   cutover_switcher_events_total{kind}                      counter (every event)
//   cutover_switcher_drain_seconds{pool}                     histogram (drained events)
//
// outcome follows the project's definitions: "ok" (a backend's response with
// status < 500), "app_error" (a backend's 5xx), or the switcher's own error
// ("no_backend", "connect_failed", "reset", "timeout"); anything else "other".
// Label values are cut to 64 bytes and every family holds at most
// kMaxSeriesPerFamily series (later label sets share the value "_overflow").
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/switcher/core.hpp"
#include "sim/switcher/events.hpp"
#include "sim/switcher/proxy.hpp"

namespace prometheus {
class Registry;
}

namespace cutover::switcher {

struct SwitcherMetricsOptions {
  std::size_t recent_events = 100;  // ring for /state
  // Bucket upper bounds in seconds; empty: the defaults in switcher_metrics.cpp.
  std::vector<double> request_duration_buckets;
  std::vector<double> drain_buckets;
};

// Totals for tests and /state, read without the text exposition.
struct SwitcherTotals {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t switches = 0;
  std::uint64_t rollbacks = 0;
  std::uint64_t ejections = 0;
  std::uint64_t drains = 0;  // drained events observed in the drain histogram
  std::uint64_t events = 0;  // all events seen
};

class SwitcherMetrics final : public ProxyObserver {
 public:
  static constexpr std::size_t kMaxSeriesPerFamily = 1024;
  static constexpr std::size_t kMaxLabelBytes = 64;

  explicit SwitcherMetrics(SwitcherMetricsOptions options = {});
  ~SwitcherMetrics() override;
  SwitcherMetrics(const SwitcherMetrics&) = delete;
  SwitcherMetrics& operator=(const SwitcherMetrics&) = delete;

  // ProxyObserver (the proxy's I/O thread).
  void onExchange(const ExchangeInfo& exchange) override;
  void onEvent(const Event& event) override;

  // Sets the scrape-time gauges from a snapshot of the proxy. Backends and
  // pools missing from the snapshot lose their series (pools seen before
  // stay, at 0).
  void refresh(const std::vector<BackendView>& backends, const std::string& active_pool);
  // The Prometheus text exposition (format 0.0.4) of everything registered.
  std::string serialize() const;
  // refresh + serialize, what GET /metrics answers.
  std::string scrape(const std::vector<BackendView>& backends, const std::string& active_pool);

  // The last `recent_events` events, oldest first.
  std::vector<Event> recentEvents() const;
  SwitcherTotals totals() const;
  // For callers that register more collectables (e.g. a process exposer).
  std::shared_ptr<prometheus::Registry> registry() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// "ok", "app_error", or the switcher's error name; "other" for the unknown.
std::string exchangeOutcomeLabel(const ExchangeInfo& exchange);

}  // namespace cutover::switcher
