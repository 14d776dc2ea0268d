// Histogram and arrival-model costs: recording must stay far below the cost of
// a request (the load client records one value per request).
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "metrics/histogram.hpp"
#include "sim/core/rng.hpp"
#include "sim/loadgen/arrivals.hpp"

namespace {

using namespace std::chrono_literals;

std::vector<std::int64_t> latencies(std::size_t n) {
  cutover::Rng rng(7);
  std::vector<std::int64_t> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i)  // log-uniform 10 us .. 10 s
    v.push_back(static_cast<std::int64_t>(std::exp(std::log(1e4) + rng.uniform() * std::log(1e6))));
  return v;
}

void BM_HistogramRecord(benchmark::State& state) {
  const auto values = latencies(4096);
  cutover::Histogram h;
  std::size_t i = 0;
  for (auto _ : state) {
    h.recordValue(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramPercentile(benchmark::State& state) {
  cutover::Histogram h;
  for (auto v : latencies(100000)) h.recordValue(v);
  for (auto _ : state) benchmark::DoNotOptimize(h.valueAtPercentile(99.9));
}
BENCHMARK(BM_HistogramPercentile);

void BM_HistogramMerge(benchmark::State& state) {
  cutover::Histogram a, b;
  for (auto v : latencies(10000)) b.recordValue(v);
  for (auto _ : state) a.merge(b);
  benchmark::DoNotOptimize(a.count());
}
BENCHMARK(BM_HistogramMerge);

void BM_ArrivalsPoissonNext(benchmark::State& state) {
  auto arrivals = cutover::loadgen::makePoisson(cutover::Instant{}, 1'000'000s, 1e6, cutover::Rng(1));
  for (auto _ : state) benchmark::DoNotOptimize(arrivals->next());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ArrivalsPoissonNext);

void BM_ArrivalsRampNext(benchmark::State& state) {
  auto arrivals = cutover::loadgen::makeRamp(cutover::Instant{}, 1'000'000s, 1e3, 1e6);
  for (auto _ : state) benchmark::DoNotOptimize(arrivals->next());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ArrivalsRampNext);

}  // namespace
