#include "reports/write_all.hpp"

#include <fstream>
#include <sstream>

#include "reports/html_report.hpp"
#include "reports/json_report.hpp"
#include "reports/junit_report.hpp"
#include "reports/markdown_report.hpp"
#include "reports/render_util.hpp"

namespace cutover::reports {
namespace {

namespace fs = std::filesystem;

using render::writeFileAtomic;

}  // namespace

Result<std::vector<std::string>> writeAll(const nlohmann::json& report, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{"cannot create " + dir.string() + ": " + ec.message()};
  std::vector<std::string> written;
  const std::pair<const char*, std::string (*)(const nlohmann::json&)> outputs[] = {
      {kJunitFile, &renderJunit}, {kMarkdownFile, &renderMarkdown}, {kHtmlFile, &renderHtml}};
  for (const auto& [name, render] : outputs) {
    auto path = writeFileAtomic(dir / name, render(report));
    if (!path) return path.error();
    written.push_back(std::move(path).value());
  }
  return written;
}

Result<std::vector<std::string>> rerenderRunDir(const fs::path& dir) {
  const auto file = dir / "report.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{"cannot read " + file.string()};
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json report;
  try {
    report = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    return Error{file.string() + ": not JSON (byte " + std::to_string(e.byte) + "): " + e.what()};
  }
  if (!report.is_object() || !report.contains("schema_version"))
    return Error{file.string() + ": not a cutover report (no schema_version)"};
  if (report["schema_version"] != kReportSchemaVersion)
    return Error{file.string() + ": schema_version " + report["schema_version"].dump() + ", this cutover reads " +
                 std::to_string(kReportSchemaVersion)};
  // The parts every rendering reads, with the types they need: a report
  // that lacks them must not render as a pass with 0 of 0 sent.
  const auto object = [&](const char* key) { return report.contains(key) && report[key].is_object(); };
  std::string missing;
  for (const char* key : {"scenario", "summary", "verdict", "measures"})
    if (!object(key)) missing += std::string(missing.empty() ? "" : ", ") + key + " (an object)";
  for (const char* key : {"events", "instances"})
    if (!report.contains(key) || !report[key].is_array())
      missing += std::string(missing.empty() ? "" : ", ") + key + " (a list)";
  if (object("verdict"))
    for (const char* key : {"valid", "passed"})
      if (!report["verdict"].contains(key) || !report["verdict"][key].is_boolean())
        missing += std::string(missing.empty() ? "" : ", ") + "verdict." + key + " (true or false)";
  if (object("summary"))
    for (const char* key : {"sent", "intended", "dropped"})
      if (!report["summary"].contains(key) || !report["summary"][key].is_number())
        missing += std::string(missing.empty() ? "" : ", ") + "summary." + key + " (a number)";
  if (!missing.empty()) return Error{file.string() + ": not a whole cutover report: needs " + missing};
  return writeAll(report, dir);
}

}  // namespace cutover::reports
