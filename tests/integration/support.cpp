#include "tests/integration/support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace cutover::testing {
namespace {

sockaddr_in loopback(unsigned short port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

bool portAcceptsConnections(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool portIsFree(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const auto addr = loopback(port);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

std::string cutoverBinary() { return CUTOVER_BINARY; }
std::string sourceDir() { return CUTOVER_SOURCE_DIR; }

void CutoverChild::drain() {
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err_fd, buf, sizeof buf)) > 0) err.append(buf, static_cast<std::size_t>(n));
}

bool CutoverChild::readUntil(const std::regex& pattern, int count, std::chrono::milliseconds timeout) {
  return waitFor([&] {
    drain();
    const auto begin = std::sregex_iterator(err.begin(), err.end(), pattern);
    return std::distance(begin, std::sregex_iterator()) >= count;
  }, timeout);
}

CutoverChild spawnCutover(std::vector<std::string> args) {
#if defined(__SANITIZE_THREAD__)
  if (!args.empty() && args[0] == "run") args.insert(args.end(), {"--set", "validity.max_late_sends=100%"});
#endif
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return {};
  std::vector<std::string> all = {cutoverBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  return {pid, pipefd[0], ""};
}

int waitExit(int pid, std::chrono::milliseconds timeout) {
  int status = 0;
  const bool done = waitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int waitExit(CutoverChild& c, std::chrono::milliseconds timeout) {
  int status = 0;
  const bool done = waitFor([&] {
    c.drain();  // keep the pipe from filling up
    return ::waitpid(c.pid, &status, WNOHANG) == c.pid;
  }, timeout);
  if (!done) {
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, &status, 0);
    c.drain();
    return -1;
  }
  c.drain();
  ::close(c.err_fd);
  c.err_fd = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int runCutoverShell(const std::string& args, std::chrono::seconds timeout) {
  const bool redirects = args.find('>') != std::string::npos;
  const std::string cmd = "timeout -k 5 " + std::to_string(timeout.count()) + " " + cutoverBinary() + " " + args +
                          (redirects ? "" : " >/dev/null 2>&1");
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

ScenarioRun runScenarioOnce(const std::string& file, const std::filesystem::path& dir,
                            const std::vector<std::string>& extra) {
  std::vector<std::string> all = {cutoverBinary(), "run", "-q", file, "--out", dir.string()};
  all.insert(all.end(), extra.begin(), extra.end());
#if defined(__SANITIZE_THREAD__)
  all.insert(all.end(), {"--set", "validity.max_late_sends=100%"});
#endif
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::filesystem::create_directories(dir);
  const std::string err_path = (dir / "stderr.txt").string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(err, STDERR_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ScenarioRun run;
  run.code = waitExit(pid, std::chrono::seconds(90));
  run.err = slurp(err_path);
  std::ifstream in(dir / "report.json");
  if (in) run.report = nlohmann::json::parse(in, nullptr, false);
  return run;
}

}  // namespace

bool onlyLate(const ScenarioRun& run) {
  if (run.code != 3 || !run.report.is_object()) return false;
  const auto& reasons = run.report["verdict"]["invalid_reasons"];
  if (reasons.empty()) return false;
  for (const auto& r : reasons)
    if (r.get<std::string>().find("load generator fell behind") == std::string::npos) return false;
  return true;
}

ScenarioRun runScenario(const std::string& file, const std::filesystem::path& dir,
                        const std::vector<std::string>& extra, int attempts) {
  ScenarioRun run;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    std::filesystem::remove_all(dir);
    run = runScenarioOnce(file, dir, extra);
    if (!onlyLate(run)) break;
  }
  return run;
}

std::filesystem::path tempDir(const std::string& prefix, const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("cutover-" + prefix + "-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json readJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return nlohmann::json();
  }
  return nlohmann::json::parse(in, nullptr, false);
}

}  // namespace cutover::testing

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cutover::testing {
namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr int kPollMs = 20;

void writeAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

void closeWithReset(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

TinyRequest parseHead(const std::string& head) {
  TinyRequest req;
  std::size_t pos = head.find("\r\n");
  const std::string line = head.substr(0, pos);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const auto next = head.find("\r\n", pos + 2);
    const std::string h = head.substr(pos + 2, next - pos - 2);
    const auto colon = h.find(':');
    if (colon != std::string::npos) {
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers[lower(h.substr(0, colon))] = value;
    }
    pos = next;
  }
  return req;
}

}  // namespace

TinyHttpServer::TinyHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto addr = loopback(0);
  ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 512);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TinyHttpServer::~TinyHttpServer() { stop(); }

void TinyHttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

void TinyHttpServer::acceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mutex_);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TinyHttpServer::serve(int fd) {
  std::string buf;
  char chunk[4096];
  while (!stopping_) {
    const auto end = buf.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) break;
      if (buf.empty() && close_idle_) break;  // idle: a draining server ends it
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    const TinyRequest req = parseHead(buf.substr(0, end + 2));
    buf.erase(0, end + 4);  // tests send no request bodies
    ++requests_;
    const TinyReply reply = handler_(req);
    const auto until = std::chrono::steady_clock::now() + reply.delay;
    while (!stopping_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (reply.action == TinyAction::hang) {
      while (!stopping_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kPollMs) > 0 && ::recv(fd, chunk, sizeof chunk, 0) <= 0) break;
      }
      break;
    }
    if (reply.action == TinyAction::close_before_response) break;
    if (reply.action == TinyAction::reset) {
      closeWithReset(fd);
      return;
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Length: " +
                       std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [k, v] : reply.headers) head += k + ": " + v + "\r\n";
    const auto rid = req.headers.find("x-request-id");
    if (rid != req.headers.end()) head += "x-request-id: " + rid->second + "\r\n";
    if (reply.close) head += "Connection: close\r\n";
    head += "\r\n";
    if (reply.action == TinyAction::partial_then_reset) {
      writeAll(fd, head + reply.body.substr(0, reply.body.size() / 2));
      closeWithReset(fd);
      return;
    }
    writeAll(fd, head + reply.body);
    if (reply.close) break;
  }
  ::close(fd);
}

}  // namespace cutover::testing
