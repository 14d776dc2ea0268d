// switcher::Core decisions per second: route + onRequestDone (goal >= 10M/s).
#include <benchmark/benchmark.h>

#include <string>

#include "sim/switcher/core.hpp"

namespace cutover::switcher {
namespace {

const Instant kT0 = fromNanos(1'000'000'000);

Core makeCore(Policy policy, int backends) {
  CoreOptions options;
  options.policy = policy;
  Core core(options);
  for (int i = 0; i < backends; ++i)
    core.addBackend("blue", "blue-" + std::to_string(i), static_cast<std::uint16_t>(9000 + i), kT0);
  (void)core.switchTo("blue", kT0);
  core.takeEvents();
  return core;
}

void routeAndDone(benchmark::State& state, Policy policy) {
  Core core = makeCore(policy, static_cast<int>(state.range(0)));
  Instant now = kT0;
  // Keep a few requests in flight so least-outstanding has real choices.
  Route held[4];
  for (auto& h : held) h = core.route(now);
  std::size_t i = 0;
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    const Route r = core.route(now);
    benchmark::DoNotOptimize(r.port);
    core.onRequestDone(held[i % 4].backend, now, Upstream::response);
    held[i % 4] = r;
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RouteDoneRoundRobin(benchmark::State& s) { routeAndDone(s, Policy::round_robin); }
void BM_RouteDoneLeastOutstanding(benchmark::State& s) { routeAndDone(s, Policy::least_outstanding); }

BENCHMARK(BM_RouteDoneRoundRobin)->Arg(2)->Arg(8)->Arg(32);
BENCHMARK(BM_RouteDoneLeastOutstanding)->Arg(2)->Arg(8)->Arg(32)->Arg(256)->Arg(1000);  // a simulated pool: up to 1000

}  // namespace
}  // namespace cutover::switcher
