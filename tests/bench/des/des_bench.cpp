// Throughput of the discrete-event engine: simulated requests per wall-clock
// second for a plain steady-state scenario (one pool, constant rate, no
// timeline after the start). Goal (issue 8): >= 5 M/s on one core, release.
//
//   des_sim_bench [RATE_PER_S] [SECONDS] [INSTANCES] [REPEATS] [SLOTS]
//
// SLOTS > 0 gives each instance capacity.max_in_flight SLOTS with a queue
// (an M/G/c queue per instance, as tests/bench/des/simpy_model.py models it).
//
// Prints the engine alone (simulate: every request recorded) and the whole
// runSim (plus summary, measures and drop attribution), best of REPEATS.
// DES_BENCH_EACH=1 prints each repeat's engine CPU time to stderr (the first
// pays for fresh pages: on this project's VM a first touch of new memory is
// several times slower than a reused page's).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/core/clock.hpp"
#include "sim/des/sim_runner.hpp"
#include "sim/scenario/loader.hpp"

using namespace cutover;

// CPU time of this thread: on a shared machine the honest figure for "one core".
double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int main(int argc, char** argv) {
  const double rate = argc > 1 ? std::atof(argv[1]) : 50000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 60;
  const int instances = argc > 3 ? std::atoi(argv[3]) : 20;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  const int slots = argc > 5 ? std::atoi(argv[5]) : 0;
  const std::string capacity =
      slots > 0 ? ", capacity: { max_in_flight: " + std::to_string(slots) + ", overflow: queue, queue: 65536 }" : "";
  const std::string yaml = "name: steady\nseed: 1\nduration: " + std::to_string(seconds) +
                           "s\nservices:\n  blue: { version: v1, instances: " + std::to_string(instances) +
                           ", latency: { distribution: lognormal, p50: 2ms, p99: 20ms }" + capacity + " }\n"
                           "load:\n  - { arrivals: poisson, rate: " + std::to_string(static_cast<long>(rate)) +
                           "/s, connections: 512 }\ntimeline:\n  - { at: 0s, start: blue }\n";
  scenario::LoadOptions options;
  options.simulated = true;  // pools of up to 1000 instances, as --mode sim
  const auto loaded = scenario::loadScenarioText(yaml, "steady.yaml", options);
  if (!loaded.scenario) {
    std::fprintf(stderr, "%s\n", loaded.errors.front().str().c_str());
    return 2;
  }
  const auto& sc = *loaded.scenario;
  double best_engine = 1e300, best_total = 1e300, best_cpu = 1e300;
  std::size_t requests = 0;
  std::uint64_t steps = 0;
  std::uint64_t dropped = 0;
  for (int i = 0; i < repeats; ++i) {
    const Instant a = monoNow();
    const double cpu0 = cpuSeconds();
    auto trace = des::simulate(sc);
    const double cpu1 = cpuSeconds();
    const Instant b = monoNow();
    best_cpu = std::min(best_cpu, cpu1 - cpu0);
    if (std::getenv("DES_BENCH_EACH")) std::fprintf(stderr, "repeat %d: engine CPU %.3f s\n", i + 1, cpu1 - cpu0);
    requests = trace.records.size();
    steps = trace.events_processed;
    const auto result = des::measureTrace(sc, std::move(trace), sc.seed);
    const Instant c = monoNow();
    dropped = result.summary.outcomes.dropped();
    best_engine = std::min(best_engine, toSeconds(b - a));
    best_total = std::min(best_total, toSeconds(c - a));
  }
  std::printf("steady state: %.0f/s x %d s, %d instances: %zu requests, %llu events, %llu dropped\n", rate,
              seconds, instances, requests, static_cast<unsigned long long>(steps),
              static_cast<unsigned long long>(dropped));
  std::printf("engine (simulate):      %.3f s  %.2f M requests/s  %.1f M events/s\n", best_engine,
              static_cast<double>(requests) / best_engine / 1e6, static_cast<double>(steps) / best_engine / 1e6);
  std::printf("engine CPU time:        %.3f s  %.2f M requests/s per CPU-second\n", best_cpu,
              static_cast<double>(requests) / best_cpu / 1e6);
  std::printf("des requests=%zu cpu_s=%.3f rate=%.0f\n", requests, best_cpu, static_cast<double>(requests) / best_cpu);
  std::printf("runSim (with measuring): %.3f s  %.2f M requests/s\n", best_total,
              static_cast<double>(requests) / best_total / 1e6);
  return 0;
}
