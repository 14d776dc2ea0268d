#pragma once
// Fixture report.json documents of tests/data/reports/<name>/ and golden-file
// comparison. Set CUTOVER_UPDATE_GOLDEN=1 to rewrite the golden files from
// the current output (then review the diff and commit it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace cutover::reports::testing {

inline std::filesystem::path dataDir() { return std::filesystem::path(CUTOVER_SOURCE_DIR) / "tests/data/reports"; }

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline nlohmann::json fixture(const std::string& name) {
  const auto text = readFile(dataDir() / name / "report.json");
  EXPECT_FALSE(text.empty()) << "missing fixture " << name;
  return nlohmann::json::parse(text);
}

inline bool updatingGolden() {
  const char* v = std::getenv("CUTOVER_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

// Compares `actual` with the golden file data/reports/<name>/<file>, or
// rewrites the golden file when CUTOVER_UPDATE_GOLDEN=1.
inline void expectGolden(const std::string& name, const std::string& file, const std::string& actual) {
  const auto path = dataDir() / name / file;
  if (updatingGolden()) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    std::cout << "updated " << path << "\n";
    return;
  }
  const auto expected = readFile(path);
  ASSERT_FALSE(expected.empty()) << path << " is missing; run with CUTOVER_UPDATE_GOLDEN=1 to create it";
  EXPECT_EQ(actual, expected) << "output differs from " << path
                              << "; if the change is intended, run with CUTOVER_UPDATE_GOLDEN=1 and review the diff";
}

}  // namespace cutover::reports::testing
