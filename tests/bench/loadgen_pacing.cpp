// Load client pacing and throughput against a real HTTP server on loopback.
// Not a Google Benchmark (the figures are per run, not per iteration): built
// and driven by tests/bench/loadgen_vs_wrk.sh.
//
//   loadgen_pacing PORT RATE_PER_S SECONDS CONNECTIONS [SPIN_US]
//   loadgen_pacing PORT closed SECONDS CONNECTIONS
//
// The first form is open loop at a constant rate (SPIN_US: the pacing spin,
// default the client's); the second a closed loop of CONNECTIONS workers
// with no think time (wrk's model: its completed/s is the max rate).
//
// Prints one line of key=value figures: intended, sent, completed, ok,
// dropped, achieved send rate and its error against the target, send
// lateness p50/p99/max, completed/s, latency p50/p99, the client's CPU
// seconds, peak RSS and bytes per recorded request.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "metrics/run_result.hpp"
#include "sim/core/clock.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/client.hpp"

namespace {

double cpuSeconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long rssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cutover;
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s PORT RATE_PER_S|closed SECONDS CONNECTIONS [SPIN_US]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  const bool closed = std::string(argv[2]) == "closed";
  const double rate = closed ? 0.0 : std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  loadgen::ClientOptions o;
  o.port = port;
  o.connections = static_cast<std::size_t>(std::atoi(argv[4]));
  o.max_requests = 50'000'000;
  // Closed loop: reserve for 200k/s, more than one thread reaches on loopback.
  o.expected_requests = static_cast<std::size_t>((closed ? 200'000.0 : rate) * seconds * 1.01) + 16;
  if (argc == 6) o.pacing_spin = std::chrono::microseconds(std::atoi(argv[5]));
  const long rss0 = rssKb();
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const Instant start = monoNow() + std::chrono::milliseconds(50);
  const Duration length{static_cast<std::int64_t>(seconds * 1e9)};
  loadgen::ClosedLoopSpec spec;
  spec.workers = o.connections;
  spec.length = length;
  spec.max_requests = o.max_requests;
  auto client = closed ? loadgen::LoadClient(o, std::make_unique<loadgen::ClosedLoop>(spec, start, Rng(1)))
                       : loadgen::LoadClient(o, loadgen::makeConstant(start, length, rate));
  auto result = client.run();
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const long rss1 = rssKb();
  if (!result.error.empty()) {
    std::fprintf(stderr, "error: %s\n", result.error.c_str());
    return 1;
  }
  const auto s = summarize(result.records, result.names, result.intended, seconds);
  const double elapsed = toSeconds(result.finished - result.started);
  const auto n = result.records.size();
  std::printf(
      "target_per_s=%.0f intended=%llu sent=%llu completed=%llu ok=%llu dropped=%llu achieved_send_per_s=%.1f "
      "rate_error_pct=%.3f lateness_p50_ms=%.3f lateness_p99_ms=%.3f lateness_max_ms=%.3f late_10ms=%llu "
      "completed_per_s=%.0f latency_p50_ms=%.3f latency_p99_ms=%.3f cpu_s=%.2f cpu_pct=%.1f "
      "client_thread_cpu_s=%.2f client_thread_cpu_pct=%.1f peak_connections=%zu "
      "peak_rss_mb=%.1f rss_growth_bytes_per_record=%.1f record_bytes=%zu records_capacity_bytes_per_record=%.1f\n",
      rate, static_cast<unsigned long long>(result.intended), static_cast<unsigned long long>(s.sent),
      static_cast<unsigned long long>(s.outcomes.total()), static_cast<unsigned long long>(s.outcomes.of(Outcome::ok)),
      static_cast<unsigned long long>(s.outcomes.dropped()), s.achieved_rate_per_s,
      rate > 0 ? 100.0 * (s.achieved_rate_per_s - rate) / rate : 0.0, s.lateness.p50_ms, s.lateness.p99_ms, s.lateness.max_ms,
      static_cast<unsigned long long>(s.late_sends),
      elapsed > 0 ? static_cast<double>(s.outcomes.total()) / elapsed : 0.0, s.latency.p50_ms, s.latency.p99_ms,
      cpuSeconds(after) - cpuSeconds(before), 100.0 * (cpuSeconds(after) - cpuSeconds(before)) / std::max(elapsed, 1e-9),
      result.cpu.seconds(), result.cpu.percentOfCore(), result.peak_connections,
      static_cast<double>(rss1) / 1024.0, n ? static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(n) : 0.0,
      sizeof(RequestRecord),
      n ? static_cast<double>(result.records.capacity() * sizeof(RequestRecord)) / static_cast<double>(n) : 0.0);
  return 0;
}
