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

void removeAll(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {kJsonFile, kJunitFile, kMarkdownFile, kHtmlFile}) fs::remove(dir / f, ec);
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
  std::string missing;
  const auto need = [&](bool ok, const std::string& what) {  // not ok: `what` joins the list
    if (!ok) missing += (missing.empty() ? "" : ", ") + what;
  };
  const auto has = [](const nlohmann::json& j, const char* key) { return j.is_object() && j.contains(key); };
  const auto object = [&](const char* key) { return has(report, key) && report[key].is_object(); };
  for (const char* key : {"scenario", "summary", "verdict", "measures"}) need(object(key), std::string(key) + " (an object)");
  for (const char* key : {"events", "instances"})
    need(has(report, key) && report[key].is_array(), std::string(key) + " (a list)");
  if (object("verdict"))
    for (const char* key : {"valid", "passed"})
      need(has(report["verdict"], key) && report["verdict"][key].is_boolean(),
           std::string("verdict.") + key + " (true or false)");
  if (object("summary"))
    for (const char* key : {"sent", "intended", "dropped"})
      need(has(report["summary"], key) && report["summary"][key].is_number(), std::string("summary.") + key + " (a number)");
  if (!missing.empty()) return Error{file.string() + ": not a whole cutover report: needs " + missing};
  return writeAll(report, dir);
}

}  // namespace cutover::reports
