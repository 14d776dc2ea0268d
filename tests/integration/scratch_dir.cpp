// Every integration test binary runs in a scratch directory of its own: a
// global test environment makes one with mkdtemp under the caller's TMPDIR
// (or /tmp), points TMPDIR at it for the tests and the children they start
// (std::filesystem::temp_directory_path reads TMPDIR), and removes it when
// the binary ends, also when a test failed an ASSERT before its own cleanup.
// CUTOVER_KEEP_TEST_DIRS=1 keeps it and prints where it is.
// Linked as an object (not from the static support library) so that its
// registration is always in the binary.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

class ScratchDir : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    had_tmpdir_ = base != nullptr;
    if (had_tmpdir_) previous_ = base;
    std::string tmpl = (had_tmpdir_ && *base ? std::string(base) : std::string("/tmp")) + "/cutover-tests-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("scratch directory for the tests");
      return;  // the tests run in the caller's TMPDIR
    }
    path_ = tmpl;
    ::setenv("TMPDIR", path_.c_str(), 1);
  }

  void TearDown() override {
    if (path_.empty()) return;
    if (had_tmpdir_) {
      ::setenv("TMPDIR", previous_.c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
    if (const char* keep = std::getenv("CUTOVER_KEEP_TEST_DIRS"); keep && *keep && std::string(keep) != "0") {
      std::fprintf(stderr, "test files kept in %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

 private:
  std::string path_;
  std::string previous_;
  bool had_tmpdir_ = false;
};

[[maybe_unused]] ::testing::Environment* const kScratch = ::testing::AddGlobalTestEnvironment(new ScratchDir);

}  // namespace
