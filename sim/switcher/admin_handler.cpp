// The admin API's logic as a pure function of a parsed request (no sockets, no
// Beast): handleAdmin, the loopback checks, and the live context. See
// admin.hpp and docs/admin-api.md.
//
// Order of checks, first match answers:
//   1. Host missing -> 400; Host not loopback -> 403; Origin not loopback -> 403
//   2. target not origin-form ("/..."), bad percent-encoding -> 400
//   3. unknown path -> 404; method not allowed on the path -> 405 with Allow
//   4. per endpoint: unknown or repeated query parameters -> 400, a missing or
//      malformed pool name -> 400, then the action's own answer
#include <algorithm>
#include <cctype>
#include <exception>
#include <map>
#include <variant>
#include <nlohmann/json.hpp>

#include "sim/switcher/admin.hpp"
#include "sim/switcher/switcher_metrics.hpp"

namespace cutover::switcher {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPoolName = 64;

std::string dump(const json& j) {
  // Names and details may hold any bytes: never throw on invalid UTF-8.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

AdminResponse jsonResponse(unsigned status, const json& body) {
  AdminResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

AdminResponse error(unsigned status, const std::string& message) {
  return jsonResponse(status, json{{"error", message}});
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool validPort(std::string_view s) {
  if (!allDigits(s) || s.size() > 5) return false;
  unsigned long v = 0;
  for (const char c : s) v = v * 10 + static_cast<unsigned long>(c - '0');
  return v <= 65535;
}

// 127.a.b.c, decimal octets without leading zeros.
bool isLoopbackIpv4(std::string_view s) {
  int octets = 0;
  while (true) {
    const std::size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (!allDigits(part) || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return false;
    const int value = std::stoi(std::string(part));
    if (value > 255 || (octets == 0 && value != 127)) return false;
    ++octets;
    if (dot == std::string_view::npos) return octets == 4;
    if (octets == 4) return false;  // a fifth part, or a trailing dot
    s.remove_prefix(dot + 1);
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hexValue(s[i + 1]);
    const int lo = hexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

// Parses "/path?k=v&k2=v2"; an error message when it is not acceptable.
std::variant<Target, std::string> parseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') return std::string("request target must be a path starting with /");
  const std::size_t q = target.find('?');
  const auto path = percentDecode(target.substr(0, q));
  if (!path) return std::string("bad percent-encoding in path");
  Target t{*path, {}};
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const auto key = percentDecode(pair.substr(0, eq));
    const auto value = percentDecode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return std::string("bad percent-encoding in query");
    if (!t.query.emplace(*key, *value).second) return "query parameter '" + *key + "' given twice";
  }
  return t;
}

// 400 when the query holds a parameter not in `allowed`.
std::optional<AdminResponse> rejectUnknownParams(const Target& t, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : t.query) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return error(400, "unknown query parameter '" + key + "'");
  }
  return std::nullopt;
}

json eventJson(const Event& e) {
  return json{{"at_ns", toNanos(e.at)}, {"kind", e.kind}, {"pool", e.pool}, {"detail", e.detail}};
}

json statsJson(const ProxyStats& s) {
  return json{{"client_connections", s.client_connections}, {"requests", s.requests},
              {"switch_errors", s.switch_errors},           {"upstream_connects", s.upstream_connects},
              {"upstream_reuses", s.upstream_reuses},       {"upstream_retries", s.upstream_retries},
              {"upstream_closed_idle", s.upstream_closed_idle}};
}

AdminResponse state(AdminContext& ctx) {
  const std::string active = ctx.activePool();
  const std::vector<BackendView> backends = ctx.backends();
  std::vector<std::string> order;
  std::map<std::string, json> pools;
  auto pool = [&](const std::string& name) -> json& {
    auto it = pools.find(name);
    if (it != pools.end()) return it->second;
    order.push_back(name);
    return pools[name] = json{{"name", name},    {"active", name == active}, {"in_flight", 0},
                              {"healthy", 0},    {"backends", json::array()}};
  };
  for (const auto& b : backends) {
    json& p = pool(b.pool);
    p["in_flight"] = p["in_flight"].get<std::uint64_t>() + b.in_flight;
    if (b.healthy && !b.ejected) p["healthy"] = p["healthy"].get<std::uint64_t>() + 1;
    p["backends"].push_back(json{{"instance", b.instance},
                                 {"port", b.port},
                                 {"healthy", b.healthy},
                                 {"ejected", b.ejected},
                                 {"times_ejected", b.times_ejected},
                                 {"in_flight", b.in_flight}});
  }
  if (!active.empty()) pool(active);
  json body{{"active_pool", active.empty() ? json(nullptr) : json(active)}, {"pools", json::array()}};
  for (const auto& name : order) body["pools"].push_back(pools[name]);
  body["stats"] = statsJson(ctx.stats());
  body["recent_events"] = json::array();
  for (const auto& e : ctx.recentEvents()) body["recent_events"].push_back(eventJson(e));
  return jsonResponse(200, body);
}

AdminResponse switchAnswer(const AdminSwitchResult& r, const std::string& active, const char* what) {
  switch (r.kind) {
    case AdminSwitchResult::Kind::done:
      return jsonResponse(200, json{{"ok", true}, {"action", what}, {"active_pool", active}});
    case AdminSwitchResult::Kind::pending:
      return jsonResponse(202, json{{"ok", false}, {"action", what}, {"pending", true}, {"reason", r.reason}});
    case AdminSwitchResult::Kind::unknown_pool:
      return error(404, r.reason.empty() ? "unknown pool" : r.reason);
    case AdminSwitchResult::Kind::unavailable:
      return error(503, r.reason.empty() ? "switcher unavailable" : r.reason);
    case AdminSwitchResult::Kind::refused:
      break;
  }
  return error(409, r.reason.empty() ? std::string(what) + " refused" : r.reason);
}

AdminResponse doSwitch(const Target& t, AdminContext& ctx) {
  if (auto bad = rejectUnknownParams(t, {"to"})) return *bad;
  const auto it = t.query.find("to");
  if (it == t.query.end() || it->second.empty()) return error(400, "missing query parameter 'to' (POST /switch?to=POOL)");
  if (!isValidPoolName(it->second))
    return error(400, "bad pool name: 1 to 64 characters of A-Z a-z 0-9 . _ -");
  const AdminSwitchResult r = ctx.switchTo(it->second);
  return switchAnswer(r, r.kind == AdminSwitchResult::Kind::done ? ctx.activePool() : "", "switch");
}

AdminResponse doRollback(const Target& t, AdminContext& ctx) {
  if (auto bad = rejectUnknownParams(t, {})) return *bad;
  const AdminSwitchResult r = ctx.rollback();
  return switchAnswer(r, r.kind == AdminSwitchResult::Kind::done ? ctx.activePool() : "", "rollback");
}

AdminResponse metrics(const Target& t, AdminContext& ctx) {
  if (auto bad = rejectUnknownParams(t, {})) return *bad;
  AdminResponse r;
  r.content_type = std::string(kPrometheusContentType);
  r.body = ctx.metricsText();
  return r;
}

struct Endpoint {
  std::string_view path;
  std::string_view method;
  AdminResponse (*handle)(const Target&, AdminContext&);
};

const Endpoint kEndpoints[] = {
    {"/health", "GET", [](const Target&, AdminContext&) { return jsonResponse(200, json{{"status", "ok"}}); }},
    {"/state", "GET", [](const Target& t, AdminContext& ctx) {
       if (auto bad = rejectUnknownParams(t, {})) return *bad;
       return state(ctx);
     }},
    {"/metrics", "GET", &metrics},
    {"/switch", "POST", &doSwitch},
    {"/rollback", "POST", &doRollback},
};

AdminResponse route(const AdminRequest& req, AdminContext& ctx) {
  if (!req.host) return error(400, "missing Host header");
  if (!isLoopbackHost(*req.host)) return error(403, "Host header must name a loopback address");
  if (req.origin && !isLoopbackOrigin(*req.origin)) return error(403, "Origin must be a loopback origin");
  auto parsed = parseTarget(req.target);
  if (const auto* msg = std::get_if<std::string>(&parsed)) return error(400, *msg);
  const Target& t = std::get<Target>(parsed);
  for (const Endpoint& e : kEndpoints) {
    if (t.path != e.path) continue;
    if (req.method != e.method) {
      AdminResponse r = error(405, std::string(e.path) + " allows " + std::string(e.method) + " only");
      r.headers.emplace_back("Allow", std::string(e.method));
      return r;
    }
    return e.handle(t, ctx);
  }
  return error(404, "no such endpoint; try GET /state, GET /metrics, GET /health, POST /switch?to=POOL, "
                    "POST /rollback");
}

AdminSwitchResult fromSwitchResult(const SwitchResult& r) {
  if (r.pending) return {AdminSwitchResult::Kind::pending, r.reason};  // waiting for the readiness gate
  if (r.ok) return {AdminSwitchResult::Kind::done, r.reason};
  if (r.reason.rfind("unknown pool", 0) == 0) return {AdminSwitchResult::Kind::unknown_pool, r.reason};
  if (r.reason.find("did not answer") != std::string::npos) return {AdminSwitchResult::Kind::unavailable, r.reason};
  return {AdminSwitchResult::Kind::refused, r.reason};
}

}  // namespace

bool isLoopbackHost(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || host.substr(1, close - 1) != "::1") return false;
    const std::string_view rest = host.substr(close + 1);
    return rest.empty() || (rest[0] == ':' && validPort(rest.substr(1)));
  }
  const std::size_t colon = host.find(':');
  const std::string_view name = host.substr(0, colon);
  if (colon != std::string_view::npos && !validPort(host.substr(colon + 1))) return false;
  return iequals(name, "localhost") || isLoopbackIpv4(name);
}

bool isLoopbackOrigin(std::string_view origin) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() > scheme.size() && iequals(origin.substr(0, scheme.size()), scheme))
      return isLoopbackHost(origin.substr(scheme.size()));
  }
  return false;
}

bool isValidPoolName(std::string_view pool) {
  return !pool.empty() && pool.size() <= kMaxPoolName && std::all_of(pool.begin(), pool.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
  });
}

AdminResponse handleAdmin(const AdminRequest& request, AdminContext& context) {
  try {
    return route(request, context);
  } catch (const std::exception& e) {
    return error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return error(500, "internal error");
  }
}

// ---- ProxyAdminContext -------------------------------------------------------------

std::string ProxyAdminContext::activePool() { return proxy_.activePool(); }
std::vector<BackendView> ProxyAdminContext::backends() { return proxy_.backends(); }
ProxyStats ProxyAdminContext::stats() { return proxy_.stats(); }
std::vector<Event> ProxyAdminContext::recentEvents() { return metrics_.recentEvents(); }
AdminSwitchResult ProxyAdminContext::switchTo(const std::string& pool) { return fromSwitchResult(proxy_.switchTo(pool)); }
AdminSwitchResult ProxyAdminContext::rollback() { return fromSwitchResult(proxy_.rollback()); }
std::string ProxyAdminContext::metricsText() {
  auto backends = proxy_.backends();
  auto active = proxy_.activePool();
  return metrics_.scrape(backends, active);
}

}  // namespace cutover::switcher
