#include "sim/switcher/switcher_metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cutover::switcher {
namespace {

using std::chrono::milliseconds;

const Instant kT0 = fromNanos(1'000'000'000);

// The value of one series in a text exposition ("name{labels}" exactly as
// prometheus-cpp writes it, labels sorted by name), or nullopt.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::size_t countLines(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

ExchangeInfo exchange(const std::string& pool, const std::string& version, unsigned status,
                      const std::string& outcome = "ok", Duration latency = milliseconds(2)) {
  ExchangeInfo x;
  x.pool = pool;
  x.instance = pool + "-1";
  x.version = version;
  x.status = status;
  x.outcome = outcome;
  x.latency = latency;
  return x;
}

Event event(Instant at, const std::string& kind, const std::string& pool, const std::string& detail = "") {
  return Event{at, kind, pool, detail};
}

BackendView backend(const std::string& pool, const std::string& instance, std::uint32_t in_flight, bool healthy,
                    bool ejected = false) {
  BackendView b;
  b.pool = pool;
  b.instance = instance;
  b.in_flight = in_flight;
  b.healthy = healthy;
  b.ejected = ejected;
  return b;
}

TEST(SwitcherMetrics, CountsRequestsByPoolVersionAndOutcome) {
  SwitcherMetrics m;
  m.onExchange(exchange("blue", "v1", 200));
  m.onExchange(exchange("blue", "v1", 404));
  m.onExchange(exchange("green", "v2", 503));                   // a service's own 5xx
  m.onExchange(exchange("green", "", 502, "connect_failed"));  // the switcher's
  m.onExchange(exchange("", "", 503, "no_backend"));
  m.onExchange(exchange("blue", "v1", 200, "weird"));
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="ok",pool="blue",version="v1"})"), 2.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="app_error",pool="green",version="v2"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="connect_failed",pool="green",version="unknown"})"),
            1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="no_backend",pool="none",version="unknown"})"),
            1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="other",pool="blue",version="v1"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_request_duration_seconds_count{pool="blue"})"), 3.0);
  EXPECT_NEAR(*sample(text, R"(cutover_switcher_request_duration_seconds_sum{pool="blue"})"), 0.006, 1e-9);
  EXPECT_EQ(m.totals().requests, 6u);
}

TEST(SwitcherMetrics, CountsRetries) {
  SwitcherMetrics m;
  auto x = exchange("blue", "v1", 200);
  x.retries = 2;
  m.onExchange(x);
  m.onExchange(exchange("blue", "v1", 200));
  EXPECT_EQ(sample(m.serialize(), "cutover_switcher_retries_total"), 2.0);
  EXPECT_EQ(m.totals().retries, 2u);
}

TEST(SwitcherMetrics, CountsSwitchesRollbacksEjectionsFromEvents) {
  SwitcherMetrics m;
  m.onEvent(event(kT0, "switched", "blue", "from none"));
  m.onEvent(event(kT0, "switched", "blue", "already active"));  // not a switch
  m.onEvent(event(kT0 + milliseconds(10), "switched", "green", "from blue"));
  m.onEvent(event(kT0 + milliseconds(20), "rollback", "blue", "from green: manual"));
  m.onEvent(event(kT0 + milliseconds(30), "ejected", "blue", "5 failures"));
  m.onEvent(event(kT0 + milliseconds(40), "drain_timeout", "green", "2 in flight"));
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "cutover_switcher_switches_total"), 2.0);
  EXPECT_EQ(sample(text, "cutover_switcher_rollbacks_total"), 1.0);
  EXPECT_EQ(sample(text, "cutover_switcher_ejections_total"), 1.0);
  EXPECT_EQ(sample(text, "cutover_switcher_drain_timeouts_total"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_events_total{kind="switched"})"), 3.0);
  const auto t = m.totals();
  EXPECT_EQ(t.switches, 2u);
  EXPECT_EQ(t.rollbacks, 1u);
  EXPECT_EQ(t.ejections, 1u);
  EXPECT_EQ(t.events, 6u);
}

TEST(SwitcherMetrics, DrainHistogramTakesTheCoresDrainTime) {
  SwitcherMetrics m;
  m.onEvent(event(kT0, "switched", "blue", "from none"));
  m.onEvent(event(kT0 + milliseconds(100), "switched", "green", "from blue"));
  m.onEvent(event(kT0 + milliseconds(400), "drained", "blue", "drain time 300.0 ms"));
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, R"(cutover_switcher_drain_seconds_count{pool="blue"})"), 1.0);
  EXPECT_NEAR(*sample(text, R"(cutover_switcher_drain_seconds_sum{pool="blue"})"), 0.3, 1e-9);
  EXPECT_EQ(sample(text, R"(cutover_switcher_drain_seconds_bucket{pool="blue",le="0.25"})"), 0.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_drain_seconds_bucket{pool="blue",le="0.5"})"), 1.0);
}

TEST(SwitcherMetrics, DrainHistogramFallsBackToEventTiming) {
  SwitcherMetrics m;
  m.onEvent(event(kT0, "switched", "blue", "from none"));
  m.onEvent(event(kT0 + milliseconds(100), "switched", "green", "from blue"));
  m.onEvent(event(kT0 + milliseconds(1600), "drained", "blue", "no detail"));
  m.onEvent(event(kT0 + milliseconds(1700), "drained", "nobody", "no detail"));  // no start known: skipped
  const std::string text = m.serialize();
  EXPECT_NEAR(*sample(text, R"(cutover_switcher_drain_seconds_sum{pool="blue"})"), 1.5, 1e-9);
  EXPECT_FALSE(sample(text, R"(cutover_switcher_drain_seconds_count{pool="nobody"})"));
  EXPECT_EQ(m.totals().drains, 1u);
}

TEST(SwitcherMetrics, ScrapeGaugesFollowTheSnapshot) {
  SwitcherMetrics m;
  std::string text = m.scrape({backend("blue", "blue-1", 3, true), backend("blue", "blue-2", 2, false, true),
                               backend("green", "green-1", 0, true)},
                              "blue");
  EXPECT_EQ(sample(text, R"(cutover_switcher_in_flight{pool="blue"})"), 5.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_in_flight{pool="green"})"), 0.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_backend_healthy{instance="blue-1",pool="blue"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_backend_healthy{instance="blue-2",pool="blue"})"), 0.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_backend_ejected{instance="blue-2",pool="blue"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_active_pool{pool="blue"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_active_pool{pool="green"})"), 0.0);

  // blue's backends are gone and green is active: their series go, blue stays at 0.
  text = m.scrape({backend("green", "green-1", 1, true)}, "green");
  EXPECT_FALSE(sample(text, R"(cutover_switcher_backend_healthy{instance="blue-1",pool="blue"})"));
  EXPECT_EQ(sample(text, R"(cutover_switcher_in_flight{pool="blue"})"), 0.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_in_flight{pool="green"})"), 1.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_active_pool{pool="blue"})"), 0.0);
  EXPECT_EQ(sample(text, R"(cutover_switcher_active_pool{pool="green"})"), 1.0);
}

// prometheus-cpp leaves out a family with no series yet; once fed, each is there once.
TEST(SwitcherMetrics, ExpositionHasTypeLinesForEveryFamily) {
  SwitcherMetrics m;
  m.onExchange(exchange("blue", "v1", 200));
  m.onEvent(event(kT0, "switched", "blue", "from none"));
  m.onEvent(event(kT0, "drained", "green", "drain time 0 us"));
  const std::string text = m.scrape({backend("blue", "blue-1", 0, true)}, "blue");
  for (const char* family :
       {"cutover_switcher_requests_total counter", "cutover_switcher_retries_total counter",
        "cutover_switcher_request_duration_seconds histogram", "cutover_switcher_in_flight gauge",
        "cutover_switcher_backend_healthy gauge", "cutover_switcher_active_pool gauge",
        "cutover_switcher_switches_total counter", "cutover_switcher_rollbacks_total counter",
        "cutover_switcher_ejections_total counter", "cutover_switcher_drain_seconds histogram"})
    EXPECT_EQ(countLines(text, std::string("# TYPE ") + family), 1u) << family;
}

TEST(SwitcherMetrics, KeepsOnlyTheLastEvents) {
  SwitcherMetrics m(SwitcherMetricsOptions{3, {}, {}});
  for (int i = 0; i < 5; ++i) m.onEvent(event(kT0 + milliseconds(i), "health_changed", "blue", std::to_string(i)));
  const auto recent = m.recentEvents();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent.front().detail, "2");
  EXPECT_EQ(recent.back().detail, "4");
}

TEST(SwitcherMetrics, BoundsSeriesAndLabelSizes) {
  SwitcherMetrics m;
  const std::size_t n = SwitcherMetrics::kMaxSeriesPerFamily + 50;
  for (std::size_t i = 0; i < n; ++i) m.onExchange(exchange("blue", "v" + std::to_string(i), 200));
  m.onExchange(exchange("blue", "one more", 200));
  const std::string text = m.serialize();
  EXPECT_EQ(countLines(text, "cutover_switcher_requests_total{"), SwitcherMetrics::kMaxSeriesPerFamily + 1);
  EXPECT_EQ(sample(text, R"(cutover_switcher_requests_total{outcome="_overflow",pool="_overflow",version="_overflow"})"),
            51.0);

  SwitcherMetrics clipped;
  clipped.onExchange(exchange("blue", std::string(500, 'x'), 200));
  const std::string clipped_text = clipped.serialize();
  EXPECT_NE(clipped_text.find(std::string(SwitcherMetrics::kMaxLabelBytes, 'x') + "\""), std::string::npos);
  EXPECT_EQ(clipped_text.find(std::string(SwitcherMetrics::kMaxLabelBytes + 1, 'x')), std::string::npos);
}

// The proxy's I/O thread feeds it while the admin thread scrapes (run under TSan).
TEST(SwitcherMetrics, FeedAndScrapeConcurrently) {
  SwitcherMetrics m;
  std::atomic<bool> done{false};
  std::thread feeder([&] {
    for (int i = 0; i < 20000; ++i) {
      m.onExchange(exchange(i % 2 ? "blue" : "green", "v1", 200));
      if (i % 1000 == 0) m.onEvent(event(kT0 + milliseconds(i), "switched", i % 2000 ? "blue" : "green", "x"));
    }
    done = true;
  });
  int scrapes = 0;
  while (!done.load() && scrapes < 100000) {
    (void)m.scrape({backend("blue", "blue-1", 1, true)}, "blue");
    (void)m.recentEvents();
    ++scrapes;
  }
  feeder.join();
  const std::string text = m.serialize();
  EXPECT_EQ(*sample(text, R"(cutover_switcher_requests_total{outcome="ok",pool="blue",version="v1"})") +
                *sample(text, R"(cutover_switcher_requests_total{outcome="ok",pool="green",version="v1"})"),
            20000.0);
}

}  // namespace
}  // namespace cutover::switcher
