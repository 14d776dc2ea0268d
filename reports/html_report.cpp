#include "reports/html_report.hpp"

#include <fmt/format.h>

#include "reports/html_charts.hpp"
#include "reports/render_util.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;
using namespace render;

constexpr const char* kStyle = R"css(
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1000px;margin:0 auto;padding:20px 20px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:26px 0 8px}
.meta{color:var(--muted);font-size:13px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;vertical-align:3px;margin-left:8px}
.PASS{background:#16a34a}.FAIL{background:#dc2626}.INVALID{background:#d97706}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(145px,1fr));gap:10px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .v{font-size:18px;font-weight:600;line-height:1.3}.card .k{color:var(--muted);font-size:12px}
.card.bad .v{color:#dc2626}.card.good .v{color:#16a34a}
.lesson{background:#eff6ff;border-left:4px solid #3b82f6;padding:10px 14px;border-radius:4px;margin:12px 0}
.problems{background:#fef2f2;border-left:4px solid #dc2626;padding:8px 14px;border-radius:4px}
.problems.invalid{background:#fffbeb;border-left-color:#d97706}
.problems ul{margin:4px 0;padding-left:20px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 10px;margin-bottom:10px}
.panel h3{font-size:13px;margin:0 0 2px;font-weight:600}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,-apple-system,"DejaVu Sans",sans-serif;fill:var(--muted)}
.grid{stroke:var(--line)}.axis{stroke:#9ca3af}.unit{font-weight:600}
.line{fill:none;stroke-width:1.6}
.window.switch{fill:#3b82f6;fill-opacity:.12}.window.fault{fill:#ef4444;fill-opacity:.12}
.marker{stroke-width:1.2;stroke-dasharray:4 3}
.marker.switch,.evt.switch line{stroke:#2563eb}.marker.fault,.evt.fault line{stroke:#dc2626}
.marker.rollback,.evt.rollback line{stroke:#9333ea}.marker.drain,.evt.drain line{stroke:#0891b2}
.marker.signal,.evt.signal line{stroke:#d97706}.marker.exit,.evt.exit line{stroke:#6b7280}
.marker.other,.evt.other line{stroke:#9ca3af}
.evt line{stroke-width:1.2}.evt text{fill:var(--fg)}
.legend{font-size:12px;color:var(--muted);margin:2px 0 4px}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.legend i.shade-switch{background:rgba(59,130,246,.25)}.legend i.shade-fault{background:rgba(239,68,68,.25)}
table{border-collapse:collapse;width:100%;background:var(--card);font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:var(--muted);font-size:12px}
footer{margin-top:30px;color:var(--muted);font-size:12px}
)css";

// Counts the drawn data points per chart and records script errors in the
// DOM, for tests/browser/check_html.sh (chromium --dump-dom). Reads no data.
constexpr const char* kScript = R"js(
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
document.addEventListener('DOMContentLoaded', function () {
  var counts = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var n = svg.querySelectorAll('.pt').length;
    if (String(n) !== svg.getAttribute('data-points')) window.__errors.push(svg.id + ': point count mismatch');
    counts.push(svg.id + ':' + n);
  });
  document.body.setAttribute('data-chart-points', counts.join(','));
  document.body.setAttribute('data-errors', String(window.__errors.length));
  document.body.setAttribute('data-error-text', window.__errors.join(' | '));
  document.body.setAttribute('data-rendered', 'yes');
});
)js";

std::string esc(const std::string& s) { return xmlText(s); }

std::string card(const std::string& label, const std::string& value, const std::string& tone = "") {
  return fmt::format("<div class=\"card{}\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>\n",
                     tone.empty() ? "" : " " + tone, esc(value), esc(label));
}

std::string measureValue(const json& report, const char* key) {
  const auto& v = at(at(report, "measures"), key);
  return v.is_number() ? millis(v.get<double>()) : "—";
}

std::string cards(const json& report) {
  const auto dropped = count(report, "summary.dropped");
  const auto sent = count(report, "summary.sent"), intended = count(report, "summary.intended");
  std::string out = "<section class=\"cards\">\n";
  out += card("requests sent / intended", fmt::format("{} / {}", sent, intended), sent < intended ? "bad" : "");
  out += card("ok", std::to_string(count(report, "summary.outcomes.ok")));
  out += card("dropped", std::to_string(dropped), dropped > 0 ? "bad" : "good");
  out += card("app_error", std::to_string(count(report, "summary.outcomes.app_error")));
  out += card("latency p50 / p99" + fewResponsesNote(count(report, "summary.latency.count")),
              count(report, "summary.latency.count") == 0
                                      ? std::string("none (no response from a service)")
                                      : millis(num(report, "summary.latency.p50_ms")) + " / " +
                                            millis(num(report, "summary.latency.p99_ms")));
  out += card("switch latency", measureValue(report, "switch_latency_ms"));
  out += card("drain time", measureValue(report, "drain_time_ms"));
  const bool unrecovered = has(report, "measures.blast_radius_unrecovered_requests");
  if (has(report, "measures.rollback_detect_latency_ms") || has(report, "measures.rollback_recovery_latency_ms") ||
      unrecovered) {
    out += card("rollback detect", measureValue(report, "rollback_detect_latency_ms"));
    out += card("rollback recovery", unrecovered ? std::string("not recovered")
                                                 : measureValue(report, "rollback_recovery_latency_ms"),
                unrecovered ? "bad" : "");
  }
  if (unrecovered)
    out += card("failed since the fault (to the end)",
                fixed(num(report, "measures.blast_radius_unrecovered_requests"), 0) + " requests", "bad");
  if (has(report, "measures.blast_radius_requests"))
    out += card("blast radius", fixed(num(report, "measures.blast_radius_requests"), 0) + " requests");
  if (has(report, "measures.switcher_retries"))
    out += card("switcher retries (upstream attempts after the first)",
                fixed(num(report, "measures.switcher_retries"), 0));
  out += card("active pool at the end", str(report, "summary.final_active", "none"));
  out += card("achieved rate", fixed(num(report, "summary.achieved_rate_per_s"), 0) + "/s");
  return out + "</section>\n";
}

std::string problems(const json& report) {
  std::string out;
  const auto reasons = strings(report, "verdict.invalid_reasons");
  if (!reasons.empty()) {
    out += "<div class=\"problems invalid\"><strong>The run is invalid</strong> (it did not do its work):<ul>";
    for (const auto& r : reasons) out += "<li>" + esc(r) + "</li>";
    out += "</ul></div>\n";
  }
  const auto failures = strings(report, "verdict.failures");
  if (!failures.empty()) {
    out += "<div class=\"problems\"><strong>Expectations that did not hold</strong><ul>";
    for (const auto& f : failures) out += "<li>" + esc(f) + "</li>";
    out += "</ul></div>\n";
  }
  return out;
}

std::string legendItem(const std::string& colour, const std::string& label) {
  return fmt::format("<span><i style=\"background:{}\"></i>{}</span>", esc(colour), esc(label));
}

std::string charts(const json& report) {
  const auto tl = html::timelineOf(report);
  std::vector<std::string> colours;
  std::string versionLegend;
  for (std::size_t i = 0; i < tl.versions.size(); ++i) {
    colours.push_back(html::versionColour(report, tl.versions[i], i));
    versionLegend += legendItem(colours.back(), tl.versions[i]);
  }
  std::string failureLegend;
  for (const auto* o : {"app_error", "switch_error", "reset", "refused", "timeout"})
    failureLegend += legendItem(html::outcomeColour(o), o);
  const std::string shading =
      "<span><i class=\"shade-switch\"></i>switch → drained</span><span><i class=\"shade-fault\"></i>fault → "
      "recovery</span>";
  std::string out = "<h2>Timeline</h2>\n";
  if (tl.columns.empty()) return out + "<p class=\"note\">No time series in this report.</p>\n";
  out += "<div class=\"panel\"><h3>Events</h3>" + html::eventStrip(tl) + "</div>\n";
  out += "<div class=\"panel\"><h3>Throughput by version (stacked, requests/s)</h3><div class=\"legend\">" +
         versionLegend + shading + "</div>" + html::throughputChart(tl, colours) + "</div>\n";
  out += "<div class=\"panel\"><h3>Failed requests by outcome (per bucket)</h3><div class=\"legend\">" +
         failureLegend + "</div>" + html::failuresChart(tl) + "</div>\n";
  out += "<div class=\"panel\"><h3>Latency per bucket (from the intended send time)</h3><div class=\"legend\">" +
         legendItem("#2563eb", "p50") + legendItem("#dc2626", "p99") + "</div>" + html::latencyChart(tl) +
         "</div>\n";
  out += fmt::format("<p class=\"note\">Buckets of {}; {} columns drawn{}. Hover a bar or point for its numbers.</p>\n",
                     millis(num(report, "summary.bucket_width_s", 0.1) * 1000), tl.columns.size(),
                     tl.buckets > tl.columns.size() ? " (neighbouring buckets merged: counts summed, "
                                                              "percentiles the maximum)"
                                                            : "");
  return out;
}

std::string causes(const json& report) {
  std::string out = "<h2>Drop causes</h2>\n";
  const auto byClass = topCounts(path(report, "summary.dropped_by_class"), kHtmlMaxRows);
  const auto byCause = topCounts(path(report, "summary.dropped_by_cause"), kHtmlMaxRows);
  if (byCause.empty() && byClass.empty()) return out + "<p>No request was dropped.</p>\n";
  out += "<table id=\"causes\"><tr><th>dropped</th><th>cause</th></tr>\n";
  for (const auto& [c, n] : byCause) out += fmt::format("<tr><td class=\"n\">{}</td><td>{}</td></tr>\n", n, esc(c));
  out += "</table>\n";
  if (!byClass.empty()) {
    out += "<p class=\"note\">By class: ";
    for (std::size_t i = 0; i < byClass.size(); ++i)
      out += fmt::format("{}{} {}", i ? ", " : "", esc(byClass[i].first), byClass[i].second);
    out += ".</p>\n";
  }
  return out;
}

std::string droppedList(const json& report) {
  const auto& first = path(report, "dropped_requests.first");
  if (!first.is_array() || first.empty()) return "";
  std::string out = fmt::format("<h2>First dropped requests</h2>\n<p class=\"note\">{} listed of {} dropped.</p>\n",
                                std::min<std::size_t>(first.size(), kHtmlMaxRows),
                                count(report, "dropped_requests.total"));
  out += "<table id=\"dropped\"><tr><th>id</th><th>intended</th><th>outcome</th><th>version</th>"
         "<th title=\"the instance named in the answer the client got; for the switcher's own error, the last one it "
         "tried: after a retry, not always the one the cause names\">last instance tried</th><th>cause</th></tr>\n";
  for (std::size_t i = 0; i < first.size() && i < kHtmlMaxRows; ++i) {
    const auto& d = first[i];
    out += fmt::format("<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}"
                       "</td></tr>\n",
                       count(d, "request_id"), seconds(num(d, "intended_s")), esc(str(d, "outcome")),
                       esc(str(d, "version")), esc(str(d, "instance")), esc(str(d, "cause")));
  }
  return out + "</table>\n";
}

std::string eventsTable(const json& report) {
  const auto& events = at(report, "events");
  if (!events.is_array() || events.empty()) return "";
  std::string out = "<h2>Events</h2>\n<table id=\"events\"><tr><th>t</th><th>source</th><th>kind</th><th>target</th>"
                    "<th>detail</th></tr>\n";
  for (std::size_t i = 0; i < events.size() && i < kHtmlMaxRows; ++i) {
    const auto& e = events[i];
    out += fmt::format("<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       seconds(num(e, "t_s")), esc(str(e, "source")), esc(str(e, "kind")), esc(str(e, "target")),
                       esc(str(e, "detail")));
  }
  if (events.size() > kHtmlMaxRows)
    out += fmt::format("<tr><td colspan=\"5\" class=\"note\">{} more in report.json</td></tr>\n",
                       events.size() - kHtmlMaxRows);
  return out + "</table>\n";
}

std::string instancesTable(const json& report) {
  const auto& inst = at(report, "instances");
  if (!inst.is_array() || inst.empty()) return "";
  std::string out = "<h2>Instances</h2>\n<table id=\"instances\"><tr><th>id</th><th>pool</th><th>version</th>"
                    "<th>ready</th><th>exited</th><th>exit</th></tr>\n";
  auto when = [](const json& i, const char* key) { return has(i, key) ? seconds(num(i, key)) : std::string("—"); };
  for (std::size_t k = 0; k < inst.size() && k < kHtmlMaxRows; ++k) {
    const auto& i = inst[k];
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}"
                       "</td></tr>\n",
                       esc(str(i, "id")), esc(str(i, "pool")), esc(str(i, "version")), when(i, "ready_s"),
                       when(i, "exited_s"), esc(str(i, "exit")));
  }
  return out + "</table>\n";
}

std::string head(const json& report) {
  const auto name = str(report, "scenario.name", "unnamed");
  const auto word = verdictWord(report);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "script-src 'unsafe-inline'; img-src data:\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += fmt::format("<title>{} {}: cutover report</title>\n", word, esc(name));
  out += fmt::format("<style>{}</style>\n<script>{}</script>\n</head>\n", kStyle, kScript);
  out += fmt::format("<body data-verdict=\"{}\">\n<main>\n", word);
  out += fmt::format("<h1>{}<span class=\"badge {}\">{}</span></h1>\n", esc(name), word, word);
  out += fmt::format("<div class=\"meta\">{} · {} mode · seed {} · {}{}</div>\n",
                     esc(str(report, "scenario.file", "?")), esc(str(report, "scenario.mode", "?")),
                     esc(str(report, "scenario.seed", "?")), seconds(num(report, "scenario.duration_s")),
                     esc(startedPart(report)));
  const auto description = str(report, "scenario.description");
  if (!description.empty()) out += "<p>" + esc(description) + "</p>\n";
  return out;
}

}  // namespace

std::string renderHtml(const json& report) {
  std::string out = head(report);
  out += cards(report);
  out += problems(report);
  const auto lesson = str(report, "scenario.lesson");
  if (!lesson.empty()) out += "<div class=\"lesson\" id=\"lesson\"><strong>Lesson.</strong> " + esc(lesson) + "</div>\n";
  out += charts(report);
  out += causes(report);
  out += droppedList(report);
  out += eventsTable(report);
  out += instancesTable(report);
  out += fmt::format("<footer>Rendered by cutover from report.json (schema_version {}). Times are seconds since "
                     "t=0, when the load started.</footer>\n</main>\n</body>\n</html>\n",
                     esc(str(report, "schema_version", "?")));
  return out;
}

}  // namespace cutover::reports
