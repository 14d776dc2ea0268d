// The supervisor with real child processes: a run loop's wait ends when a
// child exits, not at the end of its tick; without an exit it lasts to its
// deadline; terminateAll stops what is left.
#include "sim/runner/supervisor.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>
#include <string>

#include <gtest/gtest.h>

#include "sim/core/clock.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;

std::string logPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cutover-supervisor-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

// A child that exits at once ends a 60 s wait early (generous: a wait that
// ignored the exit would take the whole 60 s), and reap() then has it.
TEST(Supervisor, AWaitEndsWhenAChildExits) {
  Supervisor sup;
  const auto log = logPath("exit");
  const auto pid = sup.spawn("exits", {"/bin/sh", "-c", "exit 3"}, log);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  const auto start = monoNow();
  sup.waitUntil(start + 60s);
  EXPECT_LT(monoNow() - start, 30s);
  const auto exits = sup.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].pid, pid.value());
  EXPECT_FALSE(exits[0].signaled);
  EXPECT_EQ(exits[0].code, 3);
  EXPECT_TRUE(sup.alive().empty());
  std::filesystem::remove(log);
}

// A child gets stdin, stdout and stderr (and fds 3 and 4 when asked for),
// nothing else of the runner's: an open socket here (not close-on-exec, as
// Asio's are) must not be held by the child, or a port outlives its owner.
TEST(Supervisor, AChildInheritsNoOtherFileDescriptor) {
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC
  ASSERT_GE(sock, 0);
  Supervisor sup;
  const auto log = logPath("fds");
  const auto pid = sup.spawn("fds", {"/bin/sh", "-c", "ls /proc/$$/fd"}, log);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  sup.waitUntil(monoNow() + 30s);
  ASSERT_EQ(sup.reap().size(), 1u);
  std::ifstream in(log);
  std::vector<std::string> fds;
  for (std::string fd; in >> fd;) fds.push_back(fd);
  // The shell's own: 0, 1, 2, and the fd ls reads the directory with.
  EXPECT_LE(fds.size(), 4u) << ::testing::PrintToString(fds);
  for (const auto& fd : fds) EXPECT_NE(fd, std::to_string(sock)) << "the child holds the parent's socket";
  ::close(sock);
  std::filesystem::remove(log);
}

// No child exits: the wait lasts until its deadline; a stopped child is then
// terminated by its signal and reported so.
TEST(Supervisor, AWaitWithoutAnExitLastsToItsDeadline) {
  Supervisor sup;
  const auto log = logPath("sleep");
  const auto pid = sup.spawn("sleeps", {"/bin/sleep", "30"}, log);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  const auto start = monoNow();
  sup.waitUntil(start + 100ms);
  EXPECT_GE(monoNow() - start, 100ms);
  EXPECT_TRUE(sup.reap().empty());
  ASSERT_EQ(sup.alive().size(), 1u);
  const auto exits = sup.terminateAll(10s);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_TRUE(exits[0].signaled);
  EXPECT_EQ(exits[0].code, SIGTERM);
  EXPECT_FALSE(exits[0].killed_after_grace);
  EXPECT_TRUE(sup.alive().empty());
  std::filesystem::remove(log);
}

// Each child is SIGKILLed when its own grace period ends: one that ignores
// SIGTERM with 100 ms is not held to another's 2 s (the end of a run once
// gave every service the longest).
TEST(Supervisor, TerminateAllKillsEachChildAtItsOwnGrace) {
  Supervisor sup;
  const auto logA = logPath("short-grace"), logB = logPath("long-grace");
  const char* kIgnoresTerm = "trap '' TERM; echo trapped; while :; do sleep 1; done";
  const auto a = sup.spawn("short", {"/bin/sh", "-c", kIgnoresTerm}, logA);
  const auto b = sup.spawn("long", {"/bin/sh", "-c", kIgnoresTerm}, logB);
  ASSERT_TRUE(a.ok() && b.ok());
  // Each has its trap in place once it said so (a SIGTERM before would end it).
  for (const auto& log : {logA, logB}) {
    const auto until = monoNow() + 10s;
    std::string text;
    while (text.find("trapped") == std::string::npos && monoNow() < until) {
      sup.waitUntil(monoNow() + 5ms);
      std::ifstream in(log);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    ASSERT_NE(text.find("trapped"), std::string::npos) << log;
  }
  const pid_t shortPid = a.value();
  const auto start = monoNow();
  const auto exits = sup.terminateAll([](pid_t) { return SIGTERM; },
                                      [&](pid_t pid) { return pid == shortPid ? Duration(100ms) : Duration(2s); });
  ASSERT_EQ(exits.size(), 2u);
  for (const auto& e : exits) {
    EXPECT_TRUE(e.killed_after_grace) << e.name;
    EXPECT_EQ(e.code, SIGKILL) << e.name;
    if (e.pid == shortPid) EXPECT_LT(e.at - start, 1500ms) << "killed at its own 100 ms, not the other's 2 s";
    else EXPECT_GE(e.at - start, 2s);
  }
  EXPECT_TRUE(sup.alive().empty());
  std::filesystem::remove(logA);
  std::filesystem::remove(logB);
}

// The guardian killed on its own (its pid is no secret) would leave a
// service's own children behind when the runner then crashed: reap() sees it
// gone and starts another, told every group still listed. Here a forked
// "runner" spawns `sh` with a `sleep` of its own, kills its guardian, reaps,
// and dies by _exit (no destructor: a crash); the sleep must die with it.
TEST(Supervisor, AGuardianKilledOnItsOwnIsReplaced) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const auto log = logPath("guardian");
  const pid_t runner = ::fork();
  if (runner == 0) {
    ::close(fds[0]);
    Supervisor sup;
    const auto sh = sup.spawn("svc", {"/bin/sh", "-c", "sleep 300 & echo $! > " + log + ".pid; wait"}, log);
    const pid_t first = sup.guardianPid();
    if (!sh.ok() || first <= 0) ::_exit(2);
    ::kill(first, SIGKILL);
    const auto until = monoNow() + 10s;
    while (sup.guardianRestarts() == 0 && monoNow() < until) {
      sup.reap();
      sup.waitUntil(monoNow() + 5ms);
    }
    std::string pid;
    while (pid.empty() && monoNow() < until) {  // the sleep's pid, once sh wrote it
      std::ifstream in(log + ".pid");
      std::getline(in, pid);
      if (pid.empty()) sup.waitUntil(monoNow() + 5ms);
    }
    const std::string msg = std::to_string(sup.guardianRestarts()) + " " + std::to_string(sup.guardianPid()) + " " +
                            std::to_string(first) + " " + pid + "\n";
    if (::write(fds[1], msg.data(), msg.size()) < 0) ::_exit(3);
    ::_exit(0);  // the crash: no destructor runs
  }
  ::close(fds[1]);
  std::string msg(128, '\0');
  const auto n = ::read(fds[0], msg.data(), msg.size());
  ::close(fds[0]);
  int status = 0;
  ::waitpid(runner, &status, 0);
  ASSERT_GT(n, 0);
  int restarts = 0;
  long now = 0, before = 0, sleeper = 0;
  ASSERT_EQ(std::sscanf(msg.c_str(), "%d %ld %ld %ld", &restarts, &now, &before, &sleeper), 4) << msg;
  EXPECT_EQ(restarts, 1);
  EXPECT_GT(now, 0);
  EXPECT_NE(now, before);
  ASSERT_GT(sleeper, 0);
  // The new guardian saw its runner go and killed the group, sleep included.
  const auto until = monoNow() + 10s;
  while (::kill(static_cast<pid_t>(sleeper), 0) == 0 && monoNow() < until) {
    const Supervisor idle;
    idle.waitUntil(monoNow() + 10ms);
  }
  EXPECT_NE(::kill(static_cast<pid_t>(sleeper), 0), 0) << "sleep " << sleeper << " outlived its runner";
  if (::kill(static_cast<pid_t>(sleeper), 0) == 0) ::kill(static_cast<pid_t>(sleeper), SIGKILL);
  std::filesystem::remove(log);
  std::filesystem::remove(log + ".pid");
}

// A child may write its ready line in pieces ("port=" now, the digits later):
// what came first is kept for the next look, not thrown away.
TEST(ReadyPort, ALineWrittenInPiecesIsReadWhole) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string line;
  auto write = [&](const char* s) { ASSERT_EQ(::write(fds[1], s, std::strlen(s)), static_cast<ssize_t>(std::strlen(s))); };
  write("port=");
  EXPECT_FALSE(readReadyPort(fds[0], 0ms, line).has_value());
  write("43");
  EXPECT_FALSE(readReadyPort(fds[0], 0ms, line).has_value());
  write("21\n");
  const auto port = readReadyPort(fds[0], 0ms, line);
  ASSERT_TRUE(port.has_value());
  EXPECT_EQ(*port, 4321);
  ::close(fds[0]);
  ::close(fds[1]);
}

// A line that is not a port is no port, and is dropped: the next line can
// still be one. The end of the pipe is no port.
TEST(ReadyPort, EndOfPipeOrGarbageIsNoPort) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string line;
  ASSERT_EQ(::write(fds[1], "listening\n", 10), 10);
  EXPECT_FALSE(readReadyPort(fds[0], 0ms, line).has_value());
  ASSERT_EQ(::write(fds[1], "port=4322\n", 10), 10);
  const auto port = readReadyPort(fds[0], 0ms, line);
  ASSERT_TRUE(port.has_value());
  EXPECT_EQ(*port, 4322);
  ::close(fds[1]);
  std::string none;
  EXPECT_FALSE(readReadyPort(fds[0], 0ms, none).has_value());
  ::close(fds[0]);
}

}  // namespace
}  // namespace cutover::runner
