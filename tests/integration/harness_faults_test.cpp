// The harness under faults of its own (issue 10), each through the real
// `cutover` binary: a service that crashes at start, a port in use, a service
// that never becomes ready, SIGINT and SIGTERM to the runner mid-run.
// Each run must end with exit 3, a clear message on stderr, a report.json
// marked invalid with the reason (never a pass), and leave no child process
// and no listening port behind.
//
// The test process is a child subreaper (PR_SET_CHILD_SUBREAPER): anything
// the runner leaves behind is reparented here, so "no process left" is
// checked exactly by scanning /proc for processes whose parent is this test
// or the runner, or whose process group is one the runner made.
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <gtest/gtest.h>

#include "sim/core/signal_name.hpp"
#include "tests/integration/support.hpp"

namespace cutover::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path writeFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

nlohmann::json readReport(const fs::path& dir) {
  std::ifstream in(dir / "report.json");
  if (!in) return nlohmann::json();
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json();
  }
}

// A small two-pool scenario; `services` and `timeline` are the YAML blocks.
std::string scenarioYaml(const std::string& name, const std::string& duration, const std::string& services,
                         const std::string& timeline, const std::string& rate = "200/s") {
  return "name: " + name + "\nseed: 7\nduration: " + duration + "\nservices:\n" + services +
         "load:\n  - { arrivals: constant, rate: " + rate + ", connections: 8, timeout: 1s }\ntimeline:\n" +
         timeline + "expect: { dropped: 0 }\n";
}

const std::string kHealthyPools =
    "  blue: { version: v1, instances: 2, latency: 1ms, startup: { listen_after: 20ms, ready_after: 50ms } }\n"
    "  green: { version: v2, instances: 2, latency: 1ms, startup: { listen_after: 20ms, ready_after: 50ms } }\n";

// --- leftovers -------------------------------------------------------------

struct ProcInfo {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgid = 0;
};

std::optional<ProcInfo> procInfo(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');  // comm may contain spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  ProcInfo p;
  p.pid = pid;
  rest >> p.state >> p.ppid >> p.pgid;
  return rest ? std::optional<ProcInfo>(p) : std::nullopt;
}

// Live (non-zombie) processes that the runner left: reparented to this test
// (the subreaper), still children of the runner, or in a process group the
// runner created for a child (the group id is the child's pid).
std::vector<ProcInfo> leftovers(pid_t runner, const std::set<pid_t>& groups) {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }  // reap orphans that already exited
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid <= 0 || pid == ::getpid()) continue;
    const auto p = procInfo(pid);
    if (!p || p->state == 'Z' || p->state == 'X') continue;
    if (p->ppid == ::getpid() || p->ppid == runner || groups.count(p->pgid)) out.push_back(*p);
  }
  ::closedir(d);
  return out;
}

std::string describe(const std::vector<ProcInfo>& ps) {
  std::string s;
  for (const auto& p : ps) {
    std::ifstream cmd("/proc/" + std::to_string(p.pid) + "/cmdline");
    std::string c((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    std::replace(c.begin(), c.end(), '\0', ' ');
    s += "pid " + std::to_string(p.pid) + " ppid " + std::to_string(p.ppid) + " pgid " + std::to_string(p.pgid) +
         " " + c.substr(0, 80) + "\n";
  }
  return s;
}

// Pids and ports the run had, from its stderr lines and its report.
struct Footprint {
  std::set<pid_t> pids;
  std::set<unsigned short> ports;
};

Footprint footprintOf(const std::string& err, const nlohmann::json& report) {
  Footprint f;
  const std::regex sw(R"(switcher pid \d+ port (\d+))");
  const std::regex ready(R"(ready \S+ pid (\d+) port (\d+))");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), sw); it != std::sregex_iterator(); ++it)
    f.ports.insert(static_cast<unsigned short>(std::stoi((*it)[1])));
  for (auto it = std::sregex_iterator(err.begin(), err.end(), ready); it != std::sregex_iterator(); ++it) {
    f.pids.insert(std::stoi((*it)[1]));
    f.ports.insert(static_cast<unsigned short>(std::stoi((*it)[2])));
  }
  if (report.contains("instances"))
    for (const auto& in : report["instances"]) {
      if (in.value("pid", 0) > 0) f.pids.insert(in["pid"].get<pid_t>());
      if (in.value("port", 0) > 0) f.ports.insert(in["port"].get<unsigned short>());
    }
  return f;
}

// Nothing left: no process, no listener on any port the run used.
void expectNothingLeft(pid_t runner, const Footprint& f) {
  std::vector<ProcInfo> left;
  // PR_SET_PDEATHSIG and the process-group kills act at once, but the kernel
  // may still be tearing a process down: a generous bound, polled.
  EXPECT_TRUE(waitFor([&] { return (left = leftovers(runner, f.pids)).empty(); }, 10s)) << describe(left);
  for (const auto port : f.ports) EXPECT_TRUE(waitFor([&] { return portIsFree(port); }, 5s)) << "port " << port;
}

std::string reasons(const nlohmann::json& report) {
  if (!report.contains("verdict")) return "(no verdict)";
  return report["verdict"]["invalid_reasons"].dump();
}

// The common outcome of a run that could not do its work.
void expectInvalidRun(int code, const CutoverChild& c, const nlohmann::json& report, const std::string& reason) {
  EXPECT_EQ(code, 3) << c.err;
  ASSERT_TRUE(report.contains("verdict")) << "no report.json (or unreadable); stderr:\n" << c.err;
  EXPECT_FALSE(report["verdict"]["valid"].get<bool>());
  EXPECT_FALSE(report["verdict"]["passed"].get<bool>());
  EXPECT_NE(reasons(report).find(reason), std::string::npos) << reasons(report);
}

// The reason must reach a person watching the terminal (stderr), not only
// the report file and the stdout summary (which CI often discards).
void expectReasonOnStderr(const CutoverChild& c, const std::string& reason) {
  EXPECT_NE(c.err.find(reason), std::string::npos) << "stderr does not say '" << reason << "':\n" << c.err;
}

class HarnessFaults : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
};

// blue-1 cannot open its lifecycle log (a directory is in the way), so the
// process exits with code 3 at start, before it listens: the run must stop
// in setup, say which instance died, and stop blue-2 that did come up.
TEST_F(HarnessFaults, ServiceCrashingAtStartEndsTheRunInvalidInSetup) {
  const auto dir = tempDir("hf", "crash-setup");
  const auto out = dir / "out";
  fs::create_directories(out / "logs" / "blue-1.lifecycle");
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("crash-setup", "3s", kHealthyPools,
                                                           "  - { at: 0s, start: blue }\n"
                                                           "  - { at: 1s, start: green }\n"
                                                           "  - { at: 2s, switch: green }\n"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  const auto begin = std::chrono::steady_clock::now();
  const int code = waitExit(c, 60s);
  const auto report = readReport(out);
  const std::string reason = "service blue-1 exited before it was ready (code 3)";
  expectInvalidRun(code, c, report, reason);
  expectReasonOnStderr(c, reason);
  // It stops in setup, without running the 3 s of the scenario.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 20s);
  if (report.contains("summary")) {
    EXPECT_EQ(report["summary"]["outcomes"].value("ok", 0), 0);
  }
  expectNothingLeft(c.pid, footprintOf(c.err, report));
  fs::remove_all(dir);
}

// green gets `fault crash` through its control channel at the moment it is
// started: it exits (code 70) before it is ready, mid-run. The switch to it
// then cannot happen either.
TEST_F(HarnessFaults, ServiceCrashingAtStartMidRunMakesTheRunInvalid) {
  const auto dir = tempDir("hf", "crash-mid");
  const auto out = dir / "out";
  const std::string services =
      "  blue: { version: v1, instances: 1, latency: 1ms }\n"
      "  green: { version: v2, instances: 1, latency: 1ms, startup: { listen_after: 300ms } }\n";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("crash-mid", "2s", services,
                                                           "  - { at: 0s, start: blue }\n"
                                                           "  - { at: 500ms, start: green }\n"
                                                           "  - { at: 500ms, fault: { target: green, kind: crash } }\n"
                                                           "  - { at: 1500ms, switch: green }\n"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  const int code = waitExit(c, 60s);
  const auto report = readReport(out);
  const std::string reason = "service green-1 exited before it was ready (code 70)";
  expectInvalidRun(code, c, report, reason);
  expectReasonOnStderr(c, reason);
  EXPECT_NE(reasons(report).find("switch to green never happened"), std::string::npos) << reasons(report);
  expectNothingLeft(c.pid, footprintOf(c.err, report));
  fs::remove_all(dir);
}

// blue's /health always answers 503 and its ready_timeout is short: the run
// must give up after listen_after + ready_timeout, not wait forever.
TEST_F(HarnessFaults, ServiceNeverReadyEndsTheRunInvalidWithinItsTimeout) {
  const auto dir = tempDir("hf", "never-ready");
  const auto out = dir / "out";
  const std::string services =
      "  blue: { version: v1, instances: 2, latency: 1ms, health: { mode: failing },\n"
      "          startup: { listen_after: 20ms, ready_timeout: 500ms } }\n"
      "  green: { version: v2, instances: 1, latency: 1ms }\n";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("never-ready", "3s", services,
                                                           "  - { at: 0s, start: blue }\n"
                                                           "  - { at: 1s, start: green }\n"
                                                           "  - { at: 2s, switch: green }\n"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  const auto begin = std::chrono::steady_clock::now();
  const int code = waitExit(c, 60s);
  const auto took = std::chrono::steady_clock::now() - begin;
  const auto report = readReport(out);
  const std::string reason = "service blue-1 never became ready within 520.0 ms";
  expectInvalidRun(code, c, report, reason);
  expectReasonOnStderr(c, reason);
  EXPECT_NE(reasons(report).find("service blue-2 never became ready"), std::string::npos) << reasons(report);
  // 0.52 s of readiness wait, the services' stop, the reports: far under 20 s.
  EXPECT_LT(took, 20s);
  const auto f = footprintOf(c.err, report);
  EXPECT_GE(f.ports.size(), 2u) << "the failing services did listen; their ports must be checked";
  expectNothingLeft(c.pid, f);
  fs::remove_all(dir);
}

// Six starting instances whose /health answers after 190 ms: the runner's
// readiness probes must not hold up its loop. They did (each blocked up to
// 200 ms a pass), and a fault and its heal due at 1.5 s and 2 s fired
// together about 0.6-1.1 s late: the run was invalid. Now every timed step
// fires on time (generous: within 400 ms, the rule's bound being 500 ms),
// and the instances join once their probe's answer comes.
TEST_F(HarnessFaults, SlowHealthAnswersDoNotHoldUpTheTimeline) {
  const auto dir = tempDir("hf", "slow-health");
  const auto out = dir / "out";
  const std::string services =
      "  blue: { version: v1, instances: 1, latency: 1ms }\n"
      "  green: { version: v2, instances: 6, latency: 1ms, health: { delay: 190ms },\n"
      "           startup: { listen_after: 20ms, ready_after: 1500ms } }\n";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("slow-health", "3500ms", services,
                                                           "  - { at: 0s, start: blue }\n"
                                                           "  - { at: 500ms, start: green }\n"
                                                           "  - { at: 1500ms, fault: { target: blue-1, error_rate: 1% } }\n"
                                                           "  - { at: 2s, heal: blue-1 }\n"
                                                           "  - { at: 3s, switch: green }\n"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  EXPECT_EQ(waitExit(c, 60s), 0) << c.err;
  const auto report = readReport(out);
  ASSERT_TRUE(report.contains("verdict")) << c.err;
  EXPECT_TRUE(report["verdict"]["valid"].get<bool>()) << reasons(report);
  std::map<std::string, double> fired;
  int ready = 0;
  for (const auto& e : report["events"]) {
    if (e["source"] == "timeline") fired[e["kind"].get<std::string>()] = e["t_s"].get<double>();
    if (e["kind"] == "ready" && e["target"].get<std::string>().rfind("green-", 0) == 0) ++ready;
  }
  ASSERT_TRUE(fired.count("fault") && fired.count("heal")) << report["events"].dump();
  EXPECT_LT(fired["fault"] - 1.5, 0.4);
  EXPECT_LT(fired["heal"] - 2.0, 0.4);
  EXPECT_EQ(ready, 6);
  EXPECT_EQ(report["summary"]["final_active"], "green");
  expectNothingLeft(c.pid, footprintOf(c.err, report));
  fs::remove_all(dir);
}

// A `command:` service run through a shell that leaves a process of its own
// behind (`sleep 300 &`), then SIGKILL to the runner mid-run. PDEATHSIG
// kills the service (the direct child) only; the sleep, in the service's
// process group, survived that until the supervisor's guardian: it sees the
// runner's end and kills every group the runner made.
TEST_F(HarnessFaults, SigkillOfTheRunnerAlsoEndsWhatAServiceSpawned) {
  const auto dir = tempDir("hf", "grandchild");
  const auto out = dir / "out";
  const std::string python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const std::string services =
      "  blue: { version: v1, instances: 1, health_path: /health, startup: { ready_timeout: 10s },\n"
      "          command: [/bin/sh, -c, \"sleep 300 & exec " + python + " " + sourceDir() +
      "/tests/data/external/service.py --port {port} --version v1 --on-sigterm graceful --latency-ms 1\"] }\n";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("grandchild", "30s", services,
                                                           "  - { at: 0s, start: blue }\n", "50/s"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  ASSERT_TRUE(c.readUntil(std::regex(R"(\[\s*[1-9]\.\d/30\.0 s\]\s+\d+/s\s+completed [1-9])"), 1, 30s)) << c.err;
  const auto f = footprintOf(c.err, nlohmann::json());
  ASSERT_EQ(f.pids.size(), 1u) << c.err;
  const pid_t service = *f.pids.begin();
  // The sleep is there, in the service's group, before the kill.
  bool sleeping = false;
  for (const auto& p : leftovers(c.pid, f.pids))
    if (p.pid != service && p.pgid == service) sleeping = true;
  ASSERT_TRUE(sleeping) << describe(leftovers(c.pid, f.pids));
  ASSERT_EQ(::kill(c.pid, SIGKILL), 0);
  waitExit(c, 30s);
  expectNothingLeft(c.pid, f);
  fs::remove_all(dir);
}

// SIGINT (Ctrl-C) and SIGTERM (a CI job's cancel) once the load is running:
// the run stops in order within a bound and says so.
class RunnerSignal : public HarnessFaults, public ::testing::WithParamInterface<int> {};

TEST_P(RunnerSignal, MidRunStopsInOrderWithAnInvalidPartialReport) {
  const int sig = GetParam();
  const std::string name = interruptSignalName(sig);
  const auto dir = tempDir("hf", "signal-" + name);
  const auto out = dir / "out";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("signal", "30s", kHealthyPools,
                                                           "  - { at: 0s, start: blue }\n"
                                                           "  - { at: 500ms, start: green }\n"
                                                           "  - { at: 1s, switch: green }\n"
                                                           "  - { at: 20s, stop: blue }\n"));
  auto c = spawnCutover({"run", file.string(), "--out", out.string()});
  // Mid-run: after the switch, with both pools up and the load flowing.
  ASSERT_TRUE(c.readUntil(std::regex(R"(\[\s*[2-9]\.\d/30\.0 s\]\s+\d+/s\s+completed [1-9])"), 1, 30s)) << c.err;
  ASSERT_EQ(::kill(c.pid, sig), 0);
  const auto begin = std::chrono::steady_clock::now();
  const int code = waitExit(c, 30s);
  const auto took = std::chrono::steady_clock::now() - begin;
  const auto report = readReport(out);
  expectInvalidRun(code, c, report, "interrupted by " + name);
  expectReasonOnStderr(c, "interrupted by " + name);
  // Bounded: the load's in-flight requests (1 s timeout), graceful stops
  // (drain of idle services is immediate), the reports.
  EXPECT_LT(took, 15s);
  // Partial, not empty: what ran is in the report.
  ASSERT_TRUE(report.contains("summary"));
  EXPECT_GT(report["summary"]["outcomes"]["ok"].get<int>(), 0);
  for (const auto& in : report["instances"]) EXPECT_FALSE(in["exit"].get<std::string>().empty()) << in.dump();
  const auto f = footprintOf(c.err, report);
  EXPECT_EQ(f.pids.size(), 4u) << c.err;
  expectNothingLeft(c.pid, f);
  fs::remove_all(dir);
}

// The same for a simulated run: an hour of virtual time at 2k/s (7.2 M
// requests, seconds of CPU) stops within a few thousand steps of the signal,
// not at its end, and is reported invalid.
TEST_P(RunnerSignal, ASimulatedRunStopsTooAndIsInvalid) {
  const int sig = GetParam();
  const std::string name = interruptSignalName(sig);
  const auto dir = tempDir("hf", "sim-signal-" + name);
  const auto out = dir / "out";
  const auto file = writeFile(dir / "s.yaml", scenarioYaml("sim-signal", "1h", kHealthyPools,
                                                           "  - { at: 0s, start: blue }\n", "2k/s"));
  auto c = spawnCutover({"run", file.string(), "--mode", "sim", "--out", out.string()});
  ASSERT_TRUE(c.readUntil(std::regex("simulating sim-signal"), 1, 30s)) << c.err;
  ASSERT_EQ(::kill(c.pid, sig), 0);
  const auto begin = std::chrono::steady_clock::now();
  const int code = waitExit(c, 60s);
  const auto report = readReport(out);
  expectInvalidRun(code, c, report, "interrupted by " + name);
  expectReasonOnStderr(c, "interrupted by " + name);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 30s);
  ASSERT_TRUE(report.contains("summary"));
  EXPECT_LT(report["summary"]["sent"].get<double>(), 7.2e6) << "it ran to the end";
  fs::remove_all(dir);
}

// SIGHUP: the terminal went away (an ssh session closed); it once killed the
// runner by its default action, with no report.
INSTANTIATE_TEST_SUITE_P(Signals, RunnerSignal, ::testing::Values(SIGINT, SIGTERM, SIGHUP),
                         [](const auto& p) { return interruptSignalName(p.param); });

// --- ports in use ------------------------------------------------------------
// `cutover run` binds every port itself as port 0 (switcher and services
// alike: no scenario key sets a port), so a run cannot meet a port in use.
// The two commands that do take a port are checked instead.

// A listener held by the test on 127.0.0.1.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HeldPort() { ::close(fd_); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  unsigned short port() const { return port_; }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

TEST_F(HarnessFaults, SwitcherListenPortInUseFailsClearly) {
  HeldPort held;
  ASSERT_NE(held.port(), 0);
  const auto dir = tempDir("hf", "sw-port");
  const auto cfg = writeFile(dir / "sw.yaml", "listen: 127.0.0.1:" + std::to_string(held.port()) +
                                                  "\nadmin: 127.0.0.1:0\nactive: blue\npools:\n"
                                                  "  blue: [127.0.0.1:9]\n");
  auto c = spawnCutover({"switcher", "--config", cfg.string()});
  EXPECT_EQ(waitExit(c, 20s), 3) << c.err;
  EXPECT_NE(c.err.find("cannot listen on 127.0.0.1:" + std::to_string(held.port())), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("in use"), std::string::npos) << c.err;
  expectNothingLeft(c.pid, {});
  fs::remove_all(dir);
}

TEST_F(HarnessFaults, SwitcherAdminPortInUseFailsClearlyAndReleasesTheProxyPort) {
  HeldPort held;
  ASSERT_NE(held.port(), 0);
  // A known proxy port (free once `probe` is gone), so the test can check the
  // switcher released it after the admin API failed.
  std::uint16_t proxyPort = 0;
  {
    HeldPort probe;
    proxyPort = probe.port();
  }
  ASSERT_NE(proxyPort, 0);
  const auto dir = tempDir("hf", "admin-port");
  const auto cfg = writeFile(dir / "sw.yaml", "listen: 127.0.0.1:" + std::to_string(proxyPort) +
                                                  "\nadmin: 127.0.0.1:" + std::to_string(held.port()) +
                                                  "\nactive: blue\npools:\n  blue: [127.0.0.1:9]\n");
  auto c = spawnCutover({"switcher", "--config", cfg.string()});
  EXPECT_EQ(waitExit(c, 20s), 3) << c.err;
  EXPECT_NE(c.err.find("admin API: cannot listen on 127.0.0.1:" + std::to_string(held.port())),
            std::string::npos)
      << c.err;
  EXPECT_NE(c.err.find("in use"), std::string::npos) << c.err;
  expectNothingLeft(c.pid, {{}, {proxyPort}});
  fs::remove_all(dir);
}

TEST_F(HarnessFaults, FakeServicePortInUseExitsWithSetupFailure) {
  HeldPort held;
  ASSERT_NE(held.port(), 0);
  auto c = spawnCutover({"fake-service", "--instance", "x-1", "--port", std::to_string(held.port())});
  EXPECT_EQ(waitExit(c, 20s), 3) << c.err;
  EXPECT_NE(c.err.find("listen on 127.0.0.1:" + std::to_string(held.port()) + " failed"), std::string::npos)
      << c.err;
  EXPECT_NE(c.err.find("in use"), std::string::npos) << c.err;
}

}  // namespace
}  // namespace cutover::testing
