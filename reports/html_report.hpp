#pragma once
// report.html from a report.json document: one self-contained page (inline
// CSS, inline SVG, a few lines of inline script; no network, enforced by a
// Content-Security-Policy of default-src 'none'). Summary cards, the verdict,
// the timeline charts (reports/html_charts.hpp), drop causes, the first
// dropped requests, events, instances and the scenario's lesson. Every text
// from the report is HTML-escaped; the script reads nothing from the report.
#include <nlohmann/json.hpp>
#include <string>

namespace cutover::reports {

inline constexpr std::size_t kHtmlMaxRows = 200;  // per table

std::string renderHtml(const nlohmann::json& report);

}  // namespace cutover::reports
