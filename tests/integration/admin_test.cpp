// The admin API over real sockets: a live Proxy in front of TinyHttpServer
// backends, SwitcherMetrics observing it, an AdminServer on port 0, and raw
// HTTP/1.1 requests (so tests can send bad Host headers, oversized heads and
// malformed requests exactly).
#include "sim/switcher/admin.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "sim/switcher/proxy.hpp"
#include "sim/switcher/switcher_metrics.hpp"
#include "tests/integration/support.hpp"

namespace cutover::switcher {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::TinyHttpServer;
using testing::TinyReply;
using testing::TinyRequest;
using testing::waitFor;

// ---- a raw one-shot HTTP client ---------------------------------------------------

struct Raw {
  bool complete = false;  // a whole response was read
  int status = 0;
  std::string head;
  std::string body;
  bool closed = false;    // the server closed the connection
};

int connectTo(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};  // every blocking call is bounded
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void sendAll(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. after 431)
    sent += static_cast<std::size_t>(n);
  }
}

// Reads one response (Content-Length framed), then whether the server closes.
Raw readResponse(int fd) {
  Raw r;
  std::string buf;
  char chunk[4096];
  std::size_t need = std::string::npos;
  for (int i = 0; i < 10000; ++i) {
    const std::size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos && need == std::string::npos) {
      r.head = buf.substr(0, end);
      std::smatch m;
      const std::regex len("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)");
      need = std::regex_search(r.head, m, len) ? end + 4 + std::stoul(m[1]) : end + 4;
      if (r.head.size() > 12) r.status = std::stoi(r.head.substr(9, 3));
    }
    if (need != std::string::npos && buf.size() >= need) {
      r.body = buf.substr(r.head.size() + 4, need - r.head.size() - 4);
      r.complete = true;
      break;
    }
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      r.closed = true;
      return r;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  return r;
}

Raw rawExchange(unsigned short port, const std::string& bytes) {
  const int fd = connectTo(port);
  if (fd < 0) return {};
  sendAll(fd, bytes);
  Raw r = readResponse(fd);
  ::close(fd);
  return r;
}

Raw request(unsigned short port, const std::string& method, const std::string& target,
            const std::string& host = "127.0.0.1", const std::string& extra = "") {
  return rawExchange(port, method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra +
                            "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

json bodyJson(const Raw& r) { return json::parse(r.body, nullptr, false); }

// ---- Prometheus text: every line a comment or a well-formed sample ----------------

bool parsesAsPrometheusText(const std::string& text, std::string* bad_line) {
  static const std::regex comment(R"(# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* )"
                                  R"((counter|gauge|histogram|summary|untyped)))");
  static const std::regex sample(R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?)"
                                 R"( (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?)");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (!std::regex_match(line, line[0] == '#' ? comment : sample)) {
      *bad_line = line;
      return false;
    }
  }
  return true;
}

std::optional<double> sampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

// ---- fixture -------------------------------------------------------------------------

TinyHttpServer::Handler versioned(const std::string& version, const std::string& instance) {
  return [version, instance](const TinyRequest&) {
    TinyReply r;
    r.headers = {{"x-cutover-version", version}, {"x-cutover-instance", instance}};
    return r;
  };
}

class AdminApi : public ::testing::Test {
 protected:
  void SetUp() override { start(ProxyOptions{}, AdminOptions{}); }
  void TearDown() override {
    if (admin_) admin_->stop();
    if (proxy_) proxy_->stop();
  }

  void start(ProxyOptions proxy_options, AdminOptions admin_options) {
    if (admin_) admin_->stop();
    if (proxy_) proxy_->stop();
    admin_.reset();
    proxy_ = std::make_unique<Proxy>(std::move(proxy_options));
    metrics_ = std::make_unique<SwitcherMetrics>();
    proxy_->setObserver(metrics_.get());
    std::string error;
    ASSERT_TRUE(proxy_->start(&error)) << error;
    proxy_->addBackend("blue", "blue-1", blue_.port(), true);
    proxy_->addBackend("green", "green-1", green_.port(), true);
    admin_ = std::make_unique<AdminServer>(*proxy_, *metrics_, admin_options);
    ASSERT_TRUE(admin_->start(&error)) << error;
    port_ = admin_->port();
  }

  // GET / through the proxy; the status, or 0 when no response came.
  int viaProxy() { return request(proxy_->port(), "GET", "/").status; }

  TinyHttpServer blue_{versioned("v1", "blue-1")};
  TinyHttpServer green_{versioned("v2", "green-1")};
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<SwitcherMetrics> metrics_;
  std::unique_ptr<AdminServer> admin_;
  unsigned short port_ = 0;
};

TEST_F(AdminApi, HealthAnswers) {
  const Raw r = request(port_, "GET", "/health");
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(bodyJson(r)["status"], "ok");
  EXPECT_NE(r.head.find("application/json"), std::string::npos);
}

TEST_F(AdminApi, SwitchMakesThePoolActiveAndStateShowsIt) {
  EXPECT_EQ(viaProxy(), 503);  // no active pool yet: the switcher's own answer
  const Raw sw = request(port_, "POST", "/switch?to=blue");
  ASSERT_EQ(sw.status, 200) << sw.body;
  EXPECT_EQ(bodyJson(sw)["active_pool"], "blue");
  EXPECT_EQ(viaProxy(), 200);
  EXPECT_EQ(blue_.requests(), 1u);

  const Raw st = request(port_, "GET", "/state", "localhost:" + std::to_string(port_));
  ASSERT_EQ(st.status, 200);
  const json s = bodyJson(st);
  ASSERT_FALSE(s.is_discarded()) << st.body;
  EXPECT_EQ(s["active_pool"], "blue");
  ASSERT_EQ(s["pools"].size(), 2u);
  EXPECT_EQ(s["pools"][0]["name"], "blue");
  EXPECT_EQ(s["pools"][0]["backends"][0]["instance"], "blue-1");
  EXPECT_EQ(s["pools"][0]["backends"][0]["port"], blue_.port());
  EXPECT_EQ(s["pools"][0]["backends"][0]["healthy"], true);
  EXPECT_EQ(s["pools"][1]["active"], false);
  EXPECT_GE(s["stats"]["requests"].get<int>(), 2);
}

// Needs the proxy's onEvent call (ProxyObserver).
TEST_F(AdminApi, StateListsRecentEvents) {
  ASSERT_EQ(request(port_, "POST", "/switch?to=blue").status, 200);
  ASSERT_TRUE(waitFor([&] {
    const json s = bodyJson(request(port_, "GET", "/state"));
    for (const auto& e : s["recent_events"])
      if (e["kind"] == "switched" && e["pool"] == "blue") return true;
    return false;
  }, 5s));
}

TEST_F(AdminApi, SwitchAndRollback) {
  ASSERT_EQ(request(port_, "POST", "/switch?to=blue").status, 200);
  ASSERT_EQ(request(port_, "POST", "/switch?to=green").status, 200);
  EXPECT_EQ(viaProxy(), 200);
  EXPECT_EQ(green_.requests(), 1u);
  const Raw rb = request(port_, "POST", "/rollback");
  ASSERT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(bodyJson(rb)["active_pool"], "blue");
  EXPECT_EQ(viaProxy(), 200);
  EXPECT_EQ(blue_.requests(), 1u);
  const Raw again = request(port_, "POST", "/rollback");  // nothing kept to go back to
  EXPECT_EQ(again.status, 409);
  EXPECT_FALSE(bodyJson(again)["error"].get<std::string>().empty());
}

TEST_F(AdminApi, UnknownPoolIs404AndRefusedSwitchIs409) {
  const Raw unknown = request(port_, "POST", "/switch?to=purple");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(bodyJson(unknown)["error"].get<std::string>().find("purple"), std::string::npos);
  proxy_->addBackend("gray", "gray-1", green_.port(), false);  // known, not ready
  const Raw refused = request(port_, "POST", "/switch?to=gray");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(bodyJson(refused)["error"].get<std::string>().find("healthy"), std::string::npos) << refused.body;
}

// Needs the Core's readiness wait (ReadinessGate::wait) reaching Proxy::switchTo.
TEST_F(AdminApi, SwitchWaitingForReadinessIs202) {
  ProxyOptions options;
  options.core.readiness.wait = 30s;
  start(options, AdminOptions{});
  proxy_->addBackend("gray", "gray-1", green_.port(), false);
  const Raw pending = request(port_, "POST", "/switch?to=gray");
  EXPECT_EQ(pending.status, 202) << pending.body;
  EXPECT_EQ(bodyJson(pending)["pending"], true);
}

TEST_F(AdminApi, BadInputGets400WithJsonError) {
  for (const char* target : {"/switch", "/switch?to=", "/switch?to=a%20b", "/switch?to=x&to=y",
                             "/switch?to=green&force=1", "/switch?to=%zz"}) {
    const Raw r = request(port_, "POST", target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_TRUE(bodyJson(r).contains("error")) << target << ": " << r.body;
  }
  EXPECT_EQ(proxy_->activePool(), "");
}

TEST_F(AdminApi, WrongMethodIs405AndUnknownPathIs404) {
  const Raw get_switch = request(port_, "GET", "/switch?to=blue");
  EXPECT_EQ(get_switch.status, 405);
  EXPECT_NE(get_switch.head.find("Allow: POST"), std::string::npos) << get_switch.head;
  EXPECT_EQ(request(port_, "DELETE", "/state").status, 405);
  EXPECT_EQ(request(port_, "GET", "/nope").status, 404);
  EXPECT_EQ(proxy_->activePool(), "");
}

TEST_F(AdminApi, MetricsParseAndCountRequestsThroughTheProxy) {
  ASSERT_EQ(request(port_, "POST", "/switch?to=blue").status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(viaProxy(), 200);
  ASSERT_EQ(request(port_, "POST", "/switch?to=green").status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(viaProxy(), 200);

  const Raw m = request(port_, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.head.find("text/plain; version=0.0.4"), std::string::npos) << m.head;
  std::string bad;
  EXPECT_TRUE(parsesAsPrometheusText(m.body, &bad)) << bad;
  EXPECT_EQ(sampleValue(m.body, R"(cutover_switcher_active_pool{pool="green"})"), 1.0);
  EXPECT_EQ(sampleValue(m.body, R"(cutover_switcher_active_pool{pool="blue"})"), 0.0);
  EXPECT_EQ(sampleValue(m.body, R"(cutover_switcher_backend_healthy{instance="blue-1",pool="blue"})"), 1.0);
  EXPECT_EQ(sampleValue(m.body, R"(cutover_switcher_in_flight{pool="blue"})"), 0.0);
}

// Needs the proxy's onExchange and onEvent calls (ProxyObserver).
TEST_F(AdminApi, MetricsCountRequestsByVersionAndSwitches) {
  ASSERT_EQ(request(port_, "POST", "/switch?to=blue").status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(viaProxy(), 200);
  ASSERT_EQ(request(port_, "POST", "/switch?to=green").status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(viaProxy(), 200);
  std::string body;
  const bool counted = waitFor([&] {
    body = request(port_, "GET", "/metrics").body;
    return sampleValue(body, R"(cutover_switcher_requests_total{outcome="ok",pool="blue",version="v1"})") == 5.0 &&
           sampleValue(body, R"(cutover_switcher_requests_total{outcome="ok",pool="green",version="v2"})") == 3.0;
  }, 5s);
  EXPECT_TRUE(counted) << body;
  EXPECT_EQ(sampleValue(body, "cutover_switcher_switches_total"), 2.0);
  EXPECT_EQ(sampleValue(body, R"(cutover_switcher_request_duration_seconds_count{pool="blue"})"), 5.0);
  EXPECT_EQ(sampleValue(body, R"(cutover_switcher_drain_seconds_count{pool="blue"})"), 1.0);
}

// ---- security (issue 10) ------------------------------------------------------------------

TEST_F(AdminApi, NonLoopbackHostHeaderIs403) {
  for (const char* host : {"evil.example", "evil.example:80", "127.0.0.1.evil.example", "10.1.2.3"}) {
    const Raw r = request(port_, "POST", "/switch?to=blue", host);
    EXPECT_EQ(r.status, 403) << host;
  }
  // A second Host header cannot hide behind a loopback first one.
  EXPECT_EQ(request(port_, "POST", "/switch?to=blue", "127.0.0.1", "Host: evil.example\r\n").status, 403);
  EXPECT_EQ(proxy_->activePool(), "");
  EXPECT_EQ(request(port_, "GET", "/state", "[::1]:" + std::to_string(port_)).status, 200);
}

TEST_F(AdminApi, CrossSiteOriginIs403) {
  EXPECT_EQ(request(port_, "POST", "/switch?to=blue", "127.0.0.1", "Origin: https://evil.example\r\n").status, 403);
  EXPECT_EQ(proxy_->activePool(), "");
  EXPECT_EQ(request(port_, "POST", "/switch?to=blue", "127.0.0.1", "Origin: http://127.0.0.1\r\n").status, 200);
}

TEST_F(AdminApi, MissingHostIs400) {
  const Raw r = rawExchange(port_, "GET /state HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 400);
}

TEST_F(AdminApi, OversizedHeaderIs431AndBodyIs413) {
  const Raw big_head = request(port_, "GET", "/state", "127.0.0.1", "X-Pad: " + std::string(20000, 'a') + "\r\n");
  EXPECT_EQ(big_head.status, 431);
  const Raw big_body = rawExchange(port_, "POST /switch?to=blue HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Content-Length: 10000000\r\n\r\n");
  EXPECT_EQ(big_body.status, 413);
  EXPECT_EQ(proxy_->activePool(), "");
  // The server still answers afterwards.
  EXPECT_EQ(request(port_, "GET", "/health").status, 200);
}

TEST_F(AdminApi, MalformedRequestIs400) {
  EXPECT_EQ(rawExchange(port_, "GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(rawExchange(port_, "GET /state FOO/1.1\r\nHost: 127.0.0.1\r\n\r\n").status, 400);
}

TEST_F(AdminApi, IdleConnectionIsClosedAfterTheReadTimeout) {
  AdminOptions options;
  options.read_timeout = 300ms;
  start(ProxyOptions{}, options);
  const int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // the head never ends
  const auto t0 = std::chrono::steady_clock::now();
  const Raw r = readResponse(fd);  // bounded by SO_RCVTIMEO 5 s
  ::close(fd);
  EXPECT_TRUE(r.closed);
  EXPECT_FALSE(r.complete);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(AdminApi, KeepAliveServesSeveralRequestsOnOneConnection) {
  const int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    sendAll(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const Raw r = readResponse(fd);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.status, 200);
  }
  ::close(fd);
}

TEST(AdminServerOptions, RefusesNonLoopbackHosts) {
  Proxy proxy{ProxyOptions{}};
  SwitcherMetrics metrics;
  for (const char* host : {"0.0.0.0", "::", "192.0.2.1", "localhost", "example.com", ""}) {
    AdminOptions options;
    options.host = host;
    AdminServer admin(proxy, metrics, options);
    std::string error;
    EXPECT_FALSE(admin.start(&error)) << host;
    EXPECT_FALSE(error.empty()) << host;
  }
  AdminOptions loopback;
  loopback.host = "127.0.0.1";
  AdminServer ok(proxy, metrics, loopback);
  std::string error;
  EXPECT_TRUE(ok.start(&error)) << error;
  EXPECT_NE(ok.port(), 0);
  ok.stop();
}

}  // namespace
}  // namespace cutover::switcher
