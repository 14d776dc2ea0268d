// The switcher's live shell carrying out the Core's health, ejection and
// rollback decisions against real upstreams (TinyHttpServer) on 127.0.0.1:
// active health checks are real GETs on their own connections; the Core gets
// each exchange's outcome and latency.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/switcher/proxy.hpp"
#include "tests/integration/support.hpp"

namespace cutover::switcher {
namespace {

using namespace std::chrono_literals;
using testing::TinyAction;
using testing::TinyHttpServer;
using testing::TinyReply;
using testing::TinyRequest;
using testing::waitFor;

struct Reply {
  int status = 0;  // 0: no complete response head
  std::string head;  // lower-cased
};

// One GET on its own connection (Connection: close), every step bounded.
Reply get(std::uint16_t port, const std::string& path = "/") {
  Reply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string buf;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char chunk[4096];
    for (int i = 0; i < 1000; ++i) {  // bounded: the reply is small
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos || buf.size() < 12) return reply;
  reply.head = buf.substr(0, end);
  std::transform(reply.head.begin(), reply.head.end(), reply.head.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  reply.status = std::stoi(buf.substr(9, 3));
  return reply;
}

std::string instanceOf(const Reply& r) {
  const std::string key = std::string(kHeaderInstance) + ": ";
  std::string lowered = key;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = r.head.find(lowered);
  if (at == std::string::npos) return "";
  const auto from = at + lowered.size();
  return r.head.substr(from, r.head.find("\r\n", from) - from);
}

// A service: "/" answers `status` (an atomic the test turns), "/health"
// answers `health` (0: hang).
struct Service {
  Service(std::string instance, int status = 200, int health = 200)
      : status_(status), health_(health),
        server([this, instance](const TinyRequest& req) {
          TinyReply r;
          r.headers = {{std::string(kHeaderInstance), instance}};
          if (req.target == "/health") {
            ++health_checks;
            if (health_.load() == 0) r.action = TinyAction::hang;
            r.status = health_.load();
          } else {
            r.status = status_.load();
          }
          return r;
        }) {}
  std::atomic<int> status_;
  std::atomic<int> health_;
  std::atomic<int> health_checks{0};
  TinyHttpServer server;
  std::uint16_t port() const { return server.port(); }
};

ProxyOptions checkedOptions() {
  ProxyOptions o;
  auto& hc = o.core.health_check;
  hc.enabled = true;
  hc.interval = 20ms;
  hc.jitter = 5ms;
  hc.timeout = 200ms;
  hc.healthy_threshold = 2;
  hc.unhealthy_threshold = 2;
  return o;
}

std::unique_ptr<Proxy> startProxy(const ProxyOptions& options) {
  auto proxy = std::make_unique<Proxy>(options);
  std::string error;
  EXPECT_TRUE(proxy->start(&error)) << error;
  return proxy;
}

std::optional<BackendView> viewOf(const Proxy& proxy, const std::string& instance) {
  for (auto& b : proxy.backends())
    if (b.instance == instance) return b;
  return std::nullopt;
}

bool isHealthy(const Proxy& proxy, const std::string& instance) {
  const auto v = viewOf(proxy, instance);
  return v && v->healthy;
}

// Collects events while waiting; the proxy hands each out once.
struct EventLog {
  std::vector<Event> all;
  bool has(Proxy& proxy, const std::string& kind, const std::string& needle = "") {
    for (auto& e : proxy.takeEvents()) all.push_back(std::move(e));
    return std::any_of(all.begin(), all.end(), [&](const Event& e) {
      return e.kind == kind && (needle.empty() || (e.pool + " " + e.detail).find(needle) != std::string::npos);
    });
  }
};

TEST(SwitcherHealth, FailingChecksTakeABackendOutAndPassingOnesBringItBack) {
  Service blue1("blue-1"), blue2("blue-2");
  auto proxy = startProxy(checkedOptions());
  proxy->addBackend("blue", "blue-1", blue1.port());
  proxy->addBackend("blue", "blue-2", blue2.port());
  ASSERT_TRUE(proxy->switchTo("blue").ok);
  EventLog log;
  ASSERT_TRUE(waitFor([&] { return blue1.health_checks.load() >= 3 && blue2.health_checks.load() >= 3; }, 5s));
  EXPECT_TRUE(isHealthy(*proxy, "blue-1"));

  blue1.health_ = 503;
  ASSERT_TRUE(waitFor([&] { return !isHealthy(*proxy, "blue-1"); }, 5s));
  EXPECT_TRUE(log.has(*proxy, "health_changed", "blue-1 unhealthy: 2 checks failed in a row (last: status 503)"));
  for (int i = 0; i < 6; ++i) {
    const Reply r = get(proxy->port());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(instanceOf(r), "blue-2");
  }
  blue1.health_ = 200;
  ASSERT_TRUE(waitFor([&] { return isHealthy(*proxy, "blue-1"); }, 5s));
  EXPECT_TRUE(log.has(*proxy, "health_changed", "blue-1 healthy"));
  bool reached = false;
  for (int i = 0; i < 6; ++i) reached = reached || instanceOf(get(proxy->port())) == "blue-1";
  EXPECT_TRUE(reached);
}

TEST(SwitcherHealth, AHangingCheckTimesOutAndAClosedPortFails) {
  Service hanging("blue-1", 200, /*health=*/0);
  std::uint16_t closed_port = 0;
  {
    TinyHttpServer gone([](const TinyRequest&) { return TinyReply{}; });
    closed_port = gone.port();
  }
  ProxyOptions o = checkedOptions();
  o.core.health_check.timeout = 100ms;
  auto proxy = startProxy(o);
  proxy->addBackend("blue", "blue-1", hanging.port());
  proxy->addBackend("blue", "blue-9", closed_port);
  EventLog log;
  ASSERT_TRUE(waitFor([&] { return !isHealthy(*proxy, "blue-1") && !isHealthy(*proxy, "blue-9"); }, 5s));
  EXPECT_TRUE(log.has(*proxy, "health_changed", "blue-1 unhealthy: 2 checks failed in a row (last: timeout)"));
  EXPECT_TRUE(log.has(*proxy, "health_changed", "blue-9 unhealthy: 2 checks failed in a row (last: connect"));
  EXPECT_FALSE(proxy->switchTo("blue").ok);  // the readiness gate sees it
}

TEST(SwitcherHealth, ABackendAddedUnhealthyWaitsForItsChecks) {
  Service green1("green-1");
  auto proxy = startProxy(checkedOptions());
  proxy->addBackend("green", "green-1", green1.port(), /*healthy=*/false);
  EXPECT_FALSE(isHealthy(*proxy, "green-1"));
  ASSERT_TRUE(waitFor([&] { return proxy->switchTo("green").ok; }, 5s, 20ms));
  EXPECT_GE(green1.health_checks.load(), 2);
  EXPECT_EQ(get(proxy->port()).status, 200);
}

TEST(SwitcherReadinessWait, ASwitchWaitsForTheGateThenHappens) {
  Service blue1("blue-1");
  Service green1("green-1", 200, /*health=*/503);
  ProxyOptions o = checkedOptions();
  o.core.readiness.wait = 10s;
  auto proxy = startProxy(o);
  proxy->addBackend("blue", "blue-1", blue1.port(), true);
  proxy->addBackend("green", "green-1", green1.port(), /*healthy=*/false);
  ASSERT_TRUE(proxy->switchTo("blue").ok);
  const auto r = proxy->switchTo("green");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.pending);
  EventLog log;
  EXPECT_TRUE(log.has(*proxy, "switch_pending", "green"));
  ASSERT_TRUE(waitFor([&] { return green1.health_checks.load() >= 3; }, 5s));
  EXPECT_EQ(proxy->activePool(), "blue");
  EXPECT_EQ(instanceOf(get(proxy->port())), "blue-1");
  green1.health_ = 200;  // two passing checks later the switch happens
  ASSERT_TRUE(waitFor([&] { return proxy->activePool() == "green"; }, 5s));
  EXPECT_TRUE(log.has(*proxy, "switched", "readiness gate met after"));
  EXPECT_EQ(instanceOf(get(proxy->port())), "green-1");
}

TEST(SwitcherReadinessWait, RefusedAtTheDeadline) {
  Service green1("green-1", 200, /*health=*/503);
  ProxyOptions o = checkedOptions();
  o.core.readiness.wait = 300ms;
  auto proxy = startProxy(o);
  proxy->addBackend("green", "green-1", green1.port(), /*healthy=*/false);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(proxy->switchTo("green").pending);
  EventLog log;
  ASSERT_TRUE(waitFor([&] { return log.has(*proxy, "switch_refused", "readiness gate still not met after 300.0 ms"); },
                      5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_EQ(proxy->activePool(), "");
}

TEST(SwitcherPanic, RoutesToUnhealthyBackendsWhenOnAndAnswers503WhenOff) {
  Service blue1("blue-1"), blue2("blue-2");
  for (const bool panic : {false, true}) {
    ProxyOptions o;
    o.core.panic = panic;
    auto proxy = startProxy(o);
    proxy->addBackend("blue", "blue-1", blue1.port(), /*healthy=*/true);
    proxy->addBackend("blue", "blue-2", blue2.port(), /*healthy=*/true);
    ASSERT_TRUE(proxy->switchTo("blue").ok);
    // Outlier ejection is off; take both out by re-adding them unhealthy.
    proxy->addBackend("blue", "blue-1", blue1.port(), /*healthy=*/false);
    proxy->addBackend("blue", "blue-2", blue2.port(), /*healthy=*/false);
    const Reply r = get(proxy->port());
    EventLog log;
    if (panic) {
      EXPECT_EQ(r.status, 200);
      EXPECT_FALSE(instanceOf(r).empty());
      EXPECT_TRUE(log.has(*proxy, "panic", "blue"));
      proxy->addBackend("blue", "blue-1", blue1.port(), /*healthy=*/true);
      EXPECT_TRUE(log.has(*proxy, "panic_ended", "blue"));
    } else {
      EXPECT_EQ(r.status, 503);
      EXPECT_NE(r.head.find("no_backend"), std::string::npos);
      EXPECT_FALSE(log.has(*proxy, "panic"));
    }
  }
}

TEST(SwitcherRollback, RollsBackToBlueWhenGreenFailsAfterTheSwitch) {
  Service blue1("blue-1"), green1("green-1", /*status=*/500);
  ProxyOptions o;
  o.core.rollback.on = {RollbackTrigger::errorRate(0.2, 10s, 10)};
  auto proxy = startProxy(o);
  proxy->addBackend("blue", "blue-1", blue1.port());
  proxy->addBackend("green", "green-1", green1.port());
  ASSERT_TRUE(proxy->switchTo("blue").ok);
  ASSERT_TRUE(proxy->switchTo("green").ok);
  int failed = 0;
  for (int i = 0; i < 30 && proxy->activePool() == "green"; ++i) failed += get(proxy->port()).status == 500;
  EXPECT_EQ(failed, 10);  // the blast radius: exactly min_requests
  EXPECT_EQ(proxy->activePool(), "blue");
  EventLog log;
  EXPECT_TRUE(log.has(*proxy, "rollback", "blue from green: error rate 100.0% > 20.0%"));
  const Reply after = get(proxy->port());
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(instanceOf(after), "blue-1");
}

TEST(SwitcherRollback, SlowGreenRollsBackOnLatency) {
  Service blue1("blue-1");
  TinyHttpServer green1([](const TinyRequest&) {
    TinyReply r;
    r.delay = 60ms;
    return r;
  });
  ProxyOptions o;
  o.core.rollback.on = {RollbackTrigger::latency(0.9, 30ms, 10s, 3)};
  auto proxy = startProxy(o);
  proxy->addBackend("blue", "blue-1", blue1.port());
  proxy->addBackend("green", "green-1", green1.port());
  ASSERT_TRUE(proxy->switchTo("blue").ok);
  ASSERT_TRUE(proxy->switchTo("green").ok);
  for (int i = 0; i < 20 && proxy->activePool() == "green"; ++i) EXPECT_EQ(get(proxy->port()).status, 200);
  EXPECT_EQ(proxy->activePool(), "blue");
  EventLog log;
  EXPECT_TRUE(log.has(*proxy, "rollback", "p90 latency"));
}

TEST(SwitcherRollback, ManualRollbackAndRollbackImpossible) {
  Service blue1("blue-1"), green1("green-1");
  auto proxy = startProxy(ProxyOptions{});
  proxy->addBackend("blue", "blue-1", blue1.port());
  proxy->addBackend("green", "green-1", green1.port());
  EXPECT_FALSE(proxy->rollback().ok);  // nothing to roll back to
  ASSERT_TRUE(proxy->switchTo("blue").ok);
  ASSERT_TRUE(proxy->switchTo("green").ok);
  EXPECT_TRUE(proxy->rollback().ok);
  EXPECT_EQ(proxy->activePool(), "blue");
  EXPECT_EQ(instanceOf(get(proxy->port())), "blue-1");
  EventLog log;
  EXPECT_TRUE(log.has(*proxy, "rollback", "blue from green: manual"));
  EXPECT_TRUE(log.has(*proxy, "rollback_impossible", "no previous pool kept"));
}

TEST(SwitcherOutlier, ConsecutiveFailuresEjectABackend) {
  Service green1("green-1", /*status=*/503), green2("green-2");
  ProxyOptions o;
  o.core.policy = Policy::round_robin;
  o.core.outlier.consecutive_5xx = 3;
  o.core.outlier.ejection = 30s;
  auto proxy = startProxy(o);
  proxy->addBackend("green", "green-1", green1.port());
  proxy->addBackend("green", "green-2", green2.port());
  ASSERT_TRUE(proxy->switchTo("green").ok);
  int errors = 0;
  for (int i = 0; i < 6; ++i) errors += get(proxy->port()).status == 503;
  EXPECT_EQ(errors, 3);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(instanceOf(get(proxy->port())), "green-2");
  const auto v = viewOf(*proxy, "green-1");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ejected);
  EventLog log;
  EXPECT_TRUE(log.has(*proxy, "ejected", "green-1 for 30.000 s after 3 failures in a row"));
}

}  // namespace
}  // namespace cutover::switcher
