// handleAdmin, the admin API's pure request handler, against a fake context.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/switcher/admin.hpp"

namespace cutover::switcher {
namespace {

using nlohmann::json;

class FakeContext : public AdminContext {
 public:
  std::string active = "blue";
  std::vector<BackendView> list;
  std::vector<Event> events;
  AdminSwitchResult next_switch{AdminSwitchResult::Kind::done, ""};
  AdminSwitchResult next_rollback{AdminSwitchResult::Kind::done, ""};
  std::vector<std::string> switched_to;
  int rollbacks = 0;
  bool throw_on_state = false;

  std::string activePool() override { return active; }
  std::vector<BackendView> backends() override {
    if (throw_on_state) throw std::runtime_error("boom");
    return list;
  }
  ProxyStats stats() override {
    ProxyStats s;
    s.requests = 42;
    return s;
  }
  std::vector<Event> recentEvents() override { return events; }
  AdminSwitchResult switchTo(const std::string& pool) override {
    switched_to.push_back(pool);
    if (next_switch.kind == AdminSwitchResult::Kind::done) active = pool;
    return next_switch;
  }
  AdminSwitchResult rollback() override {
    ++rollbacks;
    return next_rollback;
  }
  std::string metricsText() override { return "# TYPE x counter\nx 1\n"; }
};

AdminRequest req(std::string method, std::string target, std::optional<std::string> host = "127.0.0.1:9000") {
  AdminRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.host = std::move(host);
  return r;
}

json body(const AdminResponse& r) { return json::parse(r.body); }

TEST(AdminHost, AcceptsLoopbackNamesWithOptionalPort) {
  for (const char* h : {"127.0.0.1", "127.0.0.1:8080", "127.1.2.3", "127.255.255.255:65535", "localhost",
                        "LOCALHOST:1", "[::1]", "[::1]:9090"})
    EXPECT_TRUE(isLoopbackHost(h)) << h;
}

TEST(AdminHost, RejectsEverythingElse) {
  for (const char* h : {"", "evil.com", "evil.com:80", "127.0.0.1.evil.com", "localhost.evil.com", "128.0.0.1",
                        "10.0.0.1", "0.0.0.0", "127.0.0.01", "127.0.0", "127.0.0.1.", "127.0.0.256",
                        "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:123456", "127.0.0.1:80:80", "[::2]",
                        "[::1", "[::1]x", "[::1]:", "localhost:http", "127.0.0.1, evil.com", " 127.0.0.1",
                        "[::ffff:127.0.0.1]"})
    EXPECT_FALSE(isLoopbackHost(h)) << h;
}

TEST(AdminHost, OriginMustBeLoopbackHttp) {
  EXPECT_TRUE(isLoopbackOrigin("http://127.0.0.1:9000"));
  EXPECT_TRUE(isLoopbackOrigin("https://localhost"));
  EXPECT_FALSE(isLoopbackOrigin("null"));
  EXPECT_FALSE(isLoopbackOrigin("http://evil.com"));
  EXPECT_FALSE(isLoopbackOrigin("file://127.0.0.1"));
  EXPECT_FALSE(isLoopbackOrigin("http://"));
}

TEST(AdminHost, PoolNames) {
  EXPECT_TRUE(isValidPoolName("green"));
  EXPECT_TRUE(isValidPoolName("canary-2_a.b"));
  EXPECT_FALSE(isValidPoolName(""));
  EXPECT_FALSE(isValidPoolName(std::string(65, 'a')));
  EXPECT_FALSE(isValidPoolName("a b"));
  EXPECT_FALSE(isValidPoolName("a/b"));
}

TEST(AdminHandler, HealthAnswersOk) {
  FakeContext ctx;
  const auto r = handleAdmin(req("GET", "/health"), ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["status"], "ok");
}

TEST(AdminHandler, StateListsPoolsBackendsStatsAndEvents) {
  FakeContext ctx;
  BackendView b1{"blue", "blue-1", 8081, 2, true, false, 0};
  BackendView b2{"blue", "blue-2", 8082, 1, true, true, 1};
  BackendView g1{"green", "green-1", 8083, 0, false, false, 0};
  ctx.list = {b1, b2, g1};
  ctx.events = {Event{fromNanos(5), "switched", "blue", "from none"}};
  const auto r = handleAdmin(req("GET", "/state"), ctx);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/json");
  const json s = body(r);
  EXPECT_EQ(s["active_pool"], "blue");
  ASSERT_EQ(s["pools"].size(), 2u);
  EXPECT_EQ(s["pools"][0]["name"], "blue");
  EXPECT_EQ(s["pools"][0]["active"], true);
  EXPECT_EQ(s["pools"][0]["in_flight"], 3);
  EXPECT_EQ(s["pools"][0]["healthy"], 1);  // blue-2 is ejected
  EXPECT_EQ(s["pools"][0]["backends"][1]["ejected"], true);
  EXPECT_EQ(s["pools"][0]["backends"][1]["times_ejected"], 1);
  EXPECT_EQ(s["pools"][1]["name"], "green");
  EXPECT_EQ(s["pools"][1]["backends"][0]["healthy"], false);
  EXPECT_EQ(s["stats"]["requests"], 42);
  ASSERT_EQ(s["recent_events"].size(), 1u);
  EXPECT_EQ(s["recent_events"][0]["kind"], "switched");
  EXPECT_EQ(s["recent_events"][0]["at_ns"], 5);
}

TEST(AdminHandler, StateWithNoActivePoolSaysNull) {
  FakeContext ctx;
  ctx.active = "";
  EXPECT_TRUE(body(handleAdmin(req("GET", "/state"), ctx))["active_pool"].is_null());
}

TEST(AdminHandler, SwitchAnswersEachOutcome) {
  FakeContext ctx;
  auto r = handleAdmin(req("POST", "/switch?to=green"), ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r)["active_pool"], "green");
  EXPECT_EQ(ctx.switched_to, std::vector<std::string>{"green"});

  ctx.next_switch = {AdminSwitchResult::Kind::refused, "pool green has 0 healthy backends, 1 required"};
  r = handleAdmin(req("POST", "/switch?to=green"), ctx);
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(body(r)["error"], "pool green has 0 healthy backends, 1 required");

  ctx.next_switch = {AdminSwitchResult::Kind::unknown_pool, "unknown pool purple"};
  r = handleAdmin(req("POST", "/switch?to=purple"), ctx);
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(body(r)["error"], "unknown pool purple");

  ctx.next_switch = {AdminSwitchResult::Kind::pending, "waiting for the readiness gate"};
  r = handleAdmin(req("POST", "/switch?to=green"), ctx);
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(body(r)["pending"], true);

  ctx.next_switch = {AdminSwitchResult::Kind::unavailable, "switcher I/O thread did not answer"};
  EXPECT_EQ(handleAdmin(req("POST", "/switch?to=green"), ctx).status, 503u);
}

TEST(AdminHandler, SwitchDecodesThePoolName) {
  FakeContext ctx;
  EXPECT_EQ(handleAdmin(req("POST", "/switch?to=gr%65en"), ctx).status, 200u);
  EXPECT_EQ(ctx.switched_to.back(), "green");
}

TEST(AdminHandler, SwitchRejectsBadInputWith400) {
  FakeContext ctx;
  for (const char* target : {"/switch", "/switch?", "/switch?to=", "/switch?to", "/switch?to=a%20b",
                             "/switch?to=green&to=blue", "/switch?to=green&force=1", "/switch?to=%zz",
                             "/switch?to=%4", "/switch?to=a/b"}) {
    const auto r = handleAdmin(req("POST", target), ctx);
    EXPECT_EQ(r.status, 400u) << target;
    EXPECT_TRUE(body(r).contains("error")) << target;
  }
  EXPECT_TRUE(ctx.switched_to.empty());
}

TEST(AdminHandler, Rollback) {
  FakeContext ctx;
  EXPECT_EQ(handleAdmin(req("POST", "/rollback"), ctx).status, 200u);
  ctx.next_rollback = {AdminSwitchResult::Kind::refused, "no previous pool kept"};
  const auto r = handleAdmin(req("POST", "/rollback"), ctx);
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(body(r)["error"], "no previous pool kept");
  EXPECT_EQ(handleAdmin(req("POST", "/rollback?now=1"), ctx).status, 400u);
  EXPECT_EQ(ctx.rollbacks, 2);
}

TEST(AdminHandler, MetricsIsPrometheusText) {
  FakeContext ctx;
  const auto r = handleAdmin(req("GET", "/metrics"), ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, kPrometheusContentType);
  EXPECT_EQ(r.body, "# TYPE x counter\nx 1\n");
}

TEST(AdminHandler, WrongMethodIs405WithAllow) {
  FakeContext ctx;
  struct Case {
    const char* method;
    const char* target;
    const char* allow;
  };
  for (const Case& c : {Case{"GET", "/switch?to=green", "POST"}, Case{"GET", "/rollback", "POST"},
                        Case{"POST", "/state", "GET"}, Case{"DELETE", "/metrics", "GET"},
                        Case{"PUT", "/health", "GET"}}) {
    const auto r = handleAdmin(req(c.method, c.target), ctx);
    EXPECT_EQ(r.status, 405u) << c.method << " " << c.target;
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Allow");
    EXPECT_EQ(r.headers[0].second, c.allow);
  }
  EXPECT_TRUE(ctx.switched_to.empty());
  EXPECT_EQ(ctx.rollbacks, 0);
}

TEST(AdminHandler, UnknownPathIs404) {
  FakeContext ctx;
  for (const char* target : {"/", "/nope", "/state/", "/STATE", "/switch/green"})
    EXPECT_EQ(handleAdmin(req("GET", target), ctx).status, 404u) << target;
}

TEST(AdminHandler, HostAndOriginGuards) {
  FakeContext ctx;
  EXPECT_EQ(handleAdmin(req("GET", "/state", std::nullopt), ctx).status, 400u);
  EXPECT_EQ(handleAdmin(req("POST", "/switch?to=green", "evil.example:9000"), ctx).status, 403u);
  auto r = req("POST", "/switch?to=green");
  r.origin = "http://evil.example";
  EXPECT_EQ(handleAdmin(r, ctx).status, 403u);
  EXPECT_TRUE(ctx.switched_to.empty());
  r.origin = "http://127.0.0.1:9000";
  EXPECT_EQ(handleAdmin(r, ctx).status, 200u);
}

TEST(AdminHandler, TargetMustBeOriginForm) {
  FakeContext ctx;
  EXPECT_EQ(handleAdmin(req("GET", "http://127.0.0.1/state"), ctx).status, 400u);
  EXPECT_EQ(handleAdmin(req("GET", "*"), ctx).status, 400u);
  EXPECT_EQ(handleAdmin(req("GET", ""), ctx).status, 400u);
}

TEST(AdminHandler, ContextFailureIs500NotAThrow) {
  FakeContext ctx;
  ctx.throw_on_state = true;
  const auto r = handleAdmin(req("GET", "/state"), ctx);
  EXPECT_EQ(r.status, 500u);
  EXPECT_TRUE(body(r).contains("error"));
}

TEST(AdminHandler, InvalidUtf8InNamesStillGivesJson) {
  FakeContext ctx;
  ctx.events = {Event{fromNanos(1), "switched", "blue", std::string("\xff\xfe bad", 6)}};
  const auto r = handleAdmin(req("GET", "/state"), ctx);
  EXPECT_EQ(r.status, 200u);
  EXPECT_NO_THROW((void)body(r));
}

// A bounded, seeded stand-in for the libFuzzer target: random requests never
// throw and always get a known status with a JSON (or metrics) body.
TEST(AdminHandler, RandomRequestsAlwaysGetAnAnswer) {
  FakeContext ctx;
  Rng rng(12345);
  const std::vector<std::string> methods{"GET", "POST", "PUT", "", "get", "POST\r\n"};
  const std::vector<std::string> pieces{"/", "switch", "state", "?", "to=", "&", "%", "%4", "%41", "green", "=",
                                        "rollback", "metrics", "health", "\x00", "\xff", "..", "to"};
  const std::vector<std::string> hosts{"127.0.0.1", "localhost:1", "[::1]", "evil", ""};
  for (int i = 0; i < 20000; ++i) {
    AdminRequest r;
    r.method = methods[rng() % methods.size()];
    const int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) r.target += pieces[rng() % pieces.size()];
    if (rng() % 8 != 0) r.host = hosts[rng() % hosts.size()];
    if (rng() % 4 == 0) r.origin = hosts[rng() % hosts.size()];
    ctx.next_switch.kind = static_cast<AdminSwitchResult::Kind>(rng() % 5);
    AdminResponse a;
    ASSERT_NO_THROW(a = handleAdmin(r, ctx));
    const std::vector<unsigned> known{200, 202, 400, 403, 404, 405, 409, 500, 503};
    ASSERT_NE(std::find(known.begin(), known.end(), a.status), known.end()) << a.status;
    if (a.content_type == "application/json") {
      ASSERT_TRUE(json::accept(a.body)) << a.body;
    }
  }
}

}  // namespace
}  // namespace cutover::switcher
