#pragma once
// report.json: the source of truth of a run. Its contract (docs/report-json.md)
// is kept by every later change: top-level schema_version, scenario, summary
// {sent, dropped, outcomes{6 words}, by_version{v: outcomes}}, verdict {valid,
// passed, failures}, measures {name_unit: number}, events, instances.
#include <nlohmann/json.hpp>
#include <string>

#include "metrics/run_result.hpp"
#include "sim/core/result.hpp"

namespace cutover::reports {

inline constexpr int kReportSchemaVersion = 1;

nlohmann::json toJson(const RunResult& result);
// Writes dir/report.json atomically (temporary file, then rename), creating
// dir. Returns the path written.
Result<std::string> writeJsonReport(const RunResult& result, const std::string& dir);

}  // namespace cutover::reports
