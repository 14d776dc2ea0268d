#include "reports/json_report.hpp"

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

}  // namespace

json toJson(const RunResult& r) {
  json byVersion = json::object();
  for (const auto& [v, c] : r.summary.by_version) byVersion[v] = outcomesJson(c);
  json latByVersion = json::object();
  for (const auto& [v, l] : r.summary.latency_by_version) latByVersion[v] = latencyJson(l);
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
                      {"p50_ms", b.p50_ms}, {"p99_ms", b.p99_ms}});
  }
  json measures = json::object();
  for (const auto& [k, v] : r.measures) measures[k] = v;
  return {
      {"schema_version", kReportSchemaVersion},
      {"scenario", {{"name", r.scenario}, {"file", r.scenario_file}, {"mode", r.mode}, {"seed", r.seed},
                    {"duration_s", r.duration_s}, {"started_utc", r.started_utc}}},
      {"summary",
       {{"intended", r.summary.intended},
        {"sent", r.summary.sent},
        {"dropped", r.summary.outcomes.dropped()},
        {"outcomes", outcomesJson(r.summary.outcomes)},
        {"by_version", byVersion},
        {"latency", latencyJson(r.summary.latency)},
        {"latency_by_version", latByVersion},
        {"achieved_rate_per_s", r.summary.achieved_rate_per_s},
        {"max_send_lateness_ms", r.summary.max_send_lateness_ms},
        {"late_sends", r.summary.late_sends},
        {"lateness", {{"p50_ms", r.summary.lateness.p50_ms}, {"p99_ms", r.summary.lateness.p99_ms},
                      {"max_ms", r.summary.lateness.max_ms}, {"late", r.summary.lateness.late},
                      {"late_fraction", r.summary.lateness.late_fraction}}},
        {"bucket_width_s", r.summary.bucket_width_s},
        {"series", series},
        {"dropped_by_class", r.dropped_by_class},
        {"dropped_by_cause", r.dropped_by_cause},
        {"final_active", r.final_active}}},
      {"verdict", {{"valid", r.verdict.valid}, {"passed", r.verdict.passed},
                   {"failures", r.verdict.failures}, {"invalid_reasons", r.verdict.invalid_reasons}}},
      {"measures", measures},
      {"events", events},
      {"instances", instances},
  };
}

Result<std::string> writeJsonReport(const RunResult& result, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{"cannot create " + dir + ": " + ec.message()};
  const auto path = (fs::path(dir) / "report.json").string();
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Error{"cannot write " + tmp};
    out << toJson(result).dump(2) << "\n";
    if (!out.flush()) return Error{"cannot write " + tmp};
  }
  fs::rename(tmp, path, ec);
  if (ec) return Error{"cannot rename " + tmp + ": " + ec.message()};
  return path;
}

}  // namespace cutover::reports
