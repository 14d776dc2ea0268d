// The bad-input catalogue (tests/data/bad/*.yaml, issue 10): every file is
// rejected by `cutover validate` and by `cutover run --out DIR` with exit
// code 2, each expected error printed as "FILE:LINE:COL: KEY: ...FRAGMENT",
// and nothing run: no report.json written.
//
// Each file opens with one or more lines
//   # expect: LINE:COL KEY: FRAGMENT
// (KEY "-" when the error has no key, e.g. YAML syntax), optionally
// followed by "# schema: accepts" (tests/schema/check_schema.py reads it).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kExitBadInput = 2;
constexpr std::size_t kMinCatalogueSize = 25;

struct Expected {
  int line = 0;
  int column = 0;
  std::string key;  // "" when the error has no key
  std::string fragment;
};

struct BadFile {
  fs::path path;
  std::vector<Expected> expected;
  std::string header_error;  // why the header could not be read, if so
};

fs::path catalogueDir() { return fs::path(sourceDir()) / "tests" / "data" / "bad"; }

BadFile readBadFile(const fs::path& path) {
  BadFile f{path, {}, {}};
  std::ifstream in(path);
  static const std::regex kExpect(R"(^# expect: (\d+):(\d+) (\S+): (.+)$)");
  std::string line;
  bool first = true;
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    std::smatch m;
    if (std::regex_match(line, m, kExpect)) {
      f.expected.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3] == "-" ? "" : std::string(m[3]), m[4]});
    } else if (first) {
      f.header_error = "first line is not '# expect: LINE:COL KEY: FRAGMENT': " + line;
    }
    first = false;
  }
  if (f.expected.empty() && f.header_error.empty()) f.header_error = "no '# expect:' line";
  return f;
}

std::vector<fs::path> catalogue() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(catalogueDir(), ec))
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}


struct Outcome {
  int exit_code = -1;  // -1: killed or did not finish
  std::string out;
  std::string err;
};

// Runs `cutover ARGS` with stdout and stderr in files under `dir`; bounded.
Outcome runCutover(const std::vector<std::string>& args, const fs::path& dir) {
  const auto outPath = dir / "stdout.txt";
  const auto errPath = dir / "stderr.txt";
  std::vector<std::string> all = {cutoverBinary()};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(127);
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Outcome r;
  if (pid < 0) return r;
  int status = 0;
  const bool done = waitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(30));
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
  r.out = slurp(outPath);
  r.err = slurp(errPath);
  return r;
}

// The stderr line that reports `e` for `file`, or nullopt.
std::optional<std::string> findError(const std::string& err, const std::string& file, const Expected& e) {
  const std::string where = file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " +
                            (e.key.empty() ? "" : e.key + ": ");
  std::istringstream lines(err);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(where) != std::string::npos && line.find(e.fragment) != std::string::npos) return line;
  return std::nullopt;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cutover-bad-input-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(BadInputCatalogue, HasEnoughFilesEachWithAnExpectation) {
  const auto files = catalogue();
  EXPECT_GE(files.size(), kMinCatalogueSize) << "in " << catalogueDir();
  for (const auto& f : files) {
    const auto bad = readBadFile(f);
    EXPECT_TRUE(bad.header_error.empty()) << f.filename() << ": " << bad.header_error;
  }
}

class BadInput : public ::testing::TestWithParam<fs::path> {};

void expectRejected(const BadFile& bad, const Outcome& r, const std::string& what) {
  const std::string file = bad.path.string();
  EXPECT_EQ(r.exit_code, kExitBadInput) << what << " " << file << "\nstderr:\n" << r.err;
  EXPECT_NE(r.err.find("nothing was run"), std::string::npos) << what << "\nstderr:\n" << r.err;
  for (const auto& e : bad.expected) {
    EXPECT_TRUE(findError(r.err, file, e))
        << what << ": no error line with '" << file << ":" << e.line << ":" << e.column << ": "
        << (e.key.empty() ? "" : e.key + ": ") << "' and '" << e.fragment << "'\nstderr:\n" << r.err;
  }
}

TEST_P(BadInput, ValidateRejectsItWithFileLineKeyAndMessage) {
  const auto bad = readBadFile(GetParam());
  ASSERT_TRUE(bad.header_error.empty()) << bad.header_error;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const auto r = runCutover({"validate", bad.path.string()}, tmp.path());
  expectRejected(bad, r, "cutover validate");
  EXPECT_EQ(r.out.find(": ok ("), std::string::npos) << r.out;
}

TEST_P(BadInput, RunRejectsItAndWritesNoReport) {
  const auto bad = readBadFile(GetParam());
  ASSERT_TRUE(bad.header_error.empty()) << bad.header_error;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const auto outDir = tmp.path() / "out";
  const auto r = runCutover({"run", bad.path.string(), "--out", outDir.string()}, tmp.path());
  expectRejected(bad, r, "cutover run");
  EXPECT_FALSE(fs::exists(outDir / "report.json"));
  EXPECT_FALSE(fs::exists(outDir)) << "bad input must not create the output directory";
}

std::string testName(const ::testing::TestParamInfo<fs::path>& info) {
  std::string name = info.param.stem().string();
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInput, ::testing::ValuesIn(catalogue()), testName);

}  // namespace
}  // namespace cutover::testing
