#pragma once
// The switcher's admin API: GET /state, POST /switch?to=POOL, POST /rollback,
// GET /metrics, GET /health, on its own loopback port (docs/admin-api.md).
//
// Two parts, so the logic can be unit-tested and fuzzed without sockets:
// - handleAdmin(request, context): a pure function from a parsed request to a
//   response; the context is the switcher it acts on (an interface, so tests
//   and fuzzers pass a fake). No Beast types in it (admin_handler.cpp).
// - AdminServer: the Asio/Beast shell (admin.cpp), one I/O thread, one object
//   per connection, an expiry on every read and write, bounded header and
//   body sizes (431 / 413), bounded connections. No Boost in this header.
//
// Security (issue 10): the server binds loopback addresses only (start()
// refuses any other host); handleAdmin answers 403 to a Host header that is
// not loopback (127.x.y.z, localhost, [::1], each with an optional port), a
// guard against DNS rebinding, and to an Origin header that is not a loopback
// http(s) origin (a web page's cross-site POST cannot switch pools).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/switcher/core.hpp"
#include "sim/switcher/events.hpp"
#include "sim/switcher/proxy.hpp"

namespace cutover::switcher {

class SwitcherMetrics;

// ---- the pure request handler ------------------------------------------------------

struct AdminRequest {
  std::string method;                 // "GET", "POST", ... as sent
  std::string target;                 // origin-form: "/switch?to=green"
  std::optional<std::string> host;    // the Host header, when present
  std::optional<std::string> origin;  // the Origin header, when present
  std::string body;
};

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Allow
};

struct AdminSwitchResult {
  enum class Kind : std::uint8_t {
    done,          // 200: the switch (or rollback) happened
    pending,       // 202: accepted, waiting for the readiness gate
    refused,       // 409: with the reason
    unknown_pool,  // 404
    unavailable,   // 503: the switcher did not answer in time
  };
  Kind kind = Kind::refused;
  std::string reason;
};

// What the admin API acts on. Calls may block briefly (a live proxy answers
// from its I/O thread); none is made on the proxy's own I/O thread.
class AdminContext {
 public:
  virtual ~AdminContext() = default;
  virtual std::string activePool() = 0;  // "" when none
  virtual std::vector<BackendView> backends() = 0;
  virtual ProxyStats stats() = 0;
  virtual std::vector<Event> recentEvents() = 0;  // oldest first
  virtual AdminSwitchResult switchTo(const std::string& pool) = 0;
  virtual AdminSwitchResult rollback() = 0;
  virtual std::string metricsText() = 0;  // Prometheus text format 0.0.4
};

// The whole of the API's logic: routing, validation, security checks, JSON.
// Never throws; any input gives a response (a fuzz target's contract).
AdminResponse handleAdmin(const AdminRequest& request, AdminContext& context);

// True for a Host header naming a loopback address: 127.a.b.c (decimal, no
// leading zeros), "localhost" (any case) or "[::1]", each with an optional
// ":port" (1 to 5 digits, at most 65535).
bool isLoopbackHost(std::string_view host);
// True for "http://" or "https://" followed by a loopback host (as above).
bool isLoopbackOrigin(std::string_view origin);
// Pool names the API accepts: 1 to 64 bytes of [A-Za-z0-9._-].
bool isValidPoolName(std::string_view pool);

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// The context of a live switcher: a Proxy and the SwitcherMetrics observing it.
class ProxyAdminContext final : public AdminContext {
 public:
  ProxyAdminContext(Proxy& proxy, SwitcherMetrics& metrics) : proxy_(proxy), metrics_(metrics) {}
  std::string activePool() override;
  std::vector<BackendView> backends() override;
  ProxyStats stats() override;
  std::vector<Event> recentEvents() override;
  AdminSwitchResult switchTo(const std::string& pool) override;
  AdminSwitchResult rollback() override;
  std::string metricsText() override;

 private:
  Proxy& proxy_;
  SwitcherMetrics& metrics_;
};

// ---- the server -----------------------------------------------------------------

struct AdminOptions {
  std::string host = "127.0.0.1";  // a loopback address; start() refuses others
  std::uint16_t port = 0;          // 0: any free port
  std::size_t max_header_bytes = 8 * 1024;   // request line and headers; over it: 431
  std::size_t max_body_bytes = 64 * 1024;    // over it: 413
  Duration read_timeout = std::chrono::seconds(10);   // each request, including waiting for it
  Duration write_timeout = std::chrono::seconds(10);  // each response
  std::size_t max_connections = 64;  // more are closed at once
  std::size_t max_requests_per_connection = 10000;  // then the connection closes
};

class AdminServer {
 public:
  // The live switcher's API. `proxy` and `metrics` must outlive the server;
  // stop the server before the proxy.
  AdminServer(Proxy& proxy, SwitcherMetrics& metrics, AdminOptions options = {});
  // Any context (tests, a fake); not owned, must outlive the server.
  AdminServer(AdminContext& context, AdminOptions options = {});
  ~AdminServer();  // stops
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts the I/O thread. False (with a message) on failure,
  // including a host that is not a loopback address.
  bool start(std::string* error);
  // Stops accepting, closes every connection, joins the I/O thread (bounded).
  void stop();
  std::uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<ProxyAdminContext> owned_context_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cutover::switcher
