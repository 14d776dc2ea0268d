// A team's own service (services.<pool>.command) under cutover, through the
// real binary: tests/data/external/service.py (a few lines of Python
// http.server with a SIGTERM handler) is validated when it drains gracefully,
// when it exits at once, and when it ignores SIGTERM (killed after its grace
// period: clean_exit fails). Late sends are not judged (shared 2-core box).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;

struct RunOut {
  int exit = -1;
  nlohmann::json report;
  fs::path dir;
};

// The system python starts faster than a version-manager shim.
std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

// Indexes into own-service.yaml's command list.
constexpr int kOnSigterm = 7;
constexpr int kLatencyMs = 9;

RunOut runOwn(const std::string& name, const std::string& onSigterm, const std::string& latencyMs) {
  RunOut r;
  r.dir = fs::temp_directory_path() / ("cutover-external-" + std::to_string(::getpid())) / name;
  fs::remove_all(r.dir);
  fs::create_directories(r.dir.parent_path());
  std::string sets = " --set validity.max_late_sends=100%";
  for (const char* pool : {"blue", "green"})
    sets += std::string(" --set services.") + pool + ".command.0=" + python();
  sets += " --set services.blue.command." + std::to_string(kOnSigterm) + "=" + onSigterm;
  sets += " --set services.blue.command." + std::to_string(kLatencyMs) + "=" + latencyMs;
  const std::string cmd = "cd " + sourceDir() + " && timeout 120 " + cutoverBinary() +
                          " run -q tests/data/external/own-service.yaml" + sets + " --out " + r.dir.string() + " >" +
                          r.dir.string() + ".log 2>&1";
  const int status = std::system(cmd.c_str());
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(r.dir / "report.json");
  if (in) r.report = nlohmann::json::parse(in, nullptr, false);
  return r;
}

std::uint64_t dropped(const RunOut& r) {
  const auto& o = r.report["summary"]["outcomes"];
  return o["switch_error"].get<std::uint64_t>() + o["reset"].get<std::uint64_t>() +
         o["refused"].get<std::uint64_t>() + o["timeout"].get<std::uint64_t>();
}

const nlohmann::json* check(const RunOut& r, const std::string& name) {
  for (const auto& c : r.report["verdict"]["expectations"])
    if (c["name"] == name) return &c;
  return nullptr;
}

std::string fileText(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ExternalService, GracefulDrainDropsNothingAndExitsClean) {
  const auto r = runOwn("graceful", "graceful", "50");
  ASSERT_TRUE(r.report.is_object()) << "no report.json; see " << r.dir.string() << ".log";
  EXPECT_EQ(r.exit, 0) << r.report["verdict"].dump();
  EXPECT_EQ(dropped(r), 0u) << r.report["dropped_requests"].dump();
  EXPECT_EQ(r.report["summary"]["final_active"], "green");
  const auto* clean = check(r, "clean_exit");
  ASSERT_NE(clean, nullptr) << r.report["verdict"].dump();
  EXPECT_TRUE((*clean)["passed"].get<bool>()) << clean->dump();
  for (const auto& in : r.report["instances"]) EXPECT_EQ(in["exit"], "code 0") << in.dump();
  // Its stdout/stderr went to the run directory.
  EXPECT_NE(fileText(r.dir / "logs" / "blue-1.log").find("drained"), std::string::npos);
}

TEST(ExternalService, ExitingAtOnceDropsTheRequestsInFlight) {
  const auto r = runOwn("immediate", "immediate", "200");  // ~20 requests in flight on blue at the stop
  ASSERT_TRUE(r.report.is_object()) << "no report.json; see " << r.dir.string() << ".log";
  EXPECT_EQ(r.exit, 1) << r.report["verdict"].dump();  // dropped: 0 fails
  EXPECT_GT(dropped(r), 0u);
  const auto* clean = check(r, "clean_exit");
  ASSERT_NE(clean, nullptr);
  EXPECT_TRUE((*clean)["passed"].get<bool>()) << "exit code 0 at once is a clean exit; the drops tell the story";
}

TEST(ExternalService, IgnoringSigtermIsKilledAfterTheGracePeriodAndFailsCleanExit) {
  const auto r = runOwn("ignore", "ignore", "50");
  ASSERT_TRUE(r.report.is_object()) << "no report.json; see " << r.dir.string() << ".log";
  EXPECT_EQ(r.exit, 1) << r.report["verdict"].dump();
  const auto* clean = check(r, "clean_exit");
  ASSERT_NE(clean, nullptr);
  EXPECT_FALSE((*clean)["passed"].get<bool>());
  bool killed = false;
  for (const auto& e : r.report["events"])
    killed |= e["kind"] == "killed" && e["detail"].get<std::string>().find("did not exit within the grace period") !=
                                           std::string::npos;
  EXPECT_TRUE(killed) << r.report["events"].dump();
  for (const auto& in : r.report["instances"])
    if (in["pool"] == "blue") {
      EXPECT_EQ(in["exit"], "signal 9") << in.dump();
    }
}

TEST(ExternalService, ACommandThatIsNotFoundMakesTheRunInvalid) {
  RunOut r;
  r.dir = fs::temp_directory_path() / ("cutover-external-" + std::to_string(::getpid())) / "missing";
  fs::remove_all(r.dir);
  fs::create_directories(r.dir.parent_path());
  const std::string cmd = "cd " + sourceDir() + " && timeout 60 " + cutoverBinary() +
                          " run -q tests/data/external/own-service.yaml --set services.blue.command.0=no-such-program-x"
                          " --out " + r.dir.string() + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 3);
  std::ifstream in(r.dir / "report.json");
  ASSERT_TRUE(in);
  const auto report = nlohmann::json::parse(in, nullptr, false);
  EXPECT_NE(report["verdict"]["invalid_reasons"].dump().find("no-such-program-x"), std::string::npos)
      << report["verdict"].dump();
}

}  // namespace
}  // namespace cutover::testing
