// The runner's readiness probe with real sockets on 127.0.0.1: it reads the
// status line, reports a refused port and a silent one as no status, and
// never blocks: step() returns at once while the service has not answered,
// and the supervisor's wait ends when the answer comes.
#include "sim/runner/http_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "sim/core/clock.hpp"
#include "sim/runner/supervisor.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;

// A listening socket on an ephemeral port of 127.0.0.1.
struct Listener {
  int fd = -1;
  unsigned short port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  // The probe's connection (already in the backlog), with its request read.
  int acceptRequest(std::string* request) const {
    const int c = ::accept(fd, nullptr, nullptr);
    char buf[256];
    while (request->find("\r\n\r\n") == std::string::npos) {
      const auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request->append(buf, static_cast<std::size_t>(n));
    }
    return c;
  }
};

// Steps the probe until `until` holds, waiting on its socket between steps
// (bounded: 30 s).
template <class Pred>
void stepUntil(HttpProbe& p, Pred until) {
  const auto limit = monoNow() + 30s;
  Supervisor sup;
  while (!until() && monoNow() < limit) {
    if (p.step(monoNow())) break;
    if (!until()) sup.waitUntil(monoNow() + 1s, {p.waitFor()});
  }
}
bool written(const HttpProbe& p) { return p.waitFor().events == POLLIN; }

// Steps the probe until its request is written, then takes its connection
// (the request read into `request`); -1 when it was never written.
int acceptWritten(const Listener& l, HttpProbe& p, std::string* request) {
  stepUntil(p, [&] { return written(p); });
  return written(p) ? l.acceptRequest(request) : -1;
}
bool sendAll(int c, const std::string& text) {
  return ::send(c, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

TEST(HttpProbe, ReadsTheStatusLine) {
  Listener l;
  ASSERT_NE(l.port, 0);
  HttpProbe p(l.port, "/health", monoNow() + 30s);
  std::string request;
  const int c = acceptWritten(l, p, &request);
  ASSERT_GE(c, 0);
  EXPECT_EQ(request.rfind("GET /health HTTP/1.1\r\n", 0), 0u) << request;
  ASSERT_TRUE(sendAll(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"));
  stepUntil(p, [&] { return p.done(); });
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), 503);
  EXPECT_EQ(p.waitFor().fd, -1);
  ::close(c);
}

TEST(HttpProbe, ARefusedPortHasNoStatus) {
  unsigned short port = 0;
  {
    Listener l;  // a port that was free a moment ago, closed again: nobody listens
    port = l.port;
  }
  ASSERT_NE(port, 0);
  HttpProbe p(port, "/health", monoNow() + 30s);
  stepUntil(p, [&] { return p.done(); });
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), std::nullopt);
}

// A service that takes the connection and never answers: the probe's steps
// return at once (the blocking probe it replaced sat out its whole timeout),
// the supervisor's wait ends as soon as the answer is there, and a probe
// past its deadline is over with no status.
TEST(HttpProbe, ASilentServiceNeverBlocksTheLoop) {
  Listener l;
  ASSERT_NE(l.port, 0);
  const auto deadline = monoNow() + 600s;
  HttpProbe p(l.port, "/health", deadline);
  std::string request;
  const int c = acceptWritten(l, p, &request);
  ASSERT_GE(c, 0);
  const auto before = monoNow();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(p.step(monoNow()));
  EXPECT_LT(monoNow() - before, 60s);  // generous: a blocking step would take 600 s

  ASSERT_TRUE(sendAll(c, "HTTP/1.1 200 OK\r\n"));
  Supervisor sup;
  const auto wait = monoNow();
  sup.waitUntil(wait + 600s, {p.waitFor()});
  EXPECT_LT(monoNow() - wait, 60s);  // the answer ended the wait, not its deadline
  EXPECT_TRUE(p.step(monoNow()));
  EXPECT_EQ(p.status(), 200);

  HttpProbe late(l.port, "/health", monoNow() + 600s);
  EXPECT_TRUE(late.step(deadline + 1s));  // past its deadline: over, whatever it was doing
  EXPECT_EQ(late.status(), std::nullopt);
  ::close(c);
}

// An answer that is there but read past the deadline (the loop's wait woke
// for it a little late) is a failed probe: 200 ms is the limit, as in sim.
TEST(HttpProbe, AnAnswerReadPastTheDeadlineDoesNotCount) {
  Listener l;
  ASSERT_NE(l.port, 0);
  const auto deadline = monoNow() + 600s;
  HttpProbe p(l.port, "/health", deadline);
  std::string request;
  const int c = acceptWritten(l, p, &request);
  ASSERT_GE(c, 0);
  ASSERT_TRUE(sendAll(c, "HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(p.step(deadline));
  EXPECT_EQ(p.status(), std::nullopt);
  ::close(c);
}

}  // namespace
}  // namespace cutover::runner
