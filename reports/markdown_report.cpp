#include "reports/markdown_report.hpp"

#include <fmt/format.h>
#include <set>

#include "reports/render_util.hpp"

namespace cutover::reports {
namespace {

using nlohmann::json;
using namespace render;

// The measures the table names, in order; others follow under their key.
struct NamedMeasure {
  const char* key;
  const char* label;
};
constexpr NamedMeasure kNamedMeasures[] = {
    {"switch_latency_ms", "switch latency"},
    {"drain_time_ms", "drain time"},
    {"rollback_detect_latency_ms", "rollback detect latency"},
    {"rollback_recovery_latency_ms", "rollback recovery latency"},
    {"switcher_retries", "switcher retries (upstream attempts after the first)"},
};

std::string measureCell(const json& report, const std::string& key) {
  const auto& v = path(at(report, "measures"), key);  // keys hold no dots
  if (!v.is_number() && key == "rollback_recovery_latency_ms" &&
      path(at(report, "measures"), "blast_radius_unrecovered_requests").is_number())
    return "not recovered (failing to the end)";
  if (!v.is_number()) return "not measured";
  return key.ends_with("_ms") ? millis(v.get<double>()) : fixed(v.get<double>(), 0);
}

std::string header(const json& report) {
  const auto word = verdictWord(report);
  const char* icon = word == "PASS" ? "✅" : word == "FAIL" ? "❌" : "⚠️";
  std::string out = fmt::format("## {} {}: {}\n\n", icon, word, mdEscape(str(report, "scenario.name", "unnamed")));
  out += fmt::format("{} · {} mode · seed {} · {}{}\n\n", mdEscape(str(report, "scenario.file", "?")),
                     mdEscape(str(report, "scenario.mode", "?")), mdEscape(str(report, "scenario.seed", "?")),
                     seconds(num(report, "scenario.duration_s")), mdEscape(startedPart(report)));
  return out;
}

std::string numbersTable(const json& report) {
  std::string out = "| measure | value |\n|---|---:|\n";
  auto row = [&out](const std::string& label, const std::string& value) {
    out += fmt::format("| {} | {} |\n", label, value);
  };
  row("sent / intended", fmt::format("{} / {}", count(report, "summary.sent"), count(report, "summary.intended")));
  row("ok", std::to_string(count(report, "summary.outcomes.ok")));
  row("**dropped**", fmt::format("**{}**", count(report, "summary.dropped")));
  row("app\\_error", std::to_string(count(report, "summary.outcomes.app_error")));
  const bool answered = count(report, "summary.latency.count") > 0;  // else no latency, not 0 ms
  row("latency p50 / p99", answered ? millis(num(report, "summary.latency.p50_ms")) + " / " +
                                          millis(num(report, "summary.latency.p99_ms")) +
                                          fewResponsesNote(count(report, "summary.latency.count"))
                                    : std::string("none: no response from a service"));
  if (answered && count(report, "summary.worst_window.windows") > 0)
    row(fmt::format("worst {:g} s window: p99 (at)", num(report, "summary.worst_window.width_s")),
        fmt::format("{} ({:.1f} s){}", millis(num(report, "summary.worst_window.p99_ms")),
                    num(report, "summary.worst_window.p99_at_s"),
                    fewResponsesNote(count(report, "summary.worst_window.p99_responses"))));
  std::set<std::string> shown;
  for (const auto& m : kNamedMeasures) {
    row(m.label, measureCell(report, m.key));
    shown.insert(m.key);
  }
  const auto& measures = at(report, "measures");
  if (measures.is_object())
    for (const auto& [k, v] : measures.items())
      if (!shown.contains(k)) row(mdEscape(k), measureCell(report, k));
  row("final active pool", mdEscape(str(report, "summary.final_active", "none")));
  std::vector<ExitSeen> exits;
  if (const auto& list = at(report, "instances"); list.is_array())
    for (const auto& in : list)
      if (has(in, "exited_s") && num(in, "exited_s") < num(report, "scenario.duration_s"))
        exits.push_back({str(in, "id", "?"), str(in, "exit"), num(in, "exited_s")});
  if (!exits.empty()) row("exits before the run's end", mdEscape(exitsLine(exits, kExitsListed)));
  return out + "\n";
}

std::string bulletSection(const std::string& title, const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string out = "### " + title + "\n\n";
  for (const auto& i : items) out += "- " + mdEscape(i) + "\n";
  return out + "\n";
}

std::string causesSection(const json& report) {
  const auto& causes = path(report, "summary.dropped_by_cause");
  const auto top = topCounts(causes, kMarkdownTopCauses);
  if (top.empty()) return "";
  std::string out = "### Top drop causes\n\n| dropped | cause |\n|---:|---|\n";
  for (const auto& [cause, n] : top) out += fmt::format("| {} | {} |\n", n, mdEscape(cause));
  if (causes.size() > top.size()) out += fmt::format("\n{} more causes in report.json.\n", causes.size() - top.size());
  std::string byOutcome;
  for (const auto* o : {"switch_error", "reset", "refused", "timeout"}) {
    const auto n = count(report, std::string("summary.outcomes.") + o);
    if (n > 0) byOutcome += fmt::format("{}{} {}", byOutcome.empty() ? "" : ", ", mdEscape(o), n);
  }
  if (!byOutcome.empty()) out += "\nDropped by outcome: " + byOutcome + ".\n";
  return out + "\n";
}

}  // namespace

std::string renderMarkdown(const json& report) {
  std::string out = header(report);
  out += numbersTable(report);
  out += bulletSection("Why the run is invalid", strings(report, "verdict.invalid_reasons"));
  out += bulletSection("Failed expectations", strings(report, "verdict.failures"));
  out += causesSection(report);
  const auto lesson = str(report, "scenario.lesson");
  if (!lesson.empty()) out += "> **Lesson:** " + mdEscape(lesson) + "\n\n";
  out += "<sub>Rendered by cutover from report.json (schema_version " +
         mdEscape(str(report, "schema_version", "?")) + "); see report.html for the timeline.</sub>\n";
  return out;
}

}  // namespace cutover::reports
