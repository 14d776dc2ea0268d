#pragma once
// The SVG timeline charts of report.html, written by cutover from the
// report.json document (see docs/reports.md for why SVG from C++ rather than
// a charting library): throughput per version (stacked bars), failures by
// outcome (stacked bars), latency p50/p99 per bucket (lines with points),
// all on one time axis with event markers and shaded windows (switch ->
// drained, fault -> recovery). Every data mark has class "pt" and a <title>
// tooltip; each <svg> carries data-points (its count of marks).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cutover::reports::html {

// At most this many columns are drawn; longer series merge neighbouring
// buckets (counts summed, p50/p99 the maximum of the merged buckets).
inline constexpr std::size_t kMaxColumns = 400;
inline constexpr std::size_t kMaxMarkers = 60;

struct Column {
  double t0 = 0, t1 = 0;  // seconds since t=0
  std::vector<std::pair<std::string, std::uint64_t>> by_version;  // requests per version
  std::vector<std::pair<std::string, std::uint64_t>> failures;    // per failure outcome
  bool has_latency = false;
  double p50_ms = 0, p99_ms = 0;
};

struct Marker {
  double t_s = 0;
  std::string label;  // "switch → green"
  std::string kind;   // css class: switch | fault | rollback | drain | signal | exit | other
};

struct Window {
  double from_s = 0, to_s = 0;
  std::string label;
  std::string kind;  // switch | fault
};

struct Timeline {
  double t_end = 0;  // right edge of the time axis
  std::vector<Column> columns;
  std::size_t buckets = 0;  // buckets of summary.series (> columns.size() when merged)
  std::vector<std::string> versions;  // stacking order
  std::vector<Marker> markers;
  std::vector<Window> windows;
};

Timeline timelineOf(const nlohmann::json& report);
// A colour per version (blue/green by the pool that runs it, else a palette).
std::string versionColour(const nlohmann::json& report, const std::string& version, std::size_t index);
std::string outcomeColour(const std::string& outcome);

std::string throughputChart(const Timeline& tl, const std::vector<std::string>& colours);
std::string failuresChart(const Timeline& tl);
std::string latencyChart(const Timeline& tl);
// The event labels above the charts, on the charts' time axis, in up to 6 rows.
std::string eventStrip(const Timeline& tl);

}  // namespace cutover::reports::html
