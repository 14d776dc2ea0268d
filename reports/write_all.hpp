#pragma once
// Every report of a run rendered from its report.json document:
// junit.xml, summary.md and report.html (report.json itself is written by
// json_report.hpp). `cutover report RUN_DIR` is rerenderRunDir(RUN_DIR).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/core/result.hpp"

namespace cutover::reports {

inline constexpr const char* kJsonFile = "report.json";
inline constexpr const char* kJunitFile = "junit.xml";
inline constexpr const char* kMarkdownFile = "summary.md";
inline constexpr const char* kHtmlFile = "report.html";

// Writes the three files into dir (created if missing), each atomically
// (temporary file, then rename). Returns the paths written.
Result<std::vector<std::string>> writeAll(const nlohmann::json& report, const std::filesystem::path& dir);

// Removes report.json and the three from dir (those that exist): before a
// run (no stale report) and after a failed write (no partial one).
void removeAll(const std::filesystem::path& dir);

// Reads dir/report.json (errors name the file and, for bad JSON, the byte)
// and writes every report next to it.
Result<std::vector<std::string>> rerenderRunDir(const std::filesystem::path& dir);

}  // namespace cutover::reports
