// The worst short window of a run: "p99 in any 1 s window", the figure a
// whole-run percentile hides when a switch makes one second slow and the
// other fifty-nine fast.
#pragma once

#include <cstdint>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/core/time.hpp"

namespace cutover {

// Windows slide in steps of a tenth of their width; only whole windows
// inside [t0, t0 + length) count (a run shorter than one window is one
// window). A window's percentiles are exact (nearest rank) over the
// responses services gave (ok, app_error), by intended send time, as the
// run's latency; its dropped rate
// is dropped / requests with an outcome.
struct WorstWindows {
  double width_s = 0;       // 0: nothing measured (no window had a request)
  std::uint64_t windows = 0;  // windows that had at least one request
  std::uint64_t latency_windows = 0;  // windows that had at least one response from a service
  double p90_ms = 0, p99_ms = 0;      // the worst window's value of each
  double p90_at_s = 0, p99_at_s = 0;  // where that window starts (s since t0)
  double dropped_rate = 0;                          // the worst window's dropped fraction
  double dropped_at_s = 0;
  // How much each worst figure stands on: the responses in the worst p99
  // window (under 100, its p99 is their slowest), and the requests and
  // dropped ones in the worst dropped-rate window (1 of 1 is 100%).
  std::uint64_t p99_responses = 0;
  std::uint64_t dropped_requests = 0, dropped_count = 0;
};

WorstWindows worstWindows(const std::vector<RequestRecord>& records, std::int64_t t0_ns, Duration length,
                          Duration width);

}  // namespace cutover
