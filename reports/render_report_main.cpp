// cutover_render_report RUN_DIR | REPORT_JSON [OUT_DIR]: renders junit.xml,
// summary.md and report.html from RUN_DIR/report.json into RUN_DIR (what
// `cutover report RUN_DIR` will do), or from REPORT_JSON into OUT_DIR (default:
// its directory; the report.json is copied there).
#include <cstdio>
#include <filesystem>

#include "reports/write_all.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s RUN_DIR | REPORT_JSON [OUT_DIR]\n", argv[0]);
    return 2;
  }
  std::error_code ec;
  if (argc == 2 && fs::is_directory(argv[1], ec)) {
    const auto written = cutover::reports::rerenderRunDir(argv[1]);
    if (!written) {
      std::fprintf(stderr, "error: %s\n", written.error().message.c_str());
      return 2;
    }
    for (const auto& p : written.value()) std::printf("%s\n", p.c_str());
    return 0;
  }
  const fs::path json = argv[1];
  const fs::path out = argc == 3 ? fs::path(argv[2]) : json.parent_path();
  if (argc == 3 && fs::absolute(json.parent_path(), ec) != fs::absolute(out, ec)) {
    fs::create_directories(out, ec);
    fs::copy_file(json, out / "report.json", fs::copy_options::overwrite_existing, ec);
    if (ec) {
      std::fprintf(stderr, "error: cannot copy %s to %s: %s\n", json.c_str(), out.c_str(), ec.message().c_str());
      return 2;
    }
  }
  const auto written = cutover::reports::rerenderRunDir(out.empty() ? fs::path(".") : out);
  if (!written) {
    std::fprintf(stderr, "error: %s\n", written.error().message.c_str());
    return 2;
  }
  for (const auto& p : written.value()) std::printf("%s\n", p.c_str());
  return 0;
}
