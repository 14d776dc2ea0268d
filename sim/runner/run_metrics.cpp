// The Prometheus endpoint of a run; see run_metrics.hpp. The switcher's
// families come from SwitcherMetrics' registry; the load generator's and the
// run's are built at scrape time from the sources' snapshots (pull, no
// per-request cost on the load threads) and serialized with them in one
// exposition. The HTTP side is switcher::AdminServer with a read-only context.
#include "sim/runner/run_metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <utility>

#include "sim/core/clock.hpp"
#include "sim/switcher/admin.hpp"
#include "sim/switcher/switcher_metrics.hpp"

namespace cutover::runner {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Every metric of the run and the load generator, declared once.
struct MetricDecl {
  const char* name;
  const char* help;
  MetricType type;
};
constexpr MetricDecl kLoadRequests{"cutover_loadgen_requests_total",
                                   "Requests finished, as the client saw them, by load source and outcome.",
                                   MetricType::Counter};
constexpr MetricDecl kLoadInFlight{"cutover_loadgen_in_flight", "Requests sent and not finished, by load source.",
                                   MetricType::Gauge};
constexpr MetricDecl kLoadLateness{"cutover_loadgen_send_lateness_seconds",
                                   "Actual send time minus intended send time, by load source.",
                                   MetricType::Histogram};
constexpr MetricDecl kRunElapsed{"cutover_run_elapsed_seconds", "Seconds since the run's t=0 (0 before).",
                                 MetricType::Gauge};
constexpr MetricDecl kRunDuration{"cutover_run_duration_seconds", "The run's planned length.", MetricType::Gauge};
constexpr MetricDecl kRunInfo{"cutover_run_info", "Always 1; the labels name the run.", MetricType::Gauge};

constexpr const char* kReadOnly = "read-only: this is a run's metrics endpoint; the run's timeline drives the switcher";

std::string clip(std::string value) {
  if (value.size() > RunMetrics::kMaxLabelBytes) value.resize(RunMetrics::kMaxLabelBytes);
  return value;
}

MetricFamily family(const MetricDecl& d) { return MetricFamily{d.name, d.help, d.type, {}}; }

ClientMetric labelled(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

ClientMetric counter(std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m = labelled(std::move(labels));
  m.counter.value = value;
  return m;
}

ClientMetric gauge(std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m = labelled(std::move(labels));
  m.gauge.value = value;
  return m;
}

// A source's histogram as cumulative buckets ending in +Inf; nullopt when the
// snapshot is malformed (sizes disagree, bounds not ascending or not finite).
std::optional<ClientMetric> histogram(std::vector<ClientMetric::Label> labels, const HistogramSnapshot& h) {
  if (h.counts.size() != h.bounds.size() + 1) return std::nullopt;
  for (std::size_t i = 0; i < h.bounds.size(); ++i)
    if (!std::isfinite(h.bounds[i]) || (i > 0 && h.bounds[i] <= h.bounds[i - 1])) return std::nullopt;
  ClientMetric m = labelled(std::move(labels));
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    const double bound = i < h.bounds.size() ? h.bounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = h.sum;
  return m;
}

void addRequests(MetricFamily& f, const std::string& source, const LoadSnapshot& s) {
  const auto series = [&](std::string_view outcome, std::uint64_t n) {
    f.metric.push_back(counter({{"source", source}, {"outcome", std::string(outcome)}}, static_cast<double>(n)));
  };
  if (s.outcomes) {
    for (std::size_t i = 0; i < kOutcomeCount; ++i) series(kOutcomeNames[i], (*s.outcomes)[i]);
    return;
  }
  const std::uint64_t dropped = std::min(s.dropped, s.completed);
  series("delivered", s.completed - dropped);
  series("dropped", dropped);
}

}  // namespace

LoadSnapshot loadSnapshotFromTotals(std::uint64_t completed, std::uint64_t dropped) {
  LoadSnapshot s;
  s.completed = completed;
  s.dropped = dropped;
  return s;
}

class RunMetrics::Impl final : public switcher::AdminContext {
 public:
  explicit Impl(RunMetricsOptions options) : options_(std::move(options)) {
    options_.scenario = clip(options_.scenario);
    options_.mode = clip(options_.mode);
  }
  ~Impl() override { stop(); }

  switcher::SwitcherMetrics& switcherMetrics() { return switcher_; }

  void attachProxy(switcher::Proxy* proxy) {
    std::lock_guard lock(mutex_);
    proxy_ = proxy;
  }

  bool addLoadSource(std::string name, std::function<LoadSnapshot()> source) {
    std::lock_guard lock(mutex_);
    if (sources_.size() >= kMaxLoadSources || !source) return false;
    sources_.emplace_back(clip(std::move(name)), std::move(source));
    return true;
  }

  void startClock(Instant t0) {
    std::lock_guard lock(mutex_);
    t0_ = t0;
  }

  bool start(std::string* error) {
    std::lock_guard lock(server_mutex_);
    if (server_) {
      if (error) *error = "metrics endpoint already started";
      return false;
    }
    switcher::AdminOptions o;
    o.host = options_.host;
    o.port = options_.port;
    o.max_connections = 16;  // a scraper or two and a curl
    auto server = std::make_unique<switcher::AdminServer>(*this, o);
    std::string why;
    if (!server->start(&why)) {
      if (error) *error = "metrics endpoint: " + why;
      return false;
    }
    server_ = std::move(server);
    return true;
  }

  void stop() {
    std::lock_guard lock(server_mutex_);
    if (!server_) return;
    server_->stop();
    stopped_port_ = server_->port();
    server_.reset();
  }

  std::uint16_t port() const {
    std::lock_guard lock(server_mutex_);
    return server_ ? server_->port() : stopped_port_;
  }

  // ---- AdminContext (the endpoint's I/O thread) ----
  std::string activePool() override {
    auto* p = proxy();
    return p ? p->activePool() : std::string{};
  }
  std::vector<switcher::BackendView> backends() override {
    auto* p = proxy();
    return p ? p->backends() : std::vector<switcher::BackendView>{};
  }
  switcher::ProxyStats stats() override {
    auto* p = proxy();
    return p ? p->stats() : switcher::ProxyStats{};
  }
  std::vector<switcher::Event> recentEvents() override { return switcher_.recentEvents(); }
  switcher::AdminSwitchResult switchTo(const std::string&) override { return readOnly(); }
  switcher::AdminSwitchResult rollback() override { return readOnly(); }

  std::string metricsText() override {
    if (auto* p = proxy()) switcher_.refresh(p->backends(), p->activePool());
    std::vector<MetricFamily> families = switcher_.registry()->Collect();
    appendLoadFamilies(families);
    appendRunFamilies(families);
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
  }

 private:
  static switcher::AdminSwitchResult readOnly() {
    return {switcher::AdminSwitchResult::Kind::refused, kReadOnly};
  }

  switcher::Proxy* proxy() {
    std::lock_guard lock(mutex_);
    return proxy_;
  }

  void appendLoadFamilies(std::vector<MetricFamily>& out) {
    MetricFamily requests = family(kLoadRequests);
    MetricFamily in_flight = family(kLoadInFlight);
    MetricFamily lateness = family(kLoadLateness);
    std::lock_guard lock(mutex_);  // sources are quick and never call back
    for (const auto& [name, source] : sources_) {
      const LoadSnapshot s = source();
      addRequests(requests, name, s);
      if (s.in_flight) in_flight.metric.push_back(gauge({{"source", name}}, static_cast<double>(*s.in_flight)));
      if (s.send_lateness)
        if (auto h = histogram({{"source", name}}, *s.send_lateness)) lateness.metric.push_back(std::move(*h));
    }
    out.push_back(std::move(requests));
    out.push_back(std::move(in_flight));
    out.push_back(std::move(lateness));
  }

  void appendRunFamilies(std::vector<MetricFamily>& out) {
    std::optional<Instant> t0;
    {
      std::lock_guard lock(mutex_);
      t0 = t0_;
    }
    MetricFamily elapsed = family(kRunElapsed);
    elapsed.metric.push_back(gauge({}, t0 ? std::max(0.0, toSeconds(monoNow() - *t0)) : 0.0));
    out.push_back(std::move(elapsed));
    if (options_.planned_duration > Duration::zero()) {
      MetricFamily planned = family(kRunDuration);
      planned.metric.push_back(gauge({}, toSeconds(options_.planned_duration)));
      out.push_back(std::move(planned));
    }
    MetricFamily info = family(kRunInfo);
    info.metric.push_back(gauge({{"mode", options_.mode}, {"scenario", options_.scenario}}, 1));
    out.push_back(std::move(info));
  }

  RunMetricsOptions options_;
  switcher::SwitcherMetrics switcher_;
  mutable std::mutex mutex_;  // proxy_, sources_, t0_
  switcher::Proxy* proxy_ = nullptr;
  std::vector<std::pair<std::string, std::function<LoadSnapshot()>>> sources_;
  std::optional<Instant> t0_;
  mutable std::mutex server_mutex_;  // server_, stopped_port_
  std::unique_ptr<switcher::AdminServer> server_;
  std::uint16_t stopped_port_ = 0;
};

RunMetrics::RunMetrics(RunMetricsOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RunMetrics::~RunMetrics() = default;

switcher::ProxyObserver* RunMetrics::switcherObserver() { return &impl_->switcherMetrics(); }
switcher::SwitcherMetrics& RunMetrics::switcherMetrics() { return impl_->switcherMetrics(); }
void RunMetrics::attachProxy(switcher::Proxy* proxy) { impl_->attachProxy(proxy); }
bool RunMetrics::addLoadSource(std::string name, std::function<LoadSnapshot()> source) {
  return impl_->addLoadSource(std::move(name), std::move(source));
}
void RunMetrics::startClock(Instant t0) { impl_->startClock(t0); }
bool RunMetrics::start(std::string* error) { return impl_->start(error); }
void RunMetrics::stop() { impl_->stop(); }
std::uint16_t RunMetrics::port() const { return impl_->port(); }
std::string RunMetrics::metricsText() { return impl_->metricsText(); }

}  // namespace cutover::runner
