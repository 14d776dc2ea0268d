#include "reports/html_charts.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <tuple>

#include "reports/render_util.hpp"

namespace cutover::reports::html {
namespace {

using nlohmann::json;
using namespace render;

constexpr std::array<const char*, 5> kFailureOutcomes = {"app_error", "switch_error", "reset", "refused", "timeout"};
constexpr double kWidth = 960, kHeight = 210, kLeft = 64, kRight = 16, kTop = 14, kBottom = 30;

// ---- the timeline model -------------------------------------------------

std::uint64_t outcomeTotal(const json& outcomes) {
  std::uint64_t n = 0;
  if (outcomes.is_object())
    for (const auto& [k, v] : outcomes.items()) n += count(v, "");
  return n;
}

void addTo(std::vector<std::pair<std::string, std::uint64_t>>& list, const std::string& key, std::uint64_t n) {
  for (auto& [k, v] : list)
    if (k == key) {
      v += n;
      return;
    }
  list.emplace_back(key, n);
}

std::vector<std::string> versionsOf(const json& series) {
  std::vector<std::string> versions;
  bool unknown = false;
  for (const auto& b : series) {
    const auto& bv = at(b, "by_version");
    if (!bv.is_object()) continue;
    for (const auto& [v, c] : bv.items()) {
      if (v == "unknown") unknown = true;
      else if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
    }
  }
  std::sort(versions.begin(), versions.end());
  if (unknown) versions.emplace_back("unknown");
  return versions;
}

std::vector<Column> columnsOf(const json& report) {
  const auto& series = path(report, "summary.series");
  std::vector<Column> cols;
  if (!series.is_array() || series.empty()) return cols;
  double width = num(report, "summary.bucket_width_s", 0.1);
  if (width <= 0) width = 0.1;
  const std::size_t per = (series.size() + kMaxColumns - 1) / kMaxColumns;
  for (std::size_t i = 0; i < series.size(); i += per) {
    Column c;
    c.t0 = num(series[i], "t_s", static_cast<double>(i) * width);
    for (std::size_t j = i; j < std::min(series.size(), i + per); ++j) {
      const auto& b = series[j];
      c.t1 = num(b, "t_s", static_cast<double>(j) * width) + width;
      const auto& bv = at(b, "by_version");
      if (bv.is_object())
        for (const auto& [v, o] : bv.items()) addTo(c.by_version, v, outcomeTotal(o));
      for (const auto* o : kFailureOutcomes) addTo(c.failures, o, count(b, std::string("outcomes.") + o));
      const bool answered = has(b, "responses")
                                ? count(b, "responses") > 0
                                : count(b, "outcomes.ok") + count(b, "outcomes.app_error") > 0;
      if (!answered) continue;
      c.p50_ms = c.has_latency ? std::max(c.p50_ms, num(b, "p50_ms")) : num(b, "p50_ms");
      c.p99_ms = c.has_latency ? std::max(c.p99_ms, num(b, "p99_ms")) : num(b, "p99_ms");
      c.has_latency = true;
    }
    cols.push_back(std::move(c));
  }
  return cols;
}

// The marker of an event, or kind "" when the charts do not show it.
Marker markerOf(const json& e) {
  const auto source = str(e, "source"), kind = str(e, "kind"), target = str(e, "target"), detail = str(e, "detail");
  const double t = num(e, "t_s");
  if (source == "timeline") {
    if (kind == "switch") return {t, "switch → " + target, "switch"};
    if (kind == "fault") return {t, "fault " + target, "fault"};
    if (kind == "rollback") return {t, "rollback → " + target, "rollback"};
    if (kind == "signal") return {t, (detail.empty() ? "signal" : detail) + " " + target, "signal"};
    if (kind == "stop") return {t, "stop " + target, "signal"};
    return {t, kind + " " + target, "other"};
  }
  if (source == "switcher") {
    if (kind == "switched") return {t, "switched → " + target, "switch"};
    if (kind == "rollback") return {t, "rolled back → " + target, "rollback"};
    if (kind == "drained") return {t, target + " drained", "drain"};
    if (kind == "switch_refused" || kind == "ejected" || kind == "drain_timeout" || kind == "panic")
      return {t, kind + " " + target, "fault"};
    return {};
  }
  if (source == "service" && kind == "exited") return {t, target + " exited", "exit"};
  if (source == "runner" && (kind == "switch_failed" || kind == "rollback_failed" || kind == "killed"))
    return {t, kind + " " + target, "fault"};
  return {};
}

std::vector<Marker> markersOf(const json& events, double t_end) {
  std::vector<Marker> out;
  if (!events.is_array()) return out;
  double lastSwitch = -1e300;
  for (const auto& e : events) {
    auto m = markerOf(e);
    if (m.kind.empty() || m.t_s < 0 || m.t_s > t_end) continue;
    const bool commanded = str(e, "source") == "timeline" && str(e, "kind") == "switch";
    if (commanded) lastSwitch = m.t_s;
    // A switch the timeline commanded is already marked: skip its echo.
    if (str(e, "source") == "switcher" && str(e, "kind") == "switched" && m.t_s - lastSwitch < 0.05) continue;
    if (out.size() >= kMaxMarkers) break;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Window> windowsOf(const json& report, double t_end) {
  std::vector<Window> out;
  const auto& events = at(report, "events");
  if (!events.is_array()) return out;
  bool firstFault = true;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (str(e, "source") != "timeline") continue;
    const double t = num(e, "t_s");
    if (str(e, "kind") == "switch") {
      for (std::size_t j = i + 1; j < events.size(); ++j)
        if (str(events[j], "source") == "switcher" && str(events[j], "kind") == "drained" &&
            str(events[j], "target") != str(e, "target")) {
          out.push_back({t, std::min(t_end, num(events[j], "t_s")), "switch → drained", "switch"});
          break;
        }
    } else if (str(e, "kind") == "fault") {
      double to = -1;
      if (firstFault && has(report, "measures.rollback_recovery_latency_ms"))
        to = t + num(report, "measures.rollback_recovery_latency_ms") / 1000;
      for (std::size_t j = i + 1; j < events.size() && to < 0; ++j)
        if (str(events[j], "kind") == "heal" || str(events[j], "kind") == "rollback") to = num(events[j], "t_s");
      if (to < t) to = t_end;  // never recovered: shade to the end
      out.push_back({t, std::min(t_end, to), "fault → recovery", "fault"});
      firstFault = false;
    }
  }
  return out;
}

// ---- SVG drawing --------------------------------------------------------

double niceStep(double span, int ticks) {
  if (span <= 0) return 1;
  const double raw = span / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

struct Frame {
  double t0, t1, ymax;
  double x(double t) const { return kLeft + (t - t0) / (t1 - t0) * (kWidth - kLeft - kRight); }
  double y(double v) const { return kHeight - kBottom - v / ymax * (kHeight - kTop - kBottom); }
};

Frame frameOf(const Timeline& tl, double ymax) {
  const double step = niceStep(ymax, 4);
  return {0, std::max(tl.t_end, 1e-3), std::max(step, std::ceil(ymax / step) * step)};
}

std::string fmtTick(double v) { return v == std::floor(v) && std::abs(v) < 1e12 ? fixed(v, 0) : fmt::format("{:g}", v); }

std::string svgOpen(const std::string& id, const std::string& label, std::size_t points) {
  return fmt::format(
      "<svg class=\"chart\" id=\"{}\" data-points=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n",
      id, points, kWidth, kHeight, xmlEscape(label));
}

std::string axes(const Frame& f, const std::string& unit) {
  std::string out;
  const double ystep = niceStep(f.ymax, 4);
  for (double v = 0; v <= f.ymax + ystep / 2; v += ystep)
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        kLeft, kWidth - kRight, f.y(v), f.y(v), kLeft - 6, f.y(v) + 4, fmtTick(v));
  const double xstep = niceStep(f.t1 - f.t0, 10);
  for (double t = 0; t <= f.t1 + 1e-9; t += xstep)
    out += fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}s</text>\n", f.x(t),
                       kHeight - kBottom + 16, fmtTick(t));
  out += fmt::format("<line class=\"axis\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>\n", kLeft,
                     kWidth - kRight, f.y(0), f.y(0));
  out += fmt::format("<text class=\"unit\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", 4.0, kTop - 2, xmlEscape(unit));
  return out;
}

std::string windowsAndMarkers(const Timeline& tl, const Frame& f) {
  std::string out;
  for (const auto& w : tl.windows) {
    const double x0 = f.x(w.from_s), x1 = std::max(f.x(w.to_s), x0 + 2);
    out += fmt::format(
        "<rect class=\"window {}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"><title>{}: {} to {}"
        "</title></rect>\n",
        w.kind, x0, kTop, x1 - x0, kHeight - kTop - kBottom, xmlEscape(w.label), seconds(w.from_s), seconds(w.to_s));
  }
  for (const auto& m : tl.markers)
    out += fmt::format(
        "<line class=\"marker {}\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"><title>{} at {}</title>"
        "</line>\n",
        m.kind, f.x(m.t_s), f.x(m.t_s), kTop, kHeight - kBottom, xmlEscape(m.label), seconds(m.t_s));
  return out;
}

struct Stack {
  std::string key;
  std::string colour;
};

// Stacked bars of per-column counts (rate = count / column width when `rate`).
std::string stackedBars(const Timeline& tl, const std::vector<Stack>& stacks, bool rate, const std::string& id,
                        const std::string& label, const std::string& unit,
                        std::vector<std::pair<std::string, std::uint64_t>> Column::*field) {
  auto value = [rate](const Column& c, std::uint64_t n) {
    return rate ? static_cast<double>(n) / std::max(c.t1 - c.t0, 1e-9) : static_cast<double>(n);
  };
  double ymax = 0;
  for (const auto& c : tl.columns) {
    double sum = 0;
    for (const auto& [k, n] : c.*field) sum += value(c, n);
    ymax = std::max(ymax, sum);
  }
  const auto f = frameOf(tl, ymax > 0 ? ymax : 1);
  std::string bars;
  std::size_t points = 0;
  for (const auto& c : tl.columns) {
    double base = 0;
    const double x0 = f.x(c.t0) + 0.5, w = std::max(f.x(c.t1) - f.x(c.t0) - 1, 0.5);
    for (const auto& s : stacks) {
      std::uint64_t n = 0;
      for (const auto& [k, v] : c.*field)
        if (k == s.key) n = v;
      if (n == 0) continue;
      const double v = value(c, n);
      bars += fmt::format(
          "<rect class=\"pt\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}–{}: "
          "{} {} ({} requests{})</title></rect>\n",
          x0, f.y(base + v), w, f.y(base) - f.y(base + v), s.colour, fixed(c.t0, 2), seconds(c.t1), xmlEscape(s.key),
          rate ? fixed(v, 0) + "/s" : std::to_string(n), n, rate ? "" : " failed");
      base += v;
      ++points;
    }
  }
  return svgOpen(id, label, points) + axes(f, unit) + windowsAndMarkers(tl, f) + bars + "</svg>\n";
}

}  // namespace

Timeline timelineOf(const json& report) {
  Timeline tl;
  tl.columns = columnsOf(report);
  const auto& series = path(report, "summary.series");
  tl.buckets = series.is_array() ? series.size() : 0;
  tl.versions = versionsOf(path(report, "summary.series"));
  tl.t_end = std::max(num(report, "scenario.duration_s"), tl.columns.empty() ? 0.0 : tl.columns.back().t1);
  tl.markers = markersOf(at(report, "events"), tl.t_end);
  tl.windows = windowsOf(report, tl.t_end);
  return tl;
}

std::string versionColour(const json& report, const std::string& version, std::size_t index) {
  static constexpr std::array<const char*, 6> kPalette = {"#6366f1", "#f97316", "#14b8a6", "#eab308", "#ec4899",
                                                          "#8b5cf6"};
  if (version == "unknown") return "#9ca3af";
  const auto& instances = at(report, "instances");
  if (instances.is_array())
    for (const auto& i : instances)
      if (str(i, "version") == version) {
        const auto pool = str(i, "pool");
        if (pool == "blue") return "#3b82f6";
        if (pool == "green") return "#22c55e";
        break;
      }
  return kPalette[index % kPalette.size()];
}

std::string outcomeColour(const std::string& outcome) {
  if (outcome == "ok") return "#22c55e";
  if (outcome == "app_error") return "#f59e0b";
  if (outcome == "switch_error") return "#ef4444";
  if (outcome == "reset") return "#a855f7";
  if (outcome == "refused") return "#db2777";
  if (outcome == "timeout") return "#92400e";
  return "#6b7280";
}

std::string throughputChart(const Timeline& tl, const std::vector<std::string>& colours) {
  std::vector<Stack> stacks;
  for (std::size_t i = 0; i < tl.versions.size(); ++i)
    stacks.push_back({tl.versions[i], i < colours.size() ? colours[i] : "#6b7280"});
  return stackedBars(tl, stacks, true, "chart-throughput", "requests per second by version", "req/s",
                     &Column::by_version);
}

std::string failuresChart(const Timeline& tl) {
  std::vector<Stack> stacks;
  for (const auto* o : kFailureOutcomes) stacks.push_back({o, outcomeColour(o)});
  return stackedBars(tl, stacks, false, "chart-failures", "failed requests per bucket by outcome", "failed",
                     &Column::failures);
}

std::string eventStrip(const Timeline& tl) {
  constexpr double kRow = 16;
  constexpr std::size_t kRows = 6;
  const auto f = frameOf(tl, 1);
  std::vector<double> rowEnd(kRows, -1e9);
  std::string labels;
  std::size_t used = 1;
  std::vector<const Marker*> order;
  for (const auto& m : tl.markers) order.push_back(&m);
  std::stable_sort(order.begin(), order.end(), [](const Marker* a, const Marker* b) { return a->t_s < b->t_s; });
  for (const auto* m : order) {
    const double x = f.x(m->t_s);
    // Glyphs of 11 px sans-serif average ~6.3 px; the label starts 4 px right of its line.
    const double w = 6.3 * static_cast<double>(m->label.size()) + 10;
    const bool flip = x + w > kWidth;  // near the right edge: text to the left of the line
    const double start = flip ? x - w : x;
    std::size_t row = 0;
    while (row < kRows && rowEnd[row] > start) ++row;
    if (row == kRows) row = static_cast<std::size_t>(std::min_element(rowEnd.begin(), rowEnd.end()) - rowEnd.begin());
    rowEnd[row] = start + w;
    used = std::max(used, row + 1);
    const double y = kRow * static_cast<double>(row + 1);
    labels += fmt::format(
        "<g class=\"evt {}\"><line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"@H@\"/><text x=\"{:.1f}\" "
        "y=\"{:.1f}\" text-anchor=\"{}\">{}</text><title>{} at {}</title></g>\n",
        m->kind, x, x, y - 10, flip ? x - 4 : x + 4, y, flip ? "end" : "start", xmlEscape(m->label),
        xmlEscape(m->label), seconds(m->t_s));
  }
  const double height = kRow * static_cast<double>(used) + 6;
  std::string out;
  const auto h = fixed(height, 1);
  for (std::size_t pos = labels.find("@H@"); pos != std::string::npos; pos = labels.find("@H@", pos))
    labels.replace(pos, 3, h);
  out += fmt::format(
      "<svg class=\"strip\" id=\"event-strip\" viewBox=\"0 0 {} {:.1f}\" role=\"img\" aria-label=\"events\">\n",
      kWidth, height);
  return out + labels + "</svg>\n";
}

std::string latencyChart(const Timeline& tl) {
  double ymax = 0;
  for (const auto& c : tl.columns)
    if (c.has_latency) ymax = std::max(ymax, c.p99_ms);
  const auto f = frameOf(tl, ymax > 0 ? ymax : 1);
  std::string lines, dots;
  std::size_t points = 0;
  for (const auto& [name, colour, member] :
       {std::tuple{"p50", "#2563eb", &Column::p50_ms}, std::tuple{"p99", "#dc2626", &Column::p99_ms}}) {
    std::string pts;
    for (const auto& c : tl.columns) {
      if (!c.has_latency) {
        if (!pts.empty()) lines += fmt::format("<polyline class=\"line\" stroke=\"{}\" points=\"{}\"/>\n", colour, pts);
        pts.clear();
        continue;
      }
      const double x = (f.x(c.t0) + f.x(c.t1)) / 2, y = f.y(c.*member);
      pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ", x, y);
      dots += fmt::format("<circle class=\"pt\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"><title>{}–{}: {} {}"
                          "</title></circle>\n",
                          x, y, colour, fixed(c.t0, 2), seconds(c.t1), name, millis(c.*member));
      ++points;
    }
    if (!pts.empty()) lines += fmt::format("<polyline class=\"line\" stroke=\"{}\" points=\"{}\"/>\n", colour, pts);
  }
  return svgOpen("chart-latency", "latency p50 and p99 per bucket", points) + axes(f, "ms") +
         windowsAndMarkers(tl, f) + lines + dots + "</svg>\n";
}

}  // namespace cutover::reports::html
