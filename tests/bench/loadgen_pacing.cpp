// Load client pacing and throughput against a real HTTP server on loopback.
// Not a Google Benchmark (the figures are per run, not per iteration): built
// and driven by tests/bench/loadgen_vs_wrk.sh.
//
//   loadgen_pacing PORT RATE_PER_S SECONDS CONNECTIONS
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
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PORT RATE_PER_S SECONDS CONNECTIONS\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  loadgen::ClientOptions o;
  o.port = port;
  o.connections = static_cast<std::size_t>(std::atoi(argv[4]));
  o.max_requests = 50'000'000;
  o.expected_requests = static_cast<std::size_t>(rate * seconds * 1.01) + 16;
  const long rss0 = rssKb();
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const Instant start = monoNow() + std::chrono::milliseconds(50);
  const Duration length{static_cast<std::int64_t>(seconds * 1e9)};
  loadgen::LoadClient client(o, loadgen::makeConstant(start, length, rate));
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
      "peak_rss_mb=%.1f rss_growth_bytes_per_record=%.1f record_bytes=%zu records_capacity_bytes_per_record=%.1f\n",
      rate, static_cast<unsigned long long>(result.intended), static_cast<unsigned long long>(s.sent),
      static_cast<unsigned long long>(s.outcomes.total()), static_cast<unsigned long long>(s.outcomes.of(Outcome::ok)),
      static_cast<unsigned long long>(s.outcomes.dropped()), s.achieved_rate_per_s,
      100.0 * (s.achieved_rate_per_s - rate) / rate, s.lateness.p50_ms, s.lateness.p99_ms, s.lateness.max_ms,
      static_cast<unsigned long long>(s.late_sends),
      elapsed > 0 ? static_cast<double>(s.outcomes.total()) / elapsed : 0.0, s.latency.p50_ms, s.latency.p99_ms,
      cpuSeconds(after) - cpuSeconds(before), 100.0 * (cpuSeconds(after) - cpuSeconds(before)) / std::max(elapsed, 1e-9),
      static_cast<double>(rss1) / 1024.0, n ? static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(n) : 0.0,
      sizeof(RequestRecord),
      n ? static_cast<double>(result.records.capacity() * sizeof(RequestRecord)) / static_cast<double>(n) : 0.0);
  return 0;
}
