#include "reports/write_all.hpp"

#include <fstream>
#include <sstream>

#include "reports/html_report.hpp"
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
  return writeAll(report, dir);
}

}  // namespace cutover::reports
