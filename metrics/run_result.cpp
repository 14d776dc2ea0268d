#include "metrics/run_result.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cutover {
namespace {

constexpr std::int64_t kLateSendNs = 10'000'000;  // 10 ms

double percentileMs(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  const auto idx = std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1);
  return static_cast<double>(sorted[idx]) / 1e6;
}

LatencySummary latencyOf(std::vector<std::int64_t>& ns) {
  LatencySummary s;
  s.count = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  s.p50_ms = percentileMs(ns, 50);
  s.p90_ms = percentileMs(ns, 90);
  s.p99_ms = percentileMs(ns, 99);
  s.p999_ms = percentileMs(ns, 99.9);
  s.max_ms = static_cast<double>(ns.back()) / 1e6;
  s.mean_ms = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) / 1e6;
  return s;
}

}  // namespace

std::uint64_t OutcomeCounts::total() const { return std::accumulate(n.begin(), n.end(), std::uint64_t{0}); }

std::uint64_t OutcomeCounts::dropped() const {
  std::uint64_t d = 0;
  for (std::size_t i = 0; i < kOutcomeCount; ++i)
    if (isDropped(static_cast<Outcome>(i))) d += n[i];
  return d;
}

RunSummary summarize(const std::vector<RequestRecord>& records, const std::vector<std::string>& names,
                     std::uint64_t intended, double length_s) {
  RunSummary s;
  s.intended = intended;
  std::vector<std::int64_t> all;
  std::map<std::string, std::vector<std::int64_t>> perVersion;
  all.reserve(records.size());
  for (const auto& r : records) {
    if (r.sent_ns != 0) {
      ++s.sent;
      const auto late = r.sent_ns - r.intended_ns;
      s.max_send_lateness_ms = std::max(s.max_send_lateness_ms, static_cast<double>(late) / 1e6);
      if (late > kLateSendNs) ++s.late_sends;
    }
    if (r.done_ns == 0) continue;
    s.outcomes.add(r.outcome);
    const std::string version = r.version < names.size() ? names[r.version] : "unknown";
    s.by_version[version].add(r.outcome);
    if (r.status != 0) {  // a complete response
      all.push_back(r.done_ns - r.intended_ns);
      perVersion[version].push_back(r.done_ns - r.intended_ns);
    }
  }
  s.latency = latencyOf(all);
  for (auto& [v, ns] : perVersion) s.latency_by_version[v] = latencyOf(ns);
  s.achieved_rate_per_s = length_s > 0 ? static_cast<double>(s.sent) / length_s : 0;
  return s;
}

}  // namespace cutover
