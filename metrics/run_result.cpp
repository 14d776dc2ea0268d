#include "metrics/run_result.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "metrics/histogram.hpp"

namespace cutover {
namespace {

constexpr std::int64_t kLateSendNs = 10'000'000;  // 10 ms

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

LatencySummary latencyOf(const Histogram& h) {
  LatencySummary s;
  s.count = h.count();
  if (s.count == 0) return s;
  s.p50_ms = ms(h.valueAtPercentile(50));
  s.p90_ms = ms(h.valueAtPercentile(90));
  s.p99_ms = ms(h.valueAtPercentile(99));
  s.p999_ms = ms(h.valueAtPercentile(99.9));
  s.max_ms = ms(h.max());
  s.mean_ms = h.mean() / 1e6;
  return s;
}

// Exact nearest-rank percentile of a small sample (sorted in place once).
double exactPercentileMs(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  const auto idx = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return ms(v[idx]);
}

// Accumulates one bucket with version counts indexed by name-table id
// (the last slot is "unknown"), turned into a TimeBucket at the end.
struct BucketAcc {
  OutcomeCounts outcomes;
  std::vector<OutcomeCounts> by_version;
  std::vector<std::int64_t> latencies;
};

std::int64_t earliestIntended(const std::vector<RequestRecord>& records) {
  std::int64_t t0 = std::numeric_limits<std::int64_t>::max();
  for (const auto& r : records) t0 = std::min(t0, r.intended_ns);
  return records.empty() ? 0 : t0;
}

std::vector<TimeBucket> buildSeries(std::vector<BucketAcc>& acc, const std::vector<std::string>& names,
                                    double width_s) {
  std::vector<TimeBucket> out(acc.size());
  for (std::size_t b = 0; b < acc.size(); ++b) {
    auto& a = acc[b];
    auto& t = out[b];
    t.t_s = static_cast<double>(b) * width_s;
    t.outcomes = a.outcomes;
    for (std::size_t v = 0; v < a.by_version.size(); ++v)
      if (a.by_version[v].total() != 0) t.by_version[v < names.size() ? names[v] : "unknown"] = a.by_version[v];
    t.responses = a.latencies.size();
    t.p50_ms = exactPercentileMs(a.latencies, 50);
    t.p99_ms = exactPercentileMs(a.latencies, 99);
    std::vector<std::int64_t>().swap(a.latencies);
  }
  return out;
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
                     const SummaryOptions& o) {
  RunSummary s;
  s.intended = o.intended;
  const std::int64_t t0 = o.t0_ns.value_or(earliestIntended(records));
  const std::int64_t width = std::max<std::int64_t>(o.bucket.count(), 1);
  s.bucket_width_s = static_cast<double>(width) / 1e9;
  const std::size_t versions = names.size() + 1;  // + "unknown"
  const auto versionIndex = [&](const RequestRecord& r) { return r.version < names.size() ? r.version : names.size(); };

  // Histograms are ~230 KiB each: one per outcome and per version that occurs.
  Histogram all, lateness;
  std::array<std::unique_ptr<Histogram>, kOutcomeCount> byOutcome;
  std::vector<std::unique_ptr<Histogram>> byVersion(versions);
  std::vector<OutcomeCounts> versionCounts(versions);
  std::vector<BucketAcc> buckets;
  for (const auto& r : records) {
    if (r.sent_ns != 0) {
      const auto late = r.sent_ns - r.intended_ns;
      lateness.recordValue(late);
      if (late > kLateSendNs) ++s.late_sends;
    }
    if (r.done_ns == 0) continue;
    const std::size_t v = versionIndex(r);
    const auto oi = static_cast<std::size_t>(r.outcome);
    const std::int64_t latency = r.done_ns - r.intended_ns;
    s.outcomes.add(r.outcome);
    versionCounts[v].add(r.outcome);
    if (!byOutcome[oi]) byOutcome[oi] = std::make_unique<Histogram>();
    byOutcome[oi]->recordValue(latency);
    const auto b = static_cast<std::size_t>(std::clamp<std::int64_t>(
        (r.intended_ns - t0) / width, 0, static_cast<std::int64_t>(std::max<std::size_t>(o.max_buckets, 1) - 1)));
    if (b >= buckets.size()) buckets.resize(b + 1);
    auto& bucket = buckets[b];
    bucket.outcomes.add(r.outcome);
    if (bucket.by_version.empty()) bucket.by_version.resize(versions);
    bucket.by_version[v].add(r.outcome);
    // Latency is that of the responses services gave (ok, app_error): a
    // switcher's own 5xx is a dropped request, and its instant 503s would
    // pull the percentiles down (latency_by_outcome still has them).
    if (!isDropped(r.outcome)) {
      all.recordValue(latency);
      if (!byVersion[v]) byVersion[v] = std::make_unique<Histogram>();
      byVersion[v]->recordValue(latency);
      bucket.latencies.push_back(latency);
    }
  }
  s.sent = lateness.count();
  s.latency = latencyOf(all);
  for (std::size_t v = 0; v < versions; ++v) {
    const std::string name = v < names.size() ? names[v] : "unknown";
    if (versionCounts[v].total() != 0) s.by_version[name] = versionCounts[v];
    if (byVersion[v]) s.latency_by_version[name] = latencyOf(*byVersion[v]);
  }
  for (std::size_t i = 0; i < kOutcomeCount; ++i)
    if (byOutcome[i]) s.latency_by_outcome[std::string(kOutcomeNames[i])] = latencyOf(*byOutcome[i]);
  s.lateness.count = s.sent;
  s.lateness.p50_ms = ms(lateness.valueAtPercentile(50));
  s.lateness.p99_ms = ms(lateness.valueAtPercentile(99));
  s.lateness.max_ms = ms(lateness.max());
  s.lateness.late = s.late_sends;
  s.lateness.late_fraction = s.sent == 0 ? 0 : static_cast<double>(s.late_sends) / static_cast<double>(s.sent);
  s.max_send_lateness_ms = s.lateness.max_ms;
  s.achieved_rate_per_s = o.length_s > 0 ? static_cast<double>(s.sent) / o.length_s : 0;
  s.series = buildSeries(buckets, names, s.bucket_width_s);
  const Duration span = o.span > Duration::zero() ? o.span : Duration(static_cast<std::int64_t>(o.length_s * 1e9));
  s.worst_window = worstWindows(records, t0, span, o.window);
  return s;
}

RunSummary summarize(const std::vector<RequestRecord>& records, const std::vector<std::string>& names,
                     std::uint64_t intended, double length_s) {
  SummaryOptions o;
  o.intended = intended;
  o.length_s = length_s;
  return summarize(records, names, o);
}

}  // namespace cutover
