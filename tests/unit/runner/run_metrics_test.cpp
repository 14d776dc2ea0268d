// RunMetrics' exposition without sockets: load snapshots, the run's gauges
// and the switcher's families in one text (the HTTP side and a real
// Prometheus are in tests/integration/prometheus_test.cpp).
#include "sim/runner/run_metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "sim/core/clock.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;

bool hasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

std::size_t countPrefix(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) ++n;
  return n;
}

// The sample value of the first line starting with `prefix` + " ".
std::optional<double> valueOf(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  return std::nullopt;
}

TEST(RunMetrics, TotalsBecomeDeliveredAndDroppedSeries) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource("block-0", [] { return loadSnapshotFromTotals(10, 3); }));
  const std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "# TYPE cutover_loadgen_requests_total counter")) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"block-0\",outcome=\"delivered\"}"), 7.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"block-0\",outcome=\"dropped\"}"), 3.0) << text;
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_in_flight{"), 0u) << "no in-flight series when the source does not know it";
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_send_lateness_seconds_bucket"), 0u);
}

TEST(RunMetrics, DroppedNeverExceedsCompleted) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource("x", [] { return loadSnapshotFromTotals(2, 5); }));
  const std::string text = m.metricsText();
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"x\",outcome=\"delivered\"}"), 0.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"x\",outcome=\"dropped\"}"), 2.0) << text;
}

TEST(RunMetrics, OutcomeCountsGiveOneSeriesPerOutcome) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource("a", [] {
    LoadSnapshot s;
    s.outcomes = std::array<std::uint64_t, kOutcomeCount>{100, 2, 3, 4, 5, 6};
    s.completed = 999;  // ignored when outcomes are given
    s.in_flight = 17;
    return s;
  }));
  const std::string text = m.metricsText();
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_requests_total{source=\"a\""), kOutcomeCount) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"a\",outcome=\"ok\"}"), 100.0);
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"a\",outcome=\"app_error\"}"), 2.0);
  EXPECT_EQ(valueOf(text, "cutover_loadgen_requests_total{source=\"a\",outcome=\"timeout\"}"), 6.0);
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_requests_total{source=\"a\",outcome=\"delivered\"}"), 0u);
  EXPECT_EQ(valueOf(text, "cutover_loadgen_in_flight{source=\"a\"}"), 17.0) << text;
}

TEST(RunMetrics, LatenessHistogramIsCumulativeWithInf) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource("a", [] {
    LoadSnapshot s;
    s.send_lateness = HistogramSnapshot{{0.001, 0.01}, {5, 3, 2}, 0.25};
    return s;
  }));
  const std::string text = m.metricsText();
  EXPECT_TRUE(hasLine(text, "# TYPE cutover_loadgen_send_lateness_seconds histogram")) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_send_lateness_seconds_bucket{source=\"a\",le=\"0.001\"}"), 5.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_send_lateness_seconds_bucket{source=\"a\",le=\"0.01\"}"), 8.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_send_lateness_seconds_bucket{source=\"a\",le=\"+Inf\"}"), 10.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_send_lateness_seconds_count{source=\"a\"}"), 10.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_loadgen_send_lateness_seconds_sum{source=\"a\"}"), 0.25) << text;
}

TEST(RunMetrics, MalformedHistogramIsLeftOut) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource("sizes", [] {
    LoadSnapshot s;
    s.send_lateness = HistogramSnapshot{{0.001, 0.01}, {5, 3}, 0};  // no +Inf count
    return s;
  }));
  ASSERT_TRUE(m.addLoadSource("order", [] {
    LoadSnapshot s;
    s.send_lateness = HistogramSnapshot{{0.01, 0.001}, {1, 1, 1}, 0};  // not ascending
    return s;
  }));
  const std::string text = m.metricsText();
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_send_lateness_seconds_"), 0u) << text;
  EXPECT_EQ(countPrefix(text, "cutover_loadgen_requests_total{source=\"sizes\""), 2u) << "the rest of the snapshot stays";
}

TEST(RunMetrics, SourcesAreReadAtEveryScrape) {
  RunMetrics m;
  std::uint64_t n = 0;
  ASSERT_TRUE(m.addLoadSource("a", [&n] { return loadSnapshotFromTotals(n, 0); }));
  n = 4;
  EXPECT_EQ(valueOf(m.metricsText(), "cutover_loadgen_requests_total{source=\"a\",outcome=\"delivered\"}"), 4.0);
  n = 9;
  EXPECT_EQ(valueOf(m.metricsText(), "cutover_loadgen_requests_total{source=\"a\",outcome=\"delivered\"}"), 9.0);
}

TEST(RunMetrics, LoadSourcesAreBounded) {
  RunMetrics m;
  for (std::size_t i = 0; i < RunMetrics::kMaxLoadSources; ++i)
    ASSERT_TRUE(m.addLoadSource("s" + std::to_string(i), [] { return LoadSnapshot{}; }));
  EXPECT_FALSE(m.addLoadSource("one-too-many", [] { return LoadSnapshot{}; }));
  EXPECT_FALSE(RunMetrics().addLoadSource("empty function", {}));
}

TEST(RunMetrics, LongSourceNamesAreCut) {
  RunMetrics m;
  ASSERT_TRUE(m.addLoadSource(std::string(200, 'n'), [] { return loadSnapshotFromTotals(1, 0); }));
  const std::string cut(RunMetrics::kMaxLabelBytes, 'n');
  EXPECT_EQ(valueOf(m.metricsText(), "cutover_loadgen_requests_total{source=\"" + cut + "\",outcome=\"delivered\"}"),
            1.0);
}

TEST(RunMetrics, RunInfoDurationAndElapsed) {
  RunMetricsOptions o;
  o.scenario = "quickstart";
  o.planned_duration = 6s;
  RunMetrics m(o);
  std::string text = m.metricsText();
  EXPECT_EQ(valueOf(text, "cutover_run_info{mode=\"live\",scenario=\"quickstart\"}"), 1.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_run_duration_seconds"), 6.0) << text;
  EXPECT_EQ(valueOf(text, "cutover_run_elapsed_seconds"), 0.0) << "0 before the clock starts";
  m.startClock(monoNow() - 5s);
  text = m.metricsText();
  const auto elapsed = valueOf(text, "cutover_run_elapsed_seconds");
  ASSERT_TRUE(elapsed.has_value()) << text;
  EXPECT_GE(*elapsed, 5.0);
  EXPECT_LT(*elapsed, 65.0);  // generous: only a stalled machine takes a minute here
}

TEST(RunMetrics, NoPlannedDurationNoSeries) {
  const std::string text = RunMetrics().metricsText();
  EXPECT_EQ(countPrefix(text, "cutover_run_duration_seconds"), 0u) << text;
}

TEST(RunMetrics, SwitcherExchangesShowInTheSameExposition) {
  RunMetrics m;
  switcher::ExchangeInfo x;
  x.pool = "blue";
  x.instance = "blue-1";
  x.version = "v1";
  x.status = 200;
  x.outcome = "ok";
  x.latency = 2ms;
  m.switcherObserver()->onExchange(x);
  m.switcherObserver()->onExchange(x);
  const std::string text = m.metricsText();
  EXPECT_EQ(valueOf(text, "cutover_switcher_requests_total{outcome=\"ok\",pool=\"blue\",version=\"v1\"}"), 2.0)
      << text;
  EXPECT_EQ(countPrefix(text, "# TYPE cutover_run_info gauge"), 1u);
}

TEST(RunMetrics, StopWithoutStartAndPortZero) {
  RunMetrics m;
  m.stop();
  m.stop();
  EXPECT_EQ(m.port(), 0);
}

TEST(RunMetrics, StartRefusesANonLoopbackHost) {
  RunMetricsOptions o;
  o.host = "0.0.0.0";
  RunMetrics m(o);
  std::string err;
  EXPECT_FALSE(m.start(&err));
  EXPECT_NE(err.find("loopback"), std::string::npos) << err;
}

}  // namespace
}  // namespace cutover::runner
