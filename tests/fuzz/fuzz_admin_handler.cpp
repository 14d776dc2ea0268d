// libFuzzer target: the switcher's admin API request handler (handleAdmin,
// sim/switcher/admin_handler.cpp) against a fake switcher.
//
// Input: one flags byte (bit 0: a Host header is present, bit 1: an Origin
// header), then method, target, Host, Origin and body separated by '\n'.
// Contract checked:
// - any request gets a response, never a 500 (the fake never throws, so a
//   500 is an exception escaping the handler's logic), status 200..599;
// - a JSON response body is valid JSON;
// - the guards hold: a switch or rollback reaches the switcher only for a
//   POST whose Host is loopback and whose Origin, if any, is loopback;
// - isLoopbackHost agrees with inet_pton: an accepted dotted name is an
//   IPv4 address in 127.0.0.0/8, an accepted bracketed name is [::1].
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sim/switcher/admin.hpp"

namespace {

using namespace cutover;
using namespace cutover::switcher;

class FakeSwitcher final : public AdminContext {
 public:
  int actions = 0;  // switchTo + rollback calls
  std::string activePool() override { return "blue"; }
  std::vector<BackendView> backends() override {
    return {BackendView{"blue", "blue-1", 40001, 2, true, false, 0},
            BackendView{"green", "green-1", 40002, 0, false, true, 1}};
  }
  ProxyStats stats() override { return ProxyStats{3, 10, 1, 4, 6, 0}; }
  std::vector<Event> recentEvents() override {
    return {Event{fromNanos(5), "switched", "blue", "detail \xff with a bad byte"}};
  }
  AdminSwitchResult switchTo(const std::string& pool) override {
    ++actions;
    if (pool == "blue") return {AdminSwitchResult::Kind::done, ""};
    if (pool == "green") return {AdminSwitchResult::Kind::pending, "waiting"};
    if (pool == "red") return {AdminSwitchResult::Kind::unavailable, ""};
    return {AdminSwitchResult::Kind::unknown_pool, "unknown pool '" + pool + "'"};
  }
  AdminSwitchResult rollback() override {
    ++actions;
    return {AdminSwitchResult::Kind::refused, "no previous pool"};
  }
  std::string metricsText() override { return "cutover_requests_total 10\n"; }
};

std::string_view takeLine(std::string_view& rest) {
  const auto nl = rest.find('\n');
  const auto line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

// The address part of a Host value (no port), as isLoopbackHost reads it.
std::string_view hostName(std::string_view host) {
  if (!host.empty() && host[0] == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

bool reallyLoopback(std::string_view host) {
  const std::string name(hostName(host));
  if (name == "[::1]") return true;
  if (name.size() == 9) {
    bool localhost = true;
    for (std::size_t i = 0; i < 9; ++i)
      localhost = localhost && (name[i] | 0x20) == "localhost"[i];
    if (localhost) return true;
  }
  in_addr a{};
  return inet_pton(AF_INET, name.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  AdminRequest req;
  req.method = std::string(takeLine(rest));
  req.target = std::string(takeLine(rest));
  const auto host = takeLine(rest);
  const auto origin = takeLine(rest);
  if (flags & 1) req.host = std::string(host);
  if (flags & 2) req.origin = std::string(origin);
  req.body = std::string(rest);

  if (req.host && isLoopbackHost(*req.host) && !reallyLoopback(*req.host)) std::abort();

  FakeSwitcher fake;
  const AdminResponse r = handleAdmin(req, fake);
  if (r.status < 200 || r.status > 599 || r.status == 500) std::abort();
  if (r.content_type == "application/json" && !nlohmann::json::accept(r.body)) std::abort();
  if (fake.actions > 0) {
    const bool guarded = req.method == "POST" && req.host && isLoopbackHost(*req.host) &&
                         (!req.origin || isLoopbackOrigin(*req.origin));
    if (!guarded) std::abort();
  }
  return 0;
}
