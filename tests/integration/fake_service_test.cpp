// `cutover fake-service` as a real process: fork() a child that calls
// runFakeService, learn its port through the ready pipe, talk HTTP/1.1 to it
// with plain POSIX sockets on 127.0.0.1 and send it real signals.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fake-services/behaviour.hpp"
#include "fake-services/fake_service.hpp"
#include "tests/integration/support.hpp"

namespace cutover::service {
namespace {

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

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int connectTo(std::uint16_t port) {
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

bool sendRequest(int fd, const std::string& path, const std::string& request_id = "") {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!request_id.empty()) req += "x-request-id: " + request_id + "\r\n";
  req += "\r\n";
  return ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
}

// Parses the head once it is complete; returns the body length or nullopt.
std::optional<std::size_t> parseHead(const std::string& buf, std::size_t head_end, Response& r) {
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

Response readResponse(int fd, std::chrono::milliseconds timeout = 5s) {
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
Response get(std::uint16_t port, const std::string& path) {
  const int fd = connectTo(port);
  if (fd < 0) return Response{Response::Kind::closed, 0, {}, {}};
  Response r = sendRequest(fd, path) ? readResponse(fd) : Response{};
  ::close(fd);
  return r;
}

std::string state(std::uint16_t port) { return get(port, "/_cutover/state").body; }

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
             bool via_stdout = false) {
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

BehaviourSpec fixedLatency(std::chrono::milliseconds latency) {
  BehaviourSpec spec;
  spec.latency.distribution = LatencyDistribution::fixed;
  spec.latency.value = latency;
  return spec;
}

// N connections, each with one request sent; waits until the service counts
// all of them in flight.
std::vector<int> requestsInFlight(std::uint16_t port, int n) {
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

void closeAll(const std::vector<int>& fds) {
  for (const int fd : fds) ::close(fd);
}

TEST(FakeServiceProcess, IdentityHeadersRequestIdAndReadiness) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.version = "v7";
  spec.response_bytes = 10;
  spec.startup.ready_after = 1s;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-1"));
  const auto listened = Clock::now();

  EXPECT_EQ(get(child.port(), "/health").status, 503);
  ASSERT_TRUE(waitFor([&] { return get(child.port(), "/health").status == 200; }, 5s));
  EXPECT_GE(Clock::now() - listened, 700ms);

  const int fd = connectTo(child.port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {  // keep-alive: three requests on one connection
    const std::string id = "req-" + std::to_string(i);
    ASSERT_TRUE(sendRequest(fd, "/anything", id));
    const Response r = readResponse(fd);
    ASSERT_EQ(r.kind, Response::Kind::complete);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-cutover-version"), "v7");
    EXPECT_EQ(r.header("x-cutover-instance"), "blue-1");
    EXPECT_EQ(r.header("x-request-id"), id);
    EXPECT_EQ(r.body.size(), 10u);
    EXPECT_EQ(r.headers.count("connection"), 0u);
  }
  ::close(fd);
  const Response no_id = get(child.port(), "/");
  EXPECT_EQ(no_id.headers.count("x-request-id"), 0u);
  EXPECT_EQ(no_id.header("x-cutover-instance"), "blue-1");
}

TEST(FakeServiceProcess, ListenAfterDelaysThePortLineOnStdout) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.startup.listen_after = 500ms;
  Child child;
  const auto t0 = Clock::now();
  ASSERT_TRUE(child.spawn(spec, "blue-8", -1, /*via_stdout=*/true));
  EXPECT_GE(Clock::now() - t0, 400ms);
  EXPECT_TRUE(portAcceptsConnections(child.port()));
  EXPECT_EQ(get(child.port(), "/").status, 200);
}

TEST(FakeServiceProcess, ErrorStatusFromSpec) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.error_rate = 1.0;
  spec.error_status = 503;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "red-1"));
  const Response r = get(child.port(), "/");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("x-cutover-instance"), "red-1");
  EXPECT_EQ(get(child.port(), "/health").status, 200);  // readiness is separate
}

TEST(FakeServiceProcess, GracefulSigtermFinishesInFlightRefusesNewAndExitsZero) {
  BehaviourSpec spec = fixedLatency(600ms);
  spec.shutdown.on_sigterm = OnSigterm::graceful;
  spec.shutdown.drain_timeout = 5s;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-2"));
  constexpr int kN = 5;
  const auto fds = requestsInFlight(child.port(), kN);
  ASSERT_EQ(fds.size(), static_cast<std::size_t>(kN));

  child.signal(SIGTERM);
  EXPECT_TRUE(waitFor([&] { return !portAcceptsConnections(child.port()); }, 3s));
  // The listener closed while the requests were still in flight: no response yet.
  for (const int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "response arrived before the listener closed";
  }
  for (const int fd : fds) {
    const Response r = readResponse(fd);
    EXPECT_EQ(r.kind, Response::Kind::complete);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(lower(r.header("connection")), "close");
  }
  closeAll(fds);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(FakeServiceProcess, GracefulPreStopKeepsAcceptingThenFailsReadiness) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.shutdown.pre_stop_delay = 1s;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-3"));
  const auto t0 = Clock::now();
  child.signal(SIGTERM);
  ASSERT_TRUE(waitFor([&] { return state(child.port()).find("\"phase\":\"pre_stop\"") != std::string::npos; }, 3s));
  EXPECT_EQ(get(child.port(), "/").status, 200);
  EXPECT_EQ(get(child.port(), "/health").status, 200);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(Clock::now() - t0, 900ms);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_FALSE(portAcceptsConnections(child.port()));
}

TEST(FakeServiceProcess, DrainTimeoutResetsInFlight) {
  BehaviourSpec spec = fixedLatency(10s);
  spec.shutdown.drain_timeout = 300ms;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-4"));
  const auto fds = requestsInFlight(child.port(), 2);
  child.signal(SIGTERM);
  for (const int fd : fds) EXPECT_EQ(readResponse(fd).kind, Response::Kind::reset);
  closeAll(fds);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == kExitDrainTimeout);
}

TEST(FakeServiceProcess, ImmediateSigtermResetsInFlight) {
  BehaviourSpec spec = fixedLatency(3s);
  spec.shutdown.on_sigterm = OnSigterm::immediate;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-5"));
  const auto fds = requestsInFlight(child.port(), 3);
  const auto t0 = Clock::now();
  child.signal(SIGTERM);
  for (const int fd : fds) {
    const Response r = readResponse(fd);
    EXPECT_EQ(r.kind, Response::Kind::reset);
    EXPECT_EQ(r.status, 0);
  }
  EXPECT_LT(Clock::now() - t0, 2s);  // long before the 3 s service time
  closeAll(fds);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 128 + SIGTERM);
}

TEST(FakeServiceProcess, IgnoreKeepsServingUntilSigkill) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.shutdown.on_sigterm = OnSigterm::ignore;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "blue-6"));
  child.signal(SIGTERM);
  child.signal(SIGINT);
  ASSERT_TRUE(waitFor([&] { return state(child.port()).find("\"signals\":2") != std::string::npos; }, 3s));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(child.port(), "/").status, 200);
  EXPECT_EQ(get(child.port(), "/health").status, 200);
  EXPECT_TRUE(child.running());
  child.signal(SIGKILL);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

TEST(FakeServiceProcess, ControlChannelInjectsAndHealsFaults) {
  int control[2];
  ASSERT_EQ(::pipe2(control, O_CLOEXEC), 0);
  // The child inherits the read end across fork (CLOEXEC matters for exec only).
  Child child;
  ASSERT_TRUE(child.spawn(fixedLatency(1ms), "blue-7", control[0]));
  ::close(control[0]);
  const auto command = [&](const std::string& line) {
    ASSERT_EQ(::write(control[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  };
  EXPECT_EQ(get(child.port(), "/").status, 200);
  command("fault error_rate=1\n");
  EXPECT_TRUE(waitFor([&] { return get(child.port(), "/").status == 500; }, 3s));
  command("heal\n");
  EXPECT_TRUE(waitFor([&] { return get(child.port(), "/").status == 200; }, 3s));
  command("fault latency=+400ms\n");
  ASSERT_TRUE(waitFor([&] {
    const auto t = Clock::now();
    return get(child.port(), "/").status == 200 && Clock::now() - t >= 350ms;
  }, 5s));
  ::close(control[1]);
}

}  // namespace
}  // namespace cutover::service
