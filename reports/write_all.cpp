#include "reports/write_all.hpp"

#include <fstream>
#include <sstream>

#include "reports/html_report.hpp"
#include "reports/junit_report.hpp"
#include "reports/markdown_report.hpp"

namespace cutover::reports {
namespace {

namespace fs = std::filesystem;

Result<std::string> writeText(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) return Error{"cannot write " + tmp};
    out << text;
    if (!out.flush()) return Error{"cannot write " + tmp};
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Error{"cannot rename " + tmp + ": " + ec.message()};
  return path.string();
}

}  // namespace

Result<std::vector<std::string>> writeAll(const nlohmann::json& report, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{"cannot create " + dir.string() + ": " + ec.message()};
  std::vector<std::string> written;
  const std::pair<const char*, std::string (*)(const nlohmann::json&)> outputs[] = {
      {kJunitFile, &renderJunit}, {kMarkdownFile, &renderMarkdown}, {kHtmlFile, &renderHtml}};
  for (const auto& [name, render] : outputs) {
    auto path = writeText(dir / name, render(report));
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
