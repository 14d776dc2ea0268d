// The live load client against TinyHttpServer: real sockets on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "sim/core/clock.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/client.hpp"
#include "tests/integration/support.hpp"

namespace cutover::loadgen {
namespace {

using namespace std::chrono_literals;
using testing::TinyAction;
using testing::TinyHttpServer;
using testing::TinyReply;
using testing::TinyRequest;

ClientOptions optionsFor(unsigned short port) {
  ClientOptions o;
  o.port = port;
  o.path = "/work";
  o.connections = 4;
  o.timeout = 2s;
  return o;
}

LoadResult runConstant(const ClientOptions& o, double rate, Duration length) {
  LoadClient client(o, makeConstant(monoNow() + 20ms, length, rate));
  return client.run();
}

std::size_t countOf(const LoadResult& r, Outcome o) {
  return static_cast<std::size_t>(
      std::count_if(r.records.begin(), r.records.end(), [o](const RequestRecord& rec) { return rec.outcome == o; }));
}

// Every record has a consistent timeline on the one clock.
void expectSaneTimes(const LoadResult& r) {
  for (const auto& rec : r.records) {
    EXPECT_GT(rec.intended_ns, 0);
    EXPECT_GE(rec.done_ns, rec.intended_ns);
    if (rec.sent_ns != 0) {
      EXPECT_GE(rec.sent_ns, rec.intended_ns);
      EXPECT_GE(rec.done_ns, rec.sent_ns);
    }
    if (rec.first_byte_ns != 0) {
      EXPECT_GE(rec.first_byte_ns, rec.sent_ns);
      EXPECT_LE(rec.first_byte_ns, rec.done_ns);
    }
  }
}

// A TCP port that is bound but not listening: connects to it are refused.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  unsigned short port() const { return port_; }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

TEST(LoadClient, ConstantRateAllOkWithVersionAndInstanceNames) {
  std::mutex mu;
  std::set<std::string> seen_ids;
  std::set<std::string> seen_hosts;
  TinyHttpServer server([&](const TinyRequest& req) {
    {
      std::lock_guard lock(mu);
      seen_ids.insert(req.headers.count("x-request-id") ? req.headers.at("x-request-id") : "");
      seen_hosts.insert(req.headers.count("host") ? req.headers.at("host") : "");
    }
    const bool odd = std::stoull(req.headers.at("x-request-id")) % 2 == 1;
    TinyReply r;
    r.headers = {{"x-cutover-version", "v1"}, {"X-Cutover-Instance", odd ? "blue-1" : "blue-2"}};
    return r;
  });
  const auto result = runConstant(optionsFor(server.port()), 200.0, 1s);
  ASSERT_TRUE(result.error.empty()) << result.error;
  EXPECT_FALSE(result.stopped);
  EXPECT_EQ(result.intended, 200u);
  ASSERT_EQ(result.records.size(), 200u);
  EXPECT_EQ(countOf(result, Outcome::ok), 200u);
  EXPECT_EQ(seen_ids.size(), 200u);  // one unique x-request-id per request
  EXPECT_EQ(seen_hosts, std::set<std::string>{"127.0.0.1:" + std::to_string(server.port())});
  std::set<std::uint64_t> ids;
  for (std::size_t i = 0; i < result.records.size(); ++i) {
    const auto& rec = result.records[i];
    ids.insert(rec.request_id);
    EXPECT_EQ(rec.status, 200);
    ASSERT_LT(rec.version, result.names.size());
    ASSERT_LT(rec.instance, result.names.size());
    EXPECT_EQ(result.names[rec.version], "v1");
    EXPECT_EQ(result.names[rec.instance], rec.request_id % 2 == 1 ? "blue-1" : "blue-2");
    EXPECT_NE(rec.first_byte_ns, 0);
    if (i > 0) {
      EXPECT_EQ(rec.intended_ns - result.records[i - 1].intended_ns, 5'000'000);
    }
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(result.names.size(), 3u);  // interned once each
  expectSaneTimes(result);
  EXPECT_GE(result.finished, fromNanos(result.records.back().done_ns));
}

struct Case {
  const char* name;
  TinyReply reply;
  Outcome want;
  std::uint16_t status;
};

TEST(LoadClient, ClassifiesEachOutcome) {
  TinyReply app;
  app.status = 500;
  TinyReply sw;
  sw.status = 503;
  sw.headers = {{"x-cutover-switcher-error", "no_backend"}, {"x-cutover-switcher-pool", "green"}};
  TinyReply not_found;
  not_found.status = 404;
  TinyReply reset;
  reset.action = TinyAction::reset;
  TinyReply closed;
  closed.action = TinyAction::close_before_response;
  TinyReply partial;
  partial.action = TinyAction::partial_then_reset;
  partial.body = std::string(64, 'x');
  TinyReply hang;
  hang.action = TinyAction::hang;
  const std::vector<Case> cases = {
      {"404", not_found, Outcome::ok, 404},          {"500", app, Outcome::app_error, 500},
      {"503+marker", sw, Outcome::switch_error, 503}, {"reset", reset, Outcome::reset, 0},
      {"close", closed, Outcome::reset, 0},           {"partial", partial, Outcome::reset, 0},
      {"hang", hang, Outcome::timeout, 0},
  };
  for (const auto& c : cases) {
    TinyHttpServer server([&](const TinyRequest&) { return c.reply; });
    auto o = optionsFor(server.port());
    o.timeout = 200ms;
    const auto result = runConstant(o, 100.0, 50ms);
    ASSERT_EQ(result.records.size(), 5u) << c.name;
    EXPECT_EQ(countOf(result, c.want), 5u) << c.name;
    for (const auto& rec : result.records) {
      EXPECT_EQ(rec.status, c.status) << c.name;
      EXPECT_NE(rec.sent_ns, 0) << c.name;
      if (c.want == Outcome::switch_error) {  // the switcher's reason and the pool it named
        EXPECT_EQ(rec.switcher_reason, SwitcherReason::no_backend);
        ASSERT_LT(rec.pool, result.names.size());
        EXPECT_EQ(result.names[rec.pool], "green");
      } else {
        EXPECT_EQ(rec.pool, kNoName) << c.name;
      }
      if (c.want == Outcome::timeout) {
        EXPECT_GE(rec.done_ns - rec.intended_ns, 200'000'000) << c.name;
        EXPECT_LT(rec.done_ns - rec.intended_ns, 1'200'000'000) << c.name;
      }
    }
    expectSaneTimes(result);
  }
}

TEST(LoadClient, RefusedConnectIsRefused) {
  RefusingPort port;
  const auto result = runConstant(optionsFor(port.port()), 100.0, 50ms);
  ASSERT_EQ(result.records.size(), 5u);
  EXPECT_EQ(countOf(result, Outcome::refused), 5u);
  for (const auto& rec : result.records) EXPECT_EQ(rec.sent_ns, 0);
  expectSaneTimes(result);
}

TEST(LoadClient, KeepaliveReusesConnections) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  auto o = optionsFor(server.port());
  o.connections = 4;
  const auto result = runConstant(o, 500.0, 100ms);
  ASSERT_EQ(result.records.size(), 50u);
  EXPECT_EQ(countOf(result, Outcome::ok), 50u);
  std::set<std::uint32_t> conns;
  std::uint16_t max_reuse = 0;
  for (const auto& rec : result.records) {
    conns.insert(rec.connection_id);
    max_reuse = std::max(max_reuse, rec.connection_reuse);
  }
  EXPECT_LE(conns.size(), 4u);
  EXPECT_GT(max_reuse, 0);
  EXPECT_LE(server.connections(), 4u);
}

TEST(LoadClient, NoKeepaliveOpensAConnectionPerRequest) {
  std::atomic<int> close_headers{0};
  TinyHttpServer server([&](const TinyRequest& req) {
    if (req.headers.count("connection") && req.headers.at("connection") == "close") ++close_headers;
    return TinyReply{};
  });
  auto o = optionsFor(server.port());
  o.keepalive = false;
  const auto result = runConstant(o, 500.0, 100ms);
  ASSERT_EQ(result.records.size(), 50u);
  EXPECT_EQ(countOf(result, Outcome::ok), 50u);
  std::set<std::uint32_t> conns;
  for (const auto& rec : result.records) {
    conns.insert(rec.connection_id);
    EXPECT_EQ(rec.connection_reuse, 0);
  }
  EXPECT_EQ(conns.size(), 50u);
  EXPECT_EQ(server.connections(), 50u);
  EXPECT_EQ(close_headers.load(), 50);
}

TEST(LoadClient, ConnectionTheServerClosesIsNotReused) {
  TinyHttpServer server([](const TinyRequest&) {
    TinyReply r;
    r.close = true;
    return r;
  });
  auto o = optionsFor(server.port());
  o.connections = 2;
  const auto result = runConstant(o, 200.0, 100ms);
  ASSERT_EQ(result.records.size(), 20u);
  EXPECT_EQ(countOf(result, Outcome::ok), 20u);
  for (const auto& rec : result.records) EXPECT_EQ(rec.connection_reuse, 0);
  EXPECT_EQ(server.connections(), 20u);
}

TEST(LoadClient, LatencyCountsFromTheIntendedTime) {
  // One connection, 50 ms service time, a request every 10 ms: requests queue
  // in the client and their latency includes the wait (no coordinated omission).
  TinyHttpServer server([](const TinyRequest&) {
    TinyReply r;
    r.delay = 50ms;
    return r;
  });
  auto o = optionsFor(server.port());
  o.connections = 1;
  o.timeout = 5s;
  const auto result = runConstant(o, 100.0, 100ms);
  ASSERT_EQ(result.records.size(), 10u);
  EXPECT_EQ(countOf(result, Outcome::ok), 10u);
  for (std::size_t i = 0; i < result.records.size(); ++i) {
    const auto& rec = result.records[i];
    // Served one after another: the i-th finishes no earlier than (i+1)*50 ms
    // after the first intended time, i*10 ms before its own intended time.
    const std::int64_t floor_ns = static_cast<std::int64_t>(i + 1) * 50'000'000 - static_cast<std::int64_t>(i) * 10'000'000;
    EXPECT_GE(rec.done_ns - rec.intended_ns, floor_ns) << i;
  }
  const auto& last = result.records.back();
  EXPECT_GE(last.sent_ns - last.intended_ns, 300'000'000);  // waited in the queue
  expectSaneTimes(result);
}

TEST(LoadClient, RequestsQueuedBehindAHangTimeOutFromTheirIntendedTime) {
  TinyReply hang;
  hang.action = TinyAction::hang;
  TinyHttpServer server([&](const TinyRequest&) { return hang; });
  auto o = optionsFor(server.port());
  o.connections = 1;
  o.timeout = 150ms;
  const auto result = runConstant(o, 100.0, 50ms);
  ASSERT_EQ(result.records.size(), 5u);
  EXPECT_EQ(countOf(result, Outcome::timeout), 5u);
  for (std::size_t i = 0; i < result.records.size(); ++i) {
    const auto& rec = result.records[i];
    // Each waited in the client for the one before it (intended 10 ms
    // earlier) to time out: 140 ms of queueing that its latency includes.
    if (i > 0 && rec.sent_ns != 0) {
      EXPECT_GE(rec.sent_ns - rec.intended_ns, 140'000'000) << i;
    }
    EXPECT_GE(rec.done_ns - rec.intended_ns, 150'000'000) << i;
    EXPECT_LT(rec.done_ns - rec.intended_ns, 1'000'000'000) << i;
  }
  EXPECT_EQ(server.connections(), 5u);  // a timed-out connection is closed, never reused
}

TEST(LoadClient, RequestStopEndsTheRunEarly) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  LoadClient client(optionsFor(server.port()), makeConstant(monoNow() + 10ms, 20s, 100.0));
  LoadResult result;
  std::thread runner([&] { result = client.run(); });
  const bool progressed = testing::waitFor([&] { return client.completed() >= 10; }, 5s);
  client.requestStop();
  runner.join();
  ASSERT_TRUE(progressed);
  EXPECT_TRUE(result.stopped);
  EXPECT_GE(result.records.size(), 10u);
  EXPECT_LT(result.records.size(), 1000u);
  EXPECT_EQ(client.droppedSoFar(), 0u);
  for (const auto& rec : result.records) EXPECT_NE(rec.done_ns, 0);  // only requests with an outcome
  EXPECT_LT(result.finished - result.started, 10s);
}

TEST(LoadClient, TargetOutsideLoopbackIsRejected) {
  for (const char* host : {"10.0.0.1", "example.com", "::1"}) {
    auto o = optionsFor(8080);
    o.host = host;
    const auto result = runConstant(o, 100.0, 50ms);
    EXPECT_FALSE(result.error.empty()) << host;
    EXPECT_TRUE(result.records.empty()) << host;
  }
  auto o = optionsFor(0);
  EXPECT_FALSE(runConstant(o, 100.0, 50ms).error.empty());
}

TEST(LoadClient, KeepsUpWithAHighRate) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  auto o = optionsFor(server.port());
  o.connections = 8;
  const auto result = runConstant(o, 2000.0, 500ms);
  ASSERT_EQ(result.records.size(), 1000u);
  EXPECT_EQ(countOf(result, Outcome::ok), 1000u);
  // Sends start near their intended time: the median send lag stays small.
  std::vector<std::int64_t> lag;
  for (const auto& rec : result.records) lag.push_back(rec.sent_ns - rec.intended_ns);
  std::nth_element(lag.begin(), lag.begin() + static_cast<std::ptrdiff_t>(lag.size() / 2), lag.end());
  EXPECT_LT(lag[lag.size() / 2], 100'000'000);  // generous: a shared CI machine
}

// Most requests in flight at once as the client recorded them: intervals
// [from, done] with from = intended (closed loop: the send) or sent.
std::size_t maxOverlap(const LoadResult& r) {
  std::vector<std::pair<std::int64_t, int>> edges;
  for (const auto& rec : r.records) {
    edges.emplace_back(rec.intended_ns, +1);
    edges.emplace_back(rec.done_ns, -1);
  }
  std::sort(edges.begin(), edges.end());  // at a tie, an end (-1) sorts first
  int now = 0, peak = 0;
  for (const auto& e : edges) peak = std::max(peak, now += e.second);
  return static_cast<std::size_t>(peak);
}

// Most connections alive at once, from the records: a connection lives (at
// least) from its first request's send to its last request's outcome.
std::size_t maxConnectionOverlap(const LoadResult& r) {
  std::map<std::uint32_t, std::pair<std::int64_t, std::int64_t>> life;
  for (const auto& rec : r.records) {
    if (rec.sent_ns == 0) continue;
    auto [it, fresh] = life.try_emplace(rec.connection_id, rec.sent_ns, rec.done_ns);
    if (!fresh) {
      it->second.first = std::min(it->second.first, rec.sent_ns);
      it->second.second = std::max(it->second.second, rec.done_ns);
    }
  }
  std::vector<std::pair<std::int64_t, int>> edges;
  for (const auto& [id, span] : life) {
    edges.emplace_back(span.first, +1);
    edges.emplace_back(span.second, -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, peak = 0;
  for (const auto& e : edges) peak = std::max(peak, now += e.second);
  return static_cast<std::size_t>(peak);
}

// A server that counts the requests it is serving at once (its service time
// is `service`, spent in the handler).
struct CountingServer {
  explicit CountingServer(Duration service)
      : server([this, service](const TinyRequest&) {
          const int now = ++active;
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(service);  // the service time, not a synchronisation
          --active;
          return TinyReply{};
        }) {}
  std::atomic<int> active{0};
  std::atomic<int> peak{0};
  TinyHttpServer server;
};

std::unique_ptr<ClosedLoop> closedLoop(std::size_t workers, Duration think, Duration length, bool exponential = false,
                                       std::uint64_t seed = 1) {
  ClosedLoopSpec s;
  s.workers = workers;
  s.think = think;
  s.length = length;
  s.exponential_think = exponential;
  return std::make_unique<ClosedLoop>(s, monoNow() + 10ms, Rng(seed));
}

TEST(LoadClientClosedLoop, NWorkersNeverHaveMoreThanNInFlight) {
  CountingServer s(2ms);
  auto o = optionsFor(s.server.port());
  o.connections = 16;
  LoadClient client(o, closedLoop(4, 0ms, 300ms));
  const auto result = client.run();
  ASSERT_TRUE(result.error.empty()) << result.error;
  EXPECT_TRUE(result.closed_loop);
  ASSERT_GT(result.records.size(), 20u);
  EXPECT_EQ(countOf(result, Outcome::ok), result.records.size());
  EXPECT_LE(s.peak.load(), 4) << "the server saw more than 4 requests at once";
  EXPECT_GE(s.peak.load(), 2) << "the workers ran one at a time";
  EXPECT_LE(maxOverlap(result), 4u);
  EXPECT_LE(result.peak_connections, 4u) << "4 workers need at most 4 keep-alive connections";
  for (const auto& rec : result.records) {
    // Closed loop: the intended time is the send, so sends are never late.
    EXPECT_LE(rec.sent_ns - rec.intended_ns, 100'000'000);
    EXPECT_GE(rec.done_ns - rec.intended_ns, 2'000'000);  // at least the service time
  }
  expectSaneTimes(result);
}

TEST(LoadClientClosedLoop, MoreWorkersThanConnectionsWaitForOne) {
  CountingServer s(2ms);
  auto o = optionsFor(s.server.port());
  o.connections = 2;
  LoadClient client(o, closedLoop(6, 0ms, 200ms));
  const auto result = client.run();
  ASSERT_GT(result.records.size(), 10u);
  EXPECT_EQ(countOf(result, Outcome::ok), result.records.size());
  EXPECT_LE(s.peak.load(), 2);
  EXPECT_LE(maxOverlap(result), 6u);
  EXPECT_LE(result.peak_connections, 2u);
}

TEST(LoadClientClosedLoop, OneWorkerThinksBetweenRequests) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  LoadClient client(optionsFor(server.port()), closedLoop(1, 20ms, 300ms));
  const auto result = client.run();
  ASSERT_GE(result.records.size(), 3u);
  EXPECT_LE(result.records.size(), 15u);  // 300 ms / 20 ms think
  EXPECT_EQ(countOf(result, Outcome::ok), result.records.size());
  for (std::size_t i = 1; i < result.records.size(); ++i) {
    const auto& prev = result.records[i - 1];
    const auto& rec = result.records[i];
    EXPECT_GE(rec.intended_ns, prev.done_ns + 20'000'000) << i;  // sent after the response and the think time
    EXPECT_LT(rec.intended_ns, prev.done_ns + 1'000'000'000) << i;
  }
  expectSaneTimes(result);
}

TEST(LoadClientClosedLoop, ExponentialThinkRunsAndIsBounded) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  auto o = optionsFor(server.port());
  o.max_requests = 25;
  LoadClient client(o, closedLoop(3, 1ms, 10s, true, 9));
  const auto result = client.run();
  EXPECT_EQ(result.records.size(), 25u);  // the count bound, long before 10 s
  EXPECT_EQ(countOf(result, Outcome::ok), 25u);
  EXPECT_LT(result.finished - result.started, 5s);
}

TEST(LoadClientClosedLoop, StopEndsIt) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  LoadClient client(optionsFor(server.port()), closedLoop(2, 1ms, 30s));
  LoadResult result;
  std::thread runner([&] { result = client.run(); });
  const bool progressed = testing::waitFor([&] { return client.completed() >= 10; }, 5s);
  client.requestStop();
  runner.join();
  ASSERT_TRUE(progressed);
  EXPECT_TRUE(result.stopped);
  EXPECT_GE(result.records.size(), 10u);
  EXPECT_LT(result.finished - result.started, 20s);
}

// Runs 200 requests under the mixed policy; returns the request ids the
// server saw with "Connection: close" and the result.
std::pair<std::set<std::uint64_t>, LoadResult> runMixed(double fraction, std::uint64_t seed, std::size_t connections) {
  std::mutex mu;
  std::set<std::uint64_t> closing;
  TinyHttpServer server([&](const TinyRequest& req) {
    const auto c = req.headers.find("connection");
    if (c != req.headers.end() && c->second == "close") {
      std::lock_guard lock(mu);
      closing.insert(std::stoull(req.headers.at("x-request-id")));
    }
    return TinyReply{};
  });
  auto o = optionsFor(server.port());
  o.connections = connections;
  o.connection_policy = ConnectionPolicy::mixed;
  o.fresh_fraction = fraction;
  o.connection_seed = seed;
  auto result = runConstant(o, 1000.0, 200ms);
  server.stop();
  std::lock_guard lock(mu);
  return {closing, std::move(result)};
}

TEST(LoadClientConnections, MixedPutsASeededFractionOnFreshConnections) {
  const auto [closing, result] = runMixed(0.3, 7, 4);
  ASSERT_EQ(result.records.size(), 200u);
  EXPECT_EQ(countOf(result, Outcome::ok), 200u);
  // Binomial(200, 0.3): mean 60, sd 6.5.
  EXPECT_GE(closing.size(), 34u);
  EXPECT_LE(closing.size(), 86u);
  std::map<std::uint32_t, int> per_connection;
  for (const auto& rec : result.records) ++per_connection[rec.connection_id];
  std::uint16_t max_reuse = 0;
  for (const auto& rec : result.records) {
    if (closing.count(rec.request_id)) {
      EXPECT_EQ(rec.connection_reuse, 0) << rec.request_id;
      EXPECT_EQ(per_connection[rec.connection_id], 1) << "a fresh connection carries one request";
    } else {
      max_reuse = std::max(max_reuse, rec.connection_reuse);
    }
  }
  EXPECT_GT(max_reuse, 5) << "the other requests reuse pooled connections";
  EXPECT_LE(result.peak_connections, 4u);
  EXPECT_LE(maxConnectionOverlap(result), 4u);
  // The same seed draws the same requests; another seed others.
  EXPECT_EQ(runMixed(0.3, 7, 4).first, closing);
  EXPECT_NE(runMixed(0.3, 8, 4).first, closing);
}

TEST(LoadClientConnections, MixedRespectsMaxConnectionsWhenThePoolIsFull) {
  // 2 connections, half the requests fresh: a fresh request often finds the
  // pool full and must close an idle pooled connection or wait.
  const auto [closing, result] = runMixed(0.5, 3, 2);
  ASSERT_EQ(result.records.size(), 200u);
  EXPECT_EQ(countOf(result, Outcome::ok), 200u);
  EXPECT_GT(closing.size(), 50u);
  EXPECT_LE(result.peak_connections, 2u);
  EXPECT_LE(maxConnectionOverlap(result), 2u);
}

TEST(LoadClientConnections, MixedWithFractionOneAndZero) {
  EXPECT_EQ(runMixed(1.0, 1, 4).first.size(), 200u);
  const auto [closing, result] = runMixed(0.0, 1, 4);
  EXPECT_TRUE(closing.empty());
  EXPECT_LE(result.connections_opened, 4u);
}

TEST(LoadClientConnections, NewPerRequestRespectsMaxConnections) {
  CountingServer s(5ms);
  auto o = optionsFor(s.server.port());
  o.connections = 2;
  o.connection_policy = ConnectionPolicy::new_per_request;
  const auto result = runConstant(o, 500.0, 100ms);  // 50 requests, 2.5 in service on average
  ASSERT_EQ(result.records.size(), 50u);
  EXPECT_EQ(countOf(result, Outcome::ok), 50u);
  EXPECT_EQ(result.connections_opened, 50u);
  EXPECT_EQ(s.server.connections(), 50u);
  EXPECT_LE(result.peak_connections, 2u);
  EXPECT_LE(maxConnectionOverlap(result), 2u);
  EXPECT_LE(s.peak.load(), 2);
  for (const auto& rec : result.records) EXPECT_EQ(rec.connection_reuse, 0);
}

TEST(LoadClientConnections, KeepaliveRespectsMaxConnections) {
  CountingServer s(5ms);
  auto o = optionsFor(s.server.port());
  o.connections = 3;
  const auto result = runConstant(o, 1000.0, 100ms);  // 100 requests, 5 in service on average
  ASSERT_EQ(result.records.size(), 100u);
  EXPECT_EQ(countOf(result, Outcome::ok), 100u);
  EXPECT_LE(result.connections_opened, 3u);
  EXPECT_LE(s.server.connections(), 3u);
  EXPECT_LE(s.peak.load(), 3);
}

TEST(LoadClientCpu, ReportsTheClientThreadsOwnCpu) {
  TinyHttpServer server([](const TinyRequest&) { return TinyReply{}; });
  auto o = optionsFor(server.port());
  o.connections = 8;
  const auto busy = runConstant(o, 2000.0, 500ms);
  EXPECT_EQ(busy.records.size(), 1000u);
  EXPECT_GT(busy.cpu.seconds(), 0.0);
  EXPECT_GE(busy.cpu.wall_s, 0.5);
  EXPECT_LE(busy.cpu.seconds(), busy.cpu.wall_s * 1.05 + 0.01) << "one thread uses at most one core";
  EXPECT_GT(busy.cpu.percentOfCore(), 0.0);
  // A slow schedule costs almost nothing: the pacing spin runs only just
  // before a send, never while idle.
  const auto idle = runConstant(o, 10.0, 1s);
  EXPECT_EQ(idle.records.size(), 10u);
  EXPECT_GE(idle.cpu.wall_s, 0.9);
  EXPECT_LT(idle.cpu.seconds(), 0.2);
  EXPECT_LT(idle.cpu.percentOfCore(), 20.0);
}

}  // namespace
}  // namespace cutover::loadgen
