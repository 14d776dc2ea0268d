#include "reports/json_report.hpp"

#include "reports/render_util.hpp"

#include <filesystem>
#include <fstream>

namespace cutover::reports {
namespace {

using nlohmann::json;

json outcomesJson(const OutcomeCounts& c) {
  json o = json::object();
  for (std::size_t i = 0; i < kOutcomeCount; ++i) o[std::string(kOutcomeNames[i])] = c.n[i];
  return o;
}

json latencyJson(const LatencySummary& l) {
  return {{"count", l.count}, {"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms}, {"p99_ms", l.p99_ms},
          {"p999_ms", l.p999_ms}, {"max_ms", l.max_ms}, {"mean_ms", l.mean_ms}};
}

json expectationsJson(const std::vector<ExpectationCheck>& checks) {
  json out = json::array();
  for (const auto& c : checks)
    out.push_back({{"name", c.name}, {"passed", c.passed}, {"measured", c.measured}, {"expected", c.expected},
                   {"message", c.message}});
  return out;
}

json droppedJson(const RunResult& r, const ReportExtras& x) {
  json list = json::array();
  for (const auto& d : x.dropped) {
    if (list.size() >= x.dropped_list_limit) break;
    list.push_back({{"request_id", d.request_id}, {"intended_s", d.intended_s}, {"done_s", d.done_s},
                    {"outcome", d.outcome}, {"version", d.version}, {"instance", d.instance},
                    {"connection_id", d.connection_id}, {"connection_reuse", d.connection_reuse},
                    {"cause_class", d.cause_class}, {"cause", d.cause}});
  }
  return {{"limit", x.dropped_list_limit}, {"total", r.summary.outcomes.dropped()}, {"first", list}};
}

}  // namespace

json toJson(const RunResult& r, const ReportExtras& x) {
  json byVersion = json::object();
  for (const auto& [v, c] : r.summary.by_version) byVersion[v] = outcomesJson(c);
  json latByVersion = json::object();
  for (const auto& [v, l] : r.summary.latency_by_version) latByVersion[v] = latencyJson(l);
  json latByOutcome = json::object();  // each outcome's own, switch errors and timeouts included
  for (const auto& [o, l] : r.summary.latency_by_outcome) latByOutcome[o] = latencyJson(l);
  json events = json::array();
  for (const auto& e : r.events)
    events.push_back({{"t_s", e.t_s}, {"source", e.source}, {"kind", e.kind}, {"target", e.target}, {"detail", e.detail}});
  json instances = json::array();
  for (const auto& i : r.instances) {
    json j = {{"id", i.id}, {"pool", i.pool}, {"version", i.version}, {"port", i.port}, {"pid", i.pid},
              {"exit", i.exit}};
    j["ready_s"] = i.ready_s ? json(*i.ready_s) : json(nullptr);
    j["exited_s"] = i.exited_s ? json(*i.exited_s) : json(nullptr);
    instances.push_back(j);
  }
  json series = json::array();
  for (const auto& b : r.summary.series) {
    json byV = json::object();
    for (const auto& [v, c] : b.by_version) byV[v] = outcomesJson(c);
    series.push_back({{"t_s", b.t_s}, {"outcomes", outcomesJson(b.outcomes)}, {"by_version", byV},
                      {"responses", b.responses}, {"p50_ms", b.p50_ms}, {"p99_ms", b.p99_ms}});
  }
  json measures = json::object();
  for (const auto& [k, v] : r.measures) measures[k] = v;
  json doc = {
      {"schema_version", kReportSchemaVersion},
      {"scenario", {{"name", r.scenario}, {"file", r.scenario_file}, {"mode", r.mode}, {"seed", r.seed},
                    {"duration_s", r.duration_s}, {"time_scale", r.time_scale}, {"started_utc", r.started_utc}}},
      {"summary",
       {{"intended", r.summary.intended},
        {"sent", r.summary.sent},
        {"dropped", r.summary.outcomes.dropped()},
        {"outcomes", outcomesJson(r.summary.outcomes)},
        {"by_version", byVersion},
        {"latency", latencyJson(r.summary.latency)},
        {"latency_by_version", latByVersion},
        {"latency_by_outcome", latByOutcome},
        {"achieved_rate_per_s", r.summary.achieved_rate_per_s},
        {"max_send_lateness_ms", r.summary.max_send_lateness_ms},
        {"late_sends", r.summary.late_sends},
        {"lateness", {{"p50_ms", r.summary.lateness.p50_ms}, {"p99_ms", r.summary.lateness.p99_ms},
                      {"max_ms", r.summary.lateness.max_ms}, {"late", r.summary.lateness.late},
                      {"late_fraction", r.summary.lateness.late_fraction}}},
        {"bucket_width_s", r.summary.bucket_width_s},
        {"series", series},
        {"worst_window", {{"width_s", r.summary.worst_window.width_s}, {"windows", r.summary.worst_window.windows},
                          {"p90_ms", r.summary.worst_window.p90_ms}, {"p90_at_s", r.summary.worst_window.p90_at_s},
                          {"p99_ms", r.summary.worst_window.p99_ms}, {"p99_at_s", r.summary.worst_window.p99_at_s},
                          {"dropped_rate", r.summary.worst_window.dropped_rate},
                          {"dropped_at_s", r.summary.worst_window.dropped_at_s},
                          {"p99_responses", r.summary.worst_window.p99_responses},
                          {"dropped_requests", r.summary.worst_window.dropped_requests},
                          {"dropped_count", r.summary.worst_window.dropped_count}}},
        {"dropped_by_class", r.dropped_by_class},
        {"dropped_by_cause", r.dropped_by_cause},
        {"final_active", r.final_active},
        {"load_generator", {{"cpu_s", r.load_generator.cpu_s}, {"wall_s", r.load_generator.wall_s},
                            {"cpu_pct_of_core", r.load_generator.cpu_pct_of_core},
                            {"peak_connections", r.load_generator.peak_connections},
                            {"connections_opened", r.load_generator.connections_opened}}}}},
      {"verdict", {{"valid", r.verdict.valid}, {"passed", r.verdict.passed},
                   {"failures", r.verdict.failures}, {"invalid_reasons", r.verdict.invalid_reasons}}},
      {"measures", measures},
      {"events", events},
      {"instances", instances},
  };
  if (!x.description.empty()) doc["scenario"]["description"] = x.description;
  if (!x.lesson.empty()) doc["scenario"]["lesson"] = x.lesson;
  if (!x.expectations.empty()) doc["verdict"]["expectations"] = expectationsJson(x.expectations);
  if (x.dropped_list_limit > 0) doc["dropped_requests"] = droppedJson(r, x);
  return doc;
}

Result<std::string> writeJsonFile(const json& report, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return Error{"cannot create " + parent.string() + ": " + ec.message()};
  // Invalid UTF-8 in scenario text must not abort the report: replace it.
  return render::writeFileAtomic(path, report.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

Result<std::string> writeJsonReport(const RunResult& result, const ReportExtras& extras, const std::string& dir) {
  return writeJsonFile(toJson(result, extras), (std::filesystem::path(dir) / "report.json").string());
}

Result<std::string> writeJsonReport(const RunResult& result, const std::string& dir) {
  return writeJsonReport(result, ReportExtras{}, dir);
}

}  // namespace cutover::reports
