// Prometheus metrics of the live switcher; see switcher_metrics.hpp.
#include "sim/switcher/switcher_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "sim/core/units.hpp"

namespace cutover::switcher {
namespace {

// Every metric of the switcher, declared once.
struct MetricDecl {
  const char* name;
  const char* help;
};
constexpr MetricDecl kRequests{"cutover_switcher_requests_total",
                               "Client requests answered, by pool and version of the backend and outcome."};
constexpr MetricDecl kRetries{"cutover_switcher_retries_total", "Upstream attempts after the first."};
constexpr MetricDecl kDuration{"cutover_switcher_request_duration_seconds",
                               "Request read to response written, by pool."};
constexpr MetricDecl kInFlight{"cutover_switcher_in_flight", "Requests in flight on the pool's live backends."};
constexpr MetricDecl kHealthy{"cutover_switcher_backend_healthy", "1 when the backend passes its health checks."};
constexpr MetricDecl kEjected{"cutover_switcher_backend_ejected", "1 while outlier ejection holds the backend out."};
constexpr MetricDecl kActive{"cutover_switcher_active_pool", "1 for the pool that gets new requests."};
constexpr MetricDecl kSwitches{"cutover_switcher_switches_total", "Switches that changed the active pool."};
constexpr MetricDecl kRollbacks{"cutover_switcher_rollbacks_total", "Rollbacks to the previous pool."};
constexpr MetricDecl kEjections{"cutover_switcher_ejections_total", "Outlier ejections of backends."};
constexpr MetricDecl kDrainTimeouts{"cutover_switcher_drain_timeouts_total",
                                    "Drains that ended at the drain timeout with requests in flight."};
constexpr MetricDecl kEvents{"cutover_switcher_events_total", "Switcher decisions, by event kind."};
constexpr MetricDecl kDrain{"cutover_switcher_drain_seconds",
                            "Drain time of a pool: switch away from it until nothing in flight."};

const std::vector<double> kDefaultDurationBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0};
const std::vector<double> kDefaultDrainBuckets{0.001, 0.01, 0.05, 0.1,  0.25, 0.5,  1.0,
                                               2.0,   5.0,  10.0, 30.0, 60.0, 120.0};

constexpr const char* kOverflow = "_overflow";

std::string clip(const std::string& value, const char* if_empty) {
  if (value.empty()) return if_empty;
  return value.size() <= SwitcherMetrics::kMaxLabelBytes ? value : value.substr(0, SwitcherMetrics::kMaxLabelBytes);
}

// One prometheus-cpp family with a bounded number of series, looked up by
// label values. Not thread-safe: the owner's mutex guards it.
template <class T>
class BoundedFamily {
 public:
  BoundedFamily(prometheus::Family<T>& family, std::vector<std::string> label_names)
      : family_(family), names_(std::move(label_names)) {}

  template <class... Args>
  T& get(const std::vector<std::string>& values, Args&&... args) {
    const std::string key = join(values);
    if (const auto it = series_.find(key); it != series_.end()) return *it->second;
    if (series_.size() >= SwitcherMetrics::kMaxSeriesPerFamily) {
      const std::vector<std::string> over(values.size(), kOverflow);
      const std::string over_key = join(over);
      if (const auto it = series_.find(over_key); it != series_.end()) return *it->second;
      return add(over_key, over, std::forward<Args>(args)...);
    }
    return add(key, values, std::forward<Args>(args)...);
  }

  // Removes every series whose label values are not in `keep`.
  void keepOnly(const std::set<std::vector<std::string>>& keep) {
    std::set<std::string> keys;
    for (const auto& v : keep) keys.insert(join(v));
    for (auto it = series_.begin(); it != series_.end();) {
      if (keys.count(it->first) != 0) {
        ++it;
        continue;
      }
      family_.Remove(it->second);
      it = series_.erase(it);
    }
  }

  void forEach(const std::function<void(T&)>& f) {
    for (auto& [key, metric] : series_) f(*metric);
  }

 private:
  static std::string join(const std::vector<std::string>& values) {
    std::string key;
    for (const auto& v : values) {
      key += v;
      key += '\x1f';
    }
    return key;
  }
  template <class... Args>
  T& add(const std::string& key, const std::vector<std::string>& values, Args&&... args) {
    prometheus::Labels labels;
    for (std::size_t i = 0; i < names_.size() && i < values.size(); ++i) labels[names_[i]] = values[i];
    T& metric = family_.Add(labels, std::forward<Args>(args)...);
    series_.emplace(key, &metric);
    return metric;
  }

  prometheus::Family<T>& family_;
  std::vector<std::string> names_;
  std::map<std::string, T*> series_;
};

// "drain time 1.500 s" -> 1.5 s (the Core's own measure).
std::optional<Duration> drainFromDetail(const std::string& detail) {
  constexpr std::string_view kPrefix = "drain time ";
  if (detail.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::string text = detail.substr(kPrefix.size());
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  return parseDuration(text);
}

}  // namespace

std::string exchangeOutcomeLabel(const ExchangeInfo& exchange) {
  if (exchange.outcome == "ok") return exchange.status >= 500 ? "app_error" : "ok";
  for (const char* known : {"no_backend", "connect_failed", "reset", "timeout"})
    if (exchange.outcome == known) return known;
  return "other";
}

class SwitcherMetrics::Impl {
 public:
  explicit Impl(SwitcherMetricsOptions options)
      : options_(std::move(options)),
        registry_(std::make_shared<prometheus::Registry>()),
        requests_(prometheus::BuildCounter().Name(kRequests.name).Help(kRequests.help).Register(*registry_),
                  {"pool", "version", "outcome"}),
        retries_(prometheus::BuildCounter().Name(kRetries.name).Help(kRetries.help).Register(*registry_).Add({})),
        duration_(prometheus::BuildHistogram().Name(kDuration.name).Help(kDuration.help).Register(*registry_),
                  {"pool"}),
        in_flight_(prometheus::BuildGauge().Name(kInFlight.name).Help(kInFlight.help).Register(*registry_),
                   {"pool"}),
        healthy_(prometheus::BuildGauge().Name(kHealthy.name).Help(kHealthy.help).Register(*registry_),
                 {"pool", "instance"}),
        ejected_(prometheus::BuildGauge().Name(kEjected.name).Help(kEjected.help).Register(*registry_),
                 {"pool", "instance"}),
        active_(prometheus::BuildGauge().Name(kActive.name).Help(kActive.help).Register(*registry_), {"pool"}),
        switches_(prometheus::BuildCounter().Name(kSwitches.name).Help(kSwitches.help).Register(*registry_).Add({})),
        rollbacks_(
            prometheus::BuildCounter().Name(kRollbacks.name).Help(kRollbacks.help).Register(*registry_).Add({})),
        ejections_(
            prometheus::BuildCounter().Name(kEjections.name).Help(kEjections.help).Register(*registry_).Add({})),
        drain_timeouts_(prometheus::BuildCounter()
                            .Name(kDrainTimeouts.name)
                            .Help(kDrainTimeouts.help)
                            .Register(*registry_)
                            .Add({})),
        events_(prometheus::BuildCounter().Name(kEvents.name).Help(kEvents.help).Register(*registry_), {"kind"}),
        drain_(prometheus::BuildHistogram().Name(kDrain.name).Help(kDrain.help).Register(*registry_), {"pool"}) {
    if (options_.request_duration_buckets.empty()) options_.request_duration_buckets = kDefaultDurationBuckets;
    if (options_.drain_buckets.empty()) options_.drain_buckets = kDefaultDrainBuckets;
    std::sort(options_.request_duration_buckets.begin(), options_.request_duration_buckets.end());
    std::sort(options_.drain_buckets.begin(), options_.drain_buckets.end());
  }

  void onExchange(const ExchangeInfo& x) {
    const std::string outcome = exchangeOutcomeLabel(x);
    std::lock_guard lock(mutex_);
    const ExchangeSeries& series = exchangeSeries(x.pool, x.version, outcome);
    series.requests->Increment();
    if (x.retries > 0) retries_.Increment(static_cast<double>(x.retries));
    series.duration->Observe(toSeconds(x.latency));
    ++totals_.requests;
    totals_.retries += x.retries;
  }

  // The request counter and duration histogram of an exchange's (pool,
  // version, outcome), from a short list compared by string: the proxy calls
  // this once per request, and building label keys and searching the
  // families' maps each time was measurable in its throughput. Series of
  // requests_ and duration_ are never removed, so the pointers stay valid.
  struct ExchangeSeries {
    std::string pool, version, outcome;  // as given, before clip()
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
  };
  static constexpr std::size_t kExchangeSeriesCache = 16;

  const ExchangeSeries& exchangeSeries(const std::string& pool, const std::string& version,
                                       const std::string& outcome) {
    for (const auto& s : exchange_series_)
      if (s.pool == pool && s.version == version && s.outcome == outcome) return s;
    if (exchange_series_.size() >= kExchangeSeriesCache) exchange_series_.clear();
    const std::string pool_label = clip(pool, "none");
    auto& requests = requests_.get({pool_label, clip(version, "unknown"), outcome});
    auto& duration = duration_.get({pool_label}, options_.request_duration_buckets);
    return exchange_series_.emplace_back(ExchangeSeries{pool, version, outcome, &requests, &duration});
  }

  void onEvent(const Event& e) {
    std::lock_guard lock(mutex_);
    recent_.push_back(e);
    while (recent_.size() > std::max<std::size_t>(options_.recent_events, 1)) recent_.pop_front();
    ++totals_.events;
    events_.get({clip(e.kind, "unknown")}).Increment();
    if (e.kind == "switched" || e.kind == "rollback") {
      if (e.kind == "switched" && e.detail == "already active") return;
      if (e.kind == "switched") {
        switches_.Increment();
        ++totals_.switches;
      } else {
        rollbacks_.Increment();
        ++totals_.rollbacks;
      }
      if (!active_pool_.empty() && active_pool_ != e.pool && drain_started_.size() < kMaxSeriesPerFamily)
        drain_started_[active_pool_] = e.at;
      drain_started_.erase(e.pool);  // made active again: its drain was cancelled
      active_pool_ = e.pool;
    } else if (e.kind == "ejected") {
      ejections_.Increment();
      ++totals_.ejections;
    } else if (e.kind == "drained") {
      observeDrain(e);
    } else if (e.kind == "drain_timeout") {
      drain_timeouts_.Increment();
      drain_started_.erase(e.pool);
    }
  }

  void refresh(const std::vector<BackendView>& backends, const std::string& active_pool) {
    std::lock_guard lock(mutex_);
    std::map<std::string, double> in_flight;
    for (const auto& p : pools_seen_) in_flight[p] = 0;
    std::set<std::vector<std::string>> live;
    for (const auto& b : backends) {
      const std::string pool = clip(b.pool, "none");
      const std::string instance = clip(b.instance, "none");
      in_flight[pool] += b.in_flight;
      healthy_.get({pool, instance}).Set(b.healthy ? 1 : 0);
      ejected_.get({pool, instance}).Set(b.ejected ? 1 : 0);
      live.insert({pool, instance});
    }
    healthy_.keepOnly(live);
    ejected_.keepOnly(live);
    if (!active_pool.empty()) in_flight.emplace(clip(active_pool, "none"), 0.0);
    for (const auto& [pool, n] : in_flight) {
      if (pools_seen_.size() < kMaxSeriesPerFamily) pools_seen_.insert(pool);
      in_flight_.get({pool}).Set(n);
      active_.get({pool}).Set(pool == active_pool ? 1 : 0);
    }
  }

  std::string serialize() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    return out.str();
  }

  std::vector<Event> recentEvents() const {
    std::lock_guard lock(mutex_);
    return {recent_.begin(), recent_.end()};
  }

  SwitcherTotals totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
  }

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  void observeDrain(const Event& e) {
    std::optional<Duration> took = drainFromDetail(e.detail);
    const auto started = drain_started_.find(e.pool);
    if (!took && started != drain_started_.end()) took = e.at - started->second;
    if (started != drain_started_.end()) drain_started_.erase(started);
    if (!took) return;
    drain_.get({clip(e.pool, "none")}, options_.drain_buckets).Observe(toSeconds(*took));
    ++totals_.drains;
  }

  SwitcherMetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;  // guards everything below and the series maps
  std::vector<ExchangeSeries> exchange_series_;  // onExchange's recent series, at most kExchangeSeriesCache
  BoundedFamily<prometheus::Counter> requests_;
  prometheus::Counter& retries_;
  BoundedFamily<prometheus::Histogram> duration_;
  BoundedFamily<prometheus::Gauge> in_flight_;
  BoundedFamily<prometheus::Gauge> healthy_;
  BoundedFamily<prometheus::Gauge> ejected_;
  BoundedFamily<prometheus::Gauge> active_;
  prometheus::Counter& switches_;
  prometheus::Counter& rollbacks_;
  prometheus::Counter& ejections_;
  prometheus::Counter& drain_timeouts_;
  BoundedFamily<prometheus::Counter> events_;
  BoundedFamily<prometheus::Histogram> drain_;
  std::set<std::string> pools_seen_;
  std::string active_pool_;  // as the events tell it, for drain timing
  std::unordered_map<std::string, Instant> drain_started_;
  std::deque<Event> recent_;
  SwitcherTotals totals_;
};

SwitcherMetrics::SwitcherMetrics(SwitcherMetricsOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
SwitcherMetrics::~SwitcherMetrics() = default;

void SwitcherMetrics::onExchange(const ExchangeInfo& exchange) { impl_->onExchange(exchange); }
void SwitcherMetrics::onEvent(const Event& event) { impl_->onEvent(event); }
void SwitcherMetrics::refresh(const std::vector<BackendView>& backends, const std::string& active_pool) {
  impl_->refresh(backends, active_pool);
}
std::string SwitcherMetrics::serialize() const { return impl_->serialize(); }
std::string SwitcherMetrics::scrape(const std::vector<BackendView>& backends, const std::string& active_pool) {
  impl_->refresh(backends, active_pool);
  return impl_->serialize();
}
std::vector<Event> SwitcherMetrics::recentEvents() const { return impl_->recentEvents(); }
SwitcherTotals SwitcherMetrics::totals() const { return impl_->totals(); }
std::shared_ptr<prometheus::Registry> SwitcherMetrics::registry() const { return impl_->registry(); }

}  // namespace cutover::switcher
