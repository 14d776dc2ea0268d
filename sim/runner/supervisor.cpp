#include "sim/runner/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <thread>

#include "sim/core/clock.hpp"

namespace cutover::runner {
namespace {

constexpr int kReadyFd = 3;
constexpr int kControlFd = 4;

ChildExit toExit(pid_t pid, const std::string& name, int status) {
  ChildExit e;
  e.pid = pid;
  e.name = name;
  e.at = monoNow();
  if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.code = WTERMSIG(status);
  } else {
    e.code = WEXITSTATUS(status);
  }
  return e;
}

// The guardian's life (see supervisor.hpp). Forked from a process with
// threads: only async-signal-safe calls, no allocation. Messages are one
// pid_t each: a group to kill at the end (> 0), or one to forget (< 0: it is
// empty, and its number may be reused).
[[noreturn]] void guardianMain(int fd) {
  ::setpgid(0, 0);  // out of the runner's group: a terminal's Ctrl-C is the runner's to handle
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::sigaction(s, &ignore, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::syscall(SYS_close_range, 0U, static_cast<unsigned>(fd - 1), 0U) != 0 ||
      ::syscall(SYS_close_range, static_cast<unsigned>(fd + 1), ~0U, 0U) != 0)  // a kernel before 5.9
    for (int other = 0; other < 4096; ++other)
      if (other != fd) ::close(other);
  static pid_t groups[8192];
  std::size_t n = 0;
  for (;;) {
    pid_t g = 0;
    const auto r = ::read(fd, &g, sizeof g);
    if (r < 0 && errno == EINTR) continue;
    if (r != static_cast<ssize_t>(sizeof g)) break;  // the runner is gone
    if (g > 0) {  // into a forgotten slot first, else at the end
      std::size_t i = 0;
      while (i < n && groups[i] != 0) ++i;
      if (i == n && n < std::size(groups)) ++n;
      if (i < n) groups[i] = g;
    }
    for (std::size_t i = 0; g < 0 && i < n; ++i)
      if (groups[i] == -g) groups[i] = 0;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (groups[i] > 0) ::kill(-groups[i], SIGKILL);
  ::_exit(0);
}

}  // namespace

Supervisor::~Supervisor() {
  for (auto& c : children_)
    if (c.alive) ::kill(-c.pid, SIGKILL), ::kill(c.pid, SIGKILL);
  for (auto& c : children_)
    if (c.alive) ::waitpid(c.pid, nullptr, 0), reaped(c);
  forgetEmptied();  // a group still listed is not empty: its number cannot have been reused
  if (guardian_fd_ >= 0) ::close(guardian_fd_);  // the guardian kills what is left of the groups, and exits
  if (guardian_ > 0) ::waitpid(guardian_, nullptr, 0);
}

void Supervisor::guard(pid_t group, bool add) {
  if (guardian_ < 0 && add) {
    int sv[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    const pid_t g = ::fork();
    if (g == 0) guardianMain(sv[1]);
    ::close(sv[1]);
    if (g < 0) {
      ::close(sv[0]);
      return;
    }
    guardian_ = g;
    guardian_fd_ = sv[0];
  }
  if (guardian_fd_ < 0) return;
  const pid_t message = add ? group : -group;
  while (::send(guardian_fd_, &message, sizeof message, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// A reaped child's group may still hold what the child left (reap() kills
// it); once the group is empty its number may be reused, so the guardian
// must forget it before then: checked on every reap() and at the end.
void Supervisor::forgetEmptied() {
  std::erase_if(emptying_, [this](pid_t g) {
    if (::kill(-g, 0) == 0 || errno != ESRCH) return false;
    guard(g, false);
    return true;
  });
}

void Supervisor::reaped(Child& c) {
  c.alive = false;
  if (c.pidfd >= 0) ::close(c.pidfd);
  c.pidfd = -1;
  emptying_.push_back(c.pid);
  forgetEmptied();
}

void Supervisor::waitUntil(Instant deadline, std::vector<pollfd> also) const {
  std::vector<pollfd> fds = std::move(also);
  for (const auto& c : children_)
    if (c.alive && c.pidfd >= 0) fds.push_back({c.pidfd, POLLIN, 0});
  for (;;) {
    const auto left = deadline - monoNow();
    if (left <= Duration::zero()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    const int n = ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    if (n >= 0) return;  // an exit, or the deadline
    if (errno != EINTR) {  // cannot poll: plain sleep
      std::this_thread::sleep_for(deadline - monoNow());
      return;
    }
  }
}

Result<pid_t> Supervisor::spawn(const std::string& name, const std::vector<std::string>& argv,
                                const std::string& log_path, int* ready_fd_out, int* control_fd_out) {
  if (argv.empty()) return Error{"spawn " + name + ": empty command"};
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Error{"spawn " + name + ": cannot open " + log_path + ": " + std::strerror(errno)};
  int pipefd[2] = {-1, -1};
  if (ready_fd_out && ::pipe2(pipefd, O_CLOEXEC) != 0) {
    ::close(log);
    return Error{"spawn " + name + ": pipe: " + std::strerror(errno)};
  }
  int ctlfd[2] = {-1, -1};
  if (control_fd_out && ::pipe2(ctlfd, O_CLOEXEC) != 0) {
    ::close(log);
    if (ready_fd_out) ::close(pipefd[0]), ::close(pipefd[1]);
    return Error{"spawn " + name + ": pipe: " + std::strerror(errno)};
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls until exec.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    if (ready_fd_out) ::close(pipefd[0]), ::close(pipefd[1]);
    if (control_fd_out) ::close(ctlfd[0]), ::close(ctlfd[1]);
    return Error{"spawn " + name + ": fork: " + std::strerror(errno)};
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the runner died before prctl
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // Move both ends above the target numbers first, so neither dup2
    // overwrites the other's source; dup2 clears CLOEXEC on the copies.
    const int ready = ready_fd_out ? ::fcntl(pipefd[1], F_DUPFD, 10) : -1;
    const int control = control_fd_out ? ::fcntl(ctlfd[0], F_DUPFD, 10) : -1;
    if (ready >= 0) ::dup2(ready, kReadyFd);
    if (control >= 0) ::dup2(control, kControlFd);
    // Nothing else of the runner's goes along: Asio's sockets are not
    // close-on-exec, and a child holding the switcher's listener or the
    // load's connections would keep them open (no FIN, a port held) for as
    // long as it lives.
    if (ready < 0) ::close(kReadyFd);
    if (control < 0) ::close(kControlFd);
    if (::syscall(SYS_close_range, kControlFd + 1, ~0U, 0U) != 0)  // a kernel before 5.9
      for (int fd = kControlFd + 1; fd < 4096; ++fd) ::close(fd);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so signal() works at once
  guard(pid, true);
  ::close(log);
  if (ready_fd_out) {
    ::close(pipefd[1]);
    ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    *ready_fd_out = pipefd[0];
  }
  if (control_fd_out) {
    ::close(ctlfd[0]);
    ::fcntl(ctlfd[1], F_SETFL, O_NONBLOCK);
    *control_fd_out = ctlfd[1];
  }
  // A pidfd (close-on-exec by definition) to wake on the child's exit; the
  // child is not reaped before this, so the pid cannot have been reused.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  children_.push_back({pid, name, true, pidfd});
  return pid;
}

bool Supervisor::signal(pid_t pid, int sig) {
  for (auto& c : children_)
    if (c.pid == pid && c.alive) return ::kill(-pid, sig) == 0 || ::kill(pid, sig) == 0;
  return false;
}

std::vector<ChildExit> Supervisor::reap() {
  // A guardian that died before the runner (killed on its own) protects
  // nothing: another one takes over every group still listed.
  if (guardian_ > 0 && ::waitpid(guardian_, nullptr, WNOHANG) == guardian_) {
    ::close(guardian_fd_);
    guardian_fd_ = -1;
    guardian_ = -1;
    ++guardian_restarts_;
    for (const auto& c : children_)
      if (c.alive) guard(c.pid, true);
    for (const pid_t g : emptying_) guard(g, true);
  }
  forgetEmptied();
  std::vector<ChildExit> out;
  for (auto& c : children_) {
    if (!c.alive) continue;
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) {
      reaped(c);
      ::kill(-c.pid, SIGKILL);  // anything the child left in its group
      out.push_back(toExit(c.pid, c.name, status));
    }
  }
  return out;
}

std::vector<ChildExit> Supervisor::terminateAll(Duration grace) {
  return terminateAll([](pid_t) { return SIGTERM; }, [grace](pid_t) { return grace; });
}

std::vector<ChildExit> Supervisor::terminateAll(const std::function<int(pid_t)>& stop_signal,
                                                const std::function<Duration(pid_t)>& grace_of) {
  const auto start = monoNow();
  std::map<pid_t, Instant> deadline;  // each child's own
  for (auto& c : children_)
    if (c.alive) {
      ::kill(-c.pid, stop_signal(c.pid));
      deadline[c.pid] = start + grace_of(c.pid);
    }
  std::vector<ChildExit> out;
  const auto kill = [&](Child& c) {
    ::kill(-c.pid, SIGKILL);
    ::kill(c.pid, SIGKILL);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    reaped(c);
    out.push_back(toExit(c.pid, c.name, status));
    out.back().killed_after_grace = true;
  };
  for (;;) {
    auto exits = reap();
    out.insert(out.end(), exits.begin(), exits.end());
    const auto now = monoNow();
    std::optional<Instant> next;  // the earliest grace still running
    for (auto& c : children_) {
      if (!c.alive) continue;
      const auto it = deadline.find(c.pid);
      const Instant due = it == deadline.end() ? now : it->second;
      if (due <= now) kill(c);
      else next = next ? std::min(*next, due) : due;
    }
    if (!next) break;
    if (exits.empty()) waitUntil(std::min(*next, now + std::chrono::milliseconds(5)));
  }
  return out;
}

std::vector<pid_t> Supervisor::alive() const {
  std::vector<pid_t> out;
  for (const auto& c : children_)
    if (c.alive) out.push_back(c.pid);
  return out;
}


std::optional<unsigned short> readReadyPort(int fd, Duration timeout, std::string& line) {
  const auto deadline = monoNow() + timeout;
  while (line.find('\n') == std::string::npos && line.size() < 64) {
    // A zero timeout still looks once: the runner polls without waiting.
    const auto left = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - monoNow()).count());
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[64];
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return std::nullopt;  // EOF: the child closed it without a port
    line.append(buf, static_cast<std::size_t>(n));
  }
  const auto end = line.find('\n');
  if (end == std::string::npos) return std::nullopt;  // 64 bytes and no line: not a ready line
  const std::string first = line.substr(0, end);
  line.erase(0, end + 1);  // a line that is not one is dropped; a later port= line can still come
  if (first.rfind("port=", 0) != 0) return std::nullopt;
  const long port = std::strtol(first.c_str() + 5, nullptr, 10);
  if (port <= 0 || port > 65535) return std::nullopt;
  return static_cast<unsigned short>(port);
}

}  // namespace cutover::runner
