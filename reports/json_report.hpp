#pragma once
// report.json: the source of truth of a run. Its contract (docs/report-json.md,
// docs/report-schema.json) is kept by every later change: top-level
// schema_version, scenario, summary {sent, dropped, outcomes{6 words},
// by_version{v: outcomes}, series}, verdict {valid, passed, failures},
// measures {name_unit: number}, events, instances; optional dropped_requests.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/run_result.hpp"
#include "sim/core/result.hpp"

namespace cutover::reports {

inline constexpr int kReportSchemaVersion = 1;
using cutover::kDroppedListLimit;

// ExpectationCheck and DroppedRequest live in metrics/run_result.hpp (the
// runner and the judge fill them); the names stay usable here.
using cutover::DroppedRequest;
using cutover::ExpectationCheck;

// What report.json holds beyond RunResult; each part is written only when set.
struct ReportExtras {
  std::string description;                    // scenario.description
  std::string lesson;                         // scenario.lesson
  std::vector<ExpectationCheck> expectations; // verdict.expectations (when non-empty)
  std::size_t dropped_list_limit = 0;         // dropped_requests written when > 0
  std::vector<DroppedRequest> dropped;        // the first dropped_list_limit drops
};

nlohmann::json toJson(const RunResult& result, const ReportExtras& extras = {});
// Writes dir/report.json atomically (temporary file, then rename), creating
// dir. Returns the path written.
Result<std::string> writeJsonReport(const RunResult& result, const std::string& dir);
Result<std::string> writeJsonReport(const RunResult& result, const ReportExtras& extras, const std::string& dir);
// The same for a document already built (cutover report re-renders from one).
Result<std::string> writeJsonFile(const nlohmann::json& report, const std::string& path);

}  // namespace cutover::reports
