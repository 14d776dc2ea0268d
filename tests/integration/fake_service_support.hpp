#pragma once
// Helpers for process tests of `cutover fake-service`: fork() a child that
// calls runFakeService, learn its port through the ready pipe, talk HTTP/1.1
// to it with plain blocking POSIX sockets on 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fake-services/behaviour.hpp"
#include "fake-services/fake_service.hpp"
#include "sim/core/clock.hpp"
#include "tests/integration/support.hpp"

namespace cutover::service::fstest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using cutover::testing::portAcceptsConnections;
using cutover::testing::waitFor;

// --- a tiny blocking HTTP/1.1 client ---------------------------------------

struct Response {
  enum class Kind { complete, closed, reset, timeout } kind = Kind::timeout;
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline int connectTo(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool sendRequest(int fd, const std::string& path, const std::string& request_id = "") {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!request_id.empty()) req += "x-request-id: " + request_id + "\r\n";
  req += "\r\n";
  return ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
}

// Parses the head once it is complete; returns the body length or nullopt.
inline std::optional<std::size_t> parseHead(const std::string& buf, std::size_t head_end, Response& r) {
  const std::string head = buf.substr(0, head_end);
  if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return std::nullopt;
  r.status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[lower(line.substr(0, colon))] = value;
    }
    pos = next;
  }
  const auto it = r.headers.find("content-length");
  return it == r.headers.end() ? 0 : std::stoul(it->second);
}

inline Response readResponse(int fd, std::chrono::milliseconds timeout = 5s) {
  Response r;
  std::string buf;
  const auto deadline = Clock::now() + timeout;
  std::optional<std::size_t> head_end;
  std::size_t body_len = 0;
  for (int i = 0; i < 10000; ++i) {
    if (!head_end) {
      const auto p = buf.find("\r\n\r\n");
      if (p != std::string::npos) {
        head_end = p + 4;
        const auto len = parseHead(buf, p, r);
        if (!len) return r;  // malformed: kind stays timeout, status 0
        body_len = *len;
      }
    }
    if (head_end && buf.size() >= *head_end + body_len) {
      r.body = buf.substr(*head_end, body_len);
      r.kind = Response::Kind::complete;
      return r;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return r;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n == 0) {
      r.kind = Response::Kind::closed;
      return r;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      r.kind = errno == ECONNRESET ? Response::Kind::reset : Response::Kind::closed;
      return r;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  return r;
}

// One request on a fresh connection.
inline Response get(std::uint16_t port, const std::string& path) {
  const int fd = connectTo(port);
  if (fd < 0) return Response{Response::Kind::closed, 0, {}, {}};
  Response r = sendRequest(fd, path) ? readResponse(fd) : Response{};
  ::close(fd);
  return r;
}

inline std::string state(std::uint16_t port) { return get(port, "/_cutover/state").body; }

// --- the child process -----------------------------------------------------

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { kill(); }

  // Forks a fake service; returns once it reported its port (or failed).
  // via_stdout: ready_fd -1, the port line goes to stdout (redirected to the pipe).
  bool spawn(const BehaviourSpec& spec, const std::string& instance, int control_fd = -1,
             bool via_stdout = false, const std::string& lifecycle_path = "") {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::close(fds[0]);
      FakeServiceOptions o;
      o.instance = instance;
      o.ready_fd = fds[1];
      if (via_stdout) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[1]);
        o.ready_fd = -1;
      }
      o.control_fd = control_fd;
      o.lifecycle_path = lifecycle_path;
      o.seed = 7;
      o.spec = spec;
      ::_exit(runFakeService(o));
    }
    ::close(fds[1]);
    std::string text;
    const auto deadline = Clock::now() + 10s;
    for (int i = 0; i < 1000 && text.find('\n') == std::string::npos; ++i) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fds[0], POLLIN, 0};
      if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char c[64];
      const ssize_t n = ::read(fds[0], c, sizeof c);
      if (n <= 0) break;
      text.append(c, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    if (text.rfind("port=", 0) != 0 || text.back() != '\n') return false;
    port_ = static_cast<std::uint16_t>(std::stoi(text.substr(5)));
    return port_ != 0;
  }

  void signal(int signo) const { ::kill(pid_, signo); }

  // Waits for the exit; returns the raw wait status.
  std::optional<int> waitExit(std::chrono::milliseconds timeout) {
    int status = 0;
    const bool done = waitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!done) return std::nullopt;
    pid_ = -1;
    return status;
  }

  bool running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

inline BehaviourSpec fixedLatency(std::chrono::milliseconds latency) {
  BehaviourSpec spec;
  spec.latency.distribution = LatencyDistribution::fixed;
  spec.latency.value = latency;
  return spec;
}

// N connections, each with one request sent; waits until the service counts
// all of them in flight.
inline std::vector<int> requestsInFlight(std::uint16_t port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = connectTo(port);
    EXPECT_GE(fd, 0);
    if (fd < 0) continue;
    EXPECT_TRUE(sendRequest(fd, "/work", "r" + std::to_string(i)));
    fds.push_back(fd);
  }
  const std::string want = "\"in_flight\":" + std::to_string(n) + ",";
  EXPECT_TRUE(waitFor([&] { return state(port).find(want) != std::string::npos; }, 5s)) << state(port);
  return fds;
}

inline void closeAll(const std::vector<int>& fds) {
  for (const int fd : fds) ::close(fd);
}

}  // namespace cutover::service::fstest
