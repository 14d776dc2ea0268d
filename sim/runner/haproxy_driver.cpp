// kind: haproxy. Theory of operation:
//   start    write run_dir/switcher/haproxy.cfg: a backend per pool with
//            server-template slots (in maintenance until used) and HAProxy's
//            own HTTP health checks, a frontend on a free 127.0.0.1 port that
//            picks the backend per request from a map file (active.map), and
//            a runtime API on a UNIX stats socket; start /usr/sbin/haproxy -db
//            as a child of the supervisor.
//   backends a ready instance takes a free slot of its pool:
//            `set server pool_P/sN addr 127.0.0.1 port X` then `state ready`;
//            it leaves with `state maint` (requests in flight finish).
//   switch   `set map active.map active pool_P`: every request routed after
//            it goes to P (HAProxy routes per request on kept-alive client
//            connections), requests in flight on the old pool finish there.
//            "drained" once the old pool's backend has no session (show stat).
//   health   HAProxy's checks decide which servers get traffic; the driver
//            reads their status from `show stat` for `healthy: P` conditions.
//   errors   HAProxy's own 502/503/504 (errorfiles) carry
//            x-cutover-switcher-error, so they count as switch_error, with
//            the built-in switcher's reason names: 502 upstream_reset, 503
//            no_backend, or upstream_connect_failed when a server had been
//            picked (http-after-response, srv_id), 504 upstream_timeout;
//            and x-cutover-switcher-backend names the instance tried (its
//            server in servers.map, kept by the runtime API's `add map`).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "sim/core/clock.hpp"
#include "sim/runner/external_driver_base.hpp"
#include "metrics/request_record.hpp"
#include "sim/runner/external_switchers.hpp"
#include "sim/runner/switcher_util.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;

constexpr int kSlots = 64;  // servers per pool (the loader allows 64 instances)
constexpr Duration kApiTimeout = 1s;

long long msOf(Duration d) { return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); }

std::vector<std::string> splitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  return out;
}

class HaproxyDriver final : public ExternalDriverBase {
 public:
  using ExternalDriverBase::ExternalDriverBase;
  std::string kind() const override { return "haproxy"; }

  bool start(std::string* error) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      *error = "cannot create " + dir_ + ": " + ec.message();
      return false;
    }
    // The built-in switcher's reason names (switcherReasonFromName): HAProxy's
    // 502 is a server that closed or reset before a whole response header,
    // its 503 no server (a connect that failed is told apart in the
    // frontend), its 504 the server timeout.
    for (const auto& [code, reason, text] : {std::tuple{502, "upstream_reset", "Bad Gateway"},
                                             std::tuple{503, "no_backend", "Service Unavailable"},
                                             std::tuple{504, "upstream_timeout", "Gateway Timeout"}}) {
      const auto body = fmt::format(
          "HTTP/1.1 {} {}\r\ncontent-type: text/plain\r\ncontent-length: 15\r\n{}: {}\r\n\r\nswitcher error\n", code,
          text, kHeaderSwitcherError, reason);
      if (const auto w = writeFileAtomic(fmt::format("{}/{}.http", dir_, code), body); !w) {
        *error = w.error().message;
        return false;
      }
    }
    constexpr int kAttempts = 3;  // a picked port may be taken before haproxy binds it
    for (int i = 0; i < kAttempts; ++i) {
      const auto port = pickFreePort();
      if (!port) continue;
      port_ = *port;
      std::filesystem::remove(socketPath(), ec);
      const auto m = writeFileAtomic(mapPath(), "active no_backend\n");
      if (const auto sm = writeFileAtomic(serversPath(), ""); !sm) {
        *error = sm.error().message;
        return false;
      }
      const auto w = writeFileAtomic(dir_ + "/haproxy.cfg", render());
      if (!m || !w) {
        *error = !m ? m.error().message : w.error().message;
        return false;
      }
      if (spawnAndWait({opt_.haproxy_binary, "-db", "-f", dir_ + "/haproxy.cfg"}, error)) return true;
    }
    return false;
  }

  void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port) override {
    int slot = 1;
    while (slot <= kSlots && std::any_of(backends_.begin(), backends_.end(), [&](const Backend& b) {
             return b.pool == pool && b.slot == slot;
           }))
      ++slot;
    if (slot > kSlots) {
      event("backend_refused", pool, instance + ": no free server slot");
      return;
    }
    const auto server = fmt::format("pool_{}/s{}", pool, slot);
    const bool ok = api(fmt::format("set server {} addr 127.0.0.1 port {}", server, port)) &&
                    api(fmt::format("set server {} state ready", server));
    if (!ok) {
      event("backend_refused", pool, instance + ": runtime API failed");
      return;
    }
    // Its errors name the instance (servers.map: server -> instance); the
    // slot an earlier instance had is taken over.
    unixCommand(socketPath(), fmt::format("del map {} {}", serversPath(), server), kApiTimeout);
    api(fmt::format("add map {} {} {}", serversPath(), server, instance));
    backends_.push_back({pool, instance, port, slot, true});
    event("backend_added", pool, fmt::format("{} as {} (127.0.0.1:{})", instance, server, port));
  }

  void removeBackend(const std::string& instance) override {
    const auto it = std::find_if(backends_.begin(), backends_.end(), [&](const Backend& b) { return b.instance == instance; });
    if (it == backends_.end()) return;
    api(fmt::format("set server pool_{}/s{} state maint", it->pool, it->slot));
    backends_.erase(it);
  }

  // `show stat`: wredis (redispatches) of each pool's BACKEND row, the same
  // count as the built-in proxy's upstream attempts after the first. With
  // `option redispatch 1` (set whenever retries are on) every retry is a
  // redispatch; wretr counts only the L7 ones (empty-response), not those
  // after a failed connect. Measured on HAProxy 2.6, 10 requests, each
  // retried once: refused connects gave wretr 0, wredis 10; a server that
  // closed without answering gave wretr 10, wredis 10. (Their sum, used
  // before, counted the second kind twice.)
  std::optional<std::uint64_t> retries() override {
    if (exited_) return std::nullopt;
    std::uint64_t sum = 0;
    const bool answered = statRows([&](const std::vector<std::string>& f) {
      if (f[1] == "BACKEND" && f[0].rfind("pool_", 0) == 0)
        sum += std::strtoull(f[16].c_str(), nullptr, 10);
    });
    if (!answered) return std::nullopt;
    return sum;
  }

  // Health from `show stat`; the old pool's sessions while it drains, every
  // 10 ms then (drain time's resolution), else every 100 ms.
  void tick(Instant now) override {
    if (exited_ || now - last_watch_ < (draining_.empty() ? 100ms : 10ms)) return;
    last_watch_ = now;
    std::map<std::string, std::string> status;  // "pool_blue/s1" -> UP
    long drainingSessions = -1;
    const bool answered = statRows([&](const std::vector<std::string>& f) {
      status[f[0] + "/" + f[1]] = f[17];
      if (!draining_.empty() && f[0] == "pool_" + draining_ && f[1] == "BACKEND") drainingSessions = std::atol(f[4].c_str());
    });
    if (!answered) return;
    for (auto& b : backends_) {
      const auto s = status.find(fmt::format("pool_{}/s{}", b.pool, b.slot));
      if (s == status.end()) continue;
      const bool up = s->second.rfind("UP", 0) == 0 || s->second == "no check";
      if (up != b.healthy) event(up ? "backend_up" : "backend_down", b.pool, b.instance + ": haproxy check " + s->second);
      b.healthy = up;
    }
    if (drainingSessions == 0) {
      event("drained", draining_, "no session left on haproxy backend pool_" + draining_);
      draining_.clear();
    }
  }

 private:
  std::string socketPath() const { return dir_ + "/haproxy.sock"; }

  // Each row of `show stat` (CSV: pxname, svname, ..., wretr 15, wredis 16,
  // status 17) to `row`; false when HAProxy did not answer.
  template <class Row>
  bool statRows(Row&& row) {
    const auto stat = unixCommand(socketPath(), "show stat", kApiTimeout);
    if (!stat) return false;
    std::istringstream in(*stat);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto f = splitCsv(line);
      if (f.size() >= 18) row(f);
    }
    return true;
  }
  std::string mapPath() const { return dir_ + "/active.map"; }
  std::string serversPath() const { return dir_ + "/servers.map"; }

  bool api(const std::string& command) {
    const auto answer = unixCommand(socketPath(), command, kApiTimeout);
    // Commands that work answer nothing, or a short notice; errors name themselves.
    const bool ok = answer && answer->find("rror") == std::string::npos && answer->find("No such") == std::string::npos &&
                    answer->find("Unknown") == std::string::npos && answer->find("denied") == std::string::npos;
    if (!ok) event("api_failed", "", command + ": " + (answer ? *answer : std::string("no answer")));
    return ok;
  }

  bool apply(const std::string& pool, std::string* error) override {
    if (!api(fmt::format("set map {} active pool_{}", mapPath(), pool))) {
      *error = "haproxy runtime API: set map failed";
      return false;
    }
    if (!active_.empty()) draining_ = active_;
    return true;
  }

  std::string backendsText() const {
    const auto& hc = sc_.switcher.core.health_check;
    const Duration inter = hc.enabled ? hc.interval : 500ms;
    std::string out;
    for (const auto& g : sc_.services) {
      const std::string path = hc.enabled ? hc.path : g.health_path;
      out += fmt::format(
          "backend pool_{}\n"
          "  balance leastconn\n"
          "  option httpchk GET {}\n"
          "  default-server inter {}ms fall {} rise {}\n"
          "  server-template s 1-{} 127.0.0.1:9 check disabled\n\n",
          g.name, path, msOf(inter), hc.enabled ? hc.unhealthy_threshold : 2, hc.enabled ? hc.healthy_threshold : 1,
          kSlots);
    }
    return out;
  }

  std::string render() const {
    return fmt::format(
        "# Written by cutover for scenario '{name}'.\n"
        "global\n"
        "  maxconn 8192\n"
        "  stats socket {dir}/haproxy.sock mode 600 level admin\n"
        "  stats timeout 10s\n"
        "defaults\n"
        "  mode http\n"
        "  option http-keep-alive\n"
        "  timeout connect 1s\n"
        "  timeout client 60s\n"
        "  timeout http-keep-alive 60s\n"
        "  timeout server {up}ms\n"
        "{retry}"
        "  errorfile 502 {dir}/502.http\n"
        "  errorfile 503 {dir}/503.http\n"
        "  errorfile 504 {dir}/504.http\n\n"
        "frontend switcher\n"
        "  bind 127.0.0.1:{port}\n"
        "  # A request sent is retried only when idempotent (a failed connect: any method).\n"
        "  http-request disable-l7-retry unless {{ method {idempotent} }}\n"
        "  # Its own 503 after a server was picked is a failed connect, not no server.\n"
        "  http-after-response set-header {hdr} upstream_connect_failed if {{ status 503 }} {{ srv_id -m found }} {{ res.hdr({hdr}) -m found }}\n"
        "  # Its own errors name the instance it tried, as the built-in switcher's do.\n"
        "  http-after-response set-var(txn.cutover_server) srv_name if {{ srv_id -m found }}\n"
        "  http-after-response set-header {bhdr} %[be_name,concat(/,txn.cutover_server),map({servers})] if {{ res.hdr({hdr}) -m found }} {{ be_name,concat(/,txn.cutover_server),map({servers}) -m found }}\n"
        "  use_backend %[str(active),map({map},no_backend)]\n"
        "  default_backend no_backend\n\n"
        "backend no_backend\n"
        "  http-request return status 503 hdr {hdr} no_backend\n\n"
        "{backends}",
        fmt::arg("name", sc_.name), fmt::arg("dir", dir_), fmt::arg("up", msOf(sc_.switcher.upstream_timeout)),
        fmt::arg("port", port_), fmt::arg("map", mapPath()), fmt::arg("hdr", kHeaderSwitcherError),
        fmt::arg("bhdr", kHeaderSwitcherBackend), fmt::arg("servers", serversPath()),
        fmt::arg("retry", retryText()), fmt::arg("idempotent", fmt::join(switcher::Core::kIdempotentMethods, " ")),
        fmt::arg("backends", backendsText()));
  }

  // switcher.retry: a failed connect or a response that never began is
  // retried on another server of the pool at every retry (redispatch 1), as
  // the built-in proxy's retry on another backend; off: no retry at all.
  // The frontend's disable-l7-retry for every method outside the Core's
  // kIdempotentMethods keeps a sent POST or PATCH from being sent twice, as
  // Core::mayRetry does (HAProxy's own retry-on would).
  std::string retryText() const {
    const auto& r = sc_.switcher.core.retry;
    if (!r.enabled || r.attempts == 0) return "  retries 0\n";
    return fmt::format("  retries {}\n  option redispatch 1\n  retry-on conn-failure empty-response\n", r.attempts);
  }

  std::string draining_;
  Instant last_watch_{};
};

}  // namespace

std::unique_ptr<SwitcherDriver> makeHaproxyDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                  const SwitcherDriverOptions& options) {
  return std::make_unique<HaproxyDriver>(scenario, supervisor, options);
}

}  // namespace cutover::runner
