// kind: nginx. Theory of operation:
//   start    write run_dir/switcher/nginx.conf (one upstream per pool with
//            keepalive, worker_processes 1, listen on a free 127.0.0.1 port,
//            pid, logs and temp paths in the run dir, daemon off) and start
//            /usr/sbin/nginx as a child of the supervisor.
//   backends a backend joins its pool's upstream once the runner saw it ready.
//            Only the active pool's membership needs a reload: changes to
//            other pools are written at the next switch.
//   switch   rewrite the config (proxy_pass to the new pool's upstream) and
//            SIGHUP the master: new workers take new connections, the old
//            ones finish what they have in flight and exit (nginx's graceful
//            worker shutdown, bounded by worker_shutdown_timeout = the
//            scenario's switcher.drain_timeout). "drained" is the moment the
//            old workers are gone. Requests on client connections that an
//            old worker still holds go to the old pool until it closes them:
//            nginx's switch is not atomic, and switch latency shows it.
//   errors   nginx's own 502/503/504 carry x-cutover-switcher-error, so they
//            count as switch_error (dropped), with the built-in switcher's
//            reason names: 502 upstream_connect_failed or upstream_reset
//            (no_backend when the pool has no server up), 504
//            upstream_timeout or upstream_connect_timeout (told apart by
//            $upstream_connect_time), 503 no_active_pool (before a switch:
//            the only 503 this config makes).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <tuple>

#include "sim/core/clock.hpp"
#include "sim/runner/external_driver_base.hpp"
#include "metrics/request_record.hpp"
#include "sim/runner/external_switchers.hpp"
#include "sim/runner/switcher_util.hpp"

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;

long long msOf(Duration d) { return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); }

class NginxDriver final : public ExternalDriverBase {
 public:
  using ExternalDriverBase::ExternalDriverBase;
  std::string kind() const override { return "nginx"; }

  bool start(std::string* error) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / "tmp", ec);
    if (ec) {
      *error = "cannot create " + dir_ + ": " + ec.message();
      return false;
    }
    constexpr int kAttempts = 3;  // a picked port may be taken before nginx binds it
    for (int i = 0; i < kAttempts; ++i) {
      const auto port = pickFreePort();
      if (!port) continue;
      port_ = *port;
      if (const auto w = writeFileAtomic(conf(), render(active_)); !w) {
        *error = w.error().message;
        return false;
      }
      if (spawnAndWait({"/bin/sh", "-c", launcher()}, error)) return true;
    }
    return false;
  }

  void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port) override {
    backends_.push_back({pool, instance, port});
    if (pool == active_) reload("backend " + instance + " added");
  }

  void removeBackend(const std::string& instance) override {
    const auto it = std::find_if(backends_.begin(), backends_.end(), [&](const Backend& b) { return b.instance == instance; });
    if (it == backends_.end()) return;
    const std::string pool = it->pool;
    backends_.erase(it);
    if (pool == active_) reload("backend " + instance + " removed");
  }

  // Watches the workers that a reload told to quit.
  void tick(Instant now) override {
    if (draining_.empty() || now - last_watch_ < 20ms) return;
    last_watch_ = now;
    const auto live = childPidsOf(pid_, "nginx");
    std::erase_if(draining_, [&](pid_t p) { return std::find(live.begin(), live.end(), p) == live.end(); });
    if (draining_.empty() && !draining_pool_.empty()) {
      event("drained", draining_pool_, fmt::format("old nginx workers exited {:.0f} ms after the reload",
                                                   toSeconds(now - reload_at_) * 1000));
      draining_pool_.clear();
    }
  }

 private:
  std::string conf() const { return dir_ + "/nginx.conf"; }

  // nginx's workers do not die with their master, and the supervisor's
  // PR_SET_PDEATHSIG reaches only the master. So the shell that becomes the
  // master (exec) first starts a watcher in the same process group: when the
  // runner is gone (even by SIGKILL), it kills the whole group.
  std::string launcher() const {
    return fmt::format(
        "( while kill -0 {runner} 2>/dev/null; do sleep 0.5; done; kill -KILL 0 ) & "
        "exec '{bin}' -p '{dir}/' -c '{dir}/nginx.conf' -e '{dir}/error.log'",
        fmt::arg("runner", ::getpid()), fmt::arg("bin", opt_.nginx_binary), fmt::arg("dir", dir_));
  }

  bool apply(const std::string& pool, std::string* error) override {
    const std::string old = active_;
    active_ = pool;  // render() and reload() read it
    if (!reload("switch to " + pool, error)) {
      active_ = old;
      return false;
    }
    if (!old.empty()) draining_pool_ = old;
    had_traffic_ = true;  // from the first switch on, the load may run
    return true;
  }

  // Rewrites the config and sends SIGHUP; returns once a new worker runs
  // (nginx parsed the new config; without one within kReloadTimeout the
  // reload failed, see error.log). Before the first switch (no traffic yet)
  // it also waits for the old workers to exit, so the load starts on the
  // new config.
  bool reload(const std::string& why, std::string* error = nullptr) {
    constexpr Duration kReloadTimeout = 3s;
    std::string err;
    if (exited_ || pid_ == 0) err = "nginx is not running";
    else if (const auto w = writeFileAtomic(conf(), render(active_)); !w) err = w.error().message;
    if (err.empty()) {
      const auto old = childPidsOf(pid_, "nginx");
      if (::kill(pid_, SIGHUP) != 0) err = "SIGHUP to nginx failed";
      else {
        reload_at_ = monoNow();
        const auto isOld = [&](pid_t p) { return std::find(old.begin(), old.end(), p) != old.end(); };
        const bool first = !had_traffic_;
        bool fresh = false;
        while (monoNow() - reload_at_ < kReloadTimeout) {
          const auto now = childPidsOf(pid_, "nginx");
          fresh = std::any_of(now.begin(), now.end(), [&](pid_t p) { return !isOld(p); });
          const bool oldGone = std::none_of(now.begin(), now.end(), isOld);
          if (fresh && (!first || oldGone)) break;
          std::this_thread::sleep_for(2ms);
        }
        if (!fresh) err = "nginx started no worker with the new config within 3s (see " + dir_ + "/error.log)";
        for (pid_t p : old)
          if (std::find(draining_.begin(), draining_.end(), p) == draining_.end()) draining_.push_back(p);
        if (err.empty()) {
          event("reload", active_, why);
          return true;
        }
      }
    }
    if (error) *error = err;
    event("reload_failed", active_, why + ": " + err);
    return false;
  }

  std::string upstreams() const {
    std::string out;
    std::vector<std::string> pools;
    for (const auto& g : sc_.services) pools.push_back(g.name);
    for (const auto& p : pools) {
      out += fmt::format("  upstream pool_{} {{\n", p);
      bool any = false;
      for (const auto& b : backends_)
        if (b.pool == p) {
          out += fmt::format("    server 127.0.0.1:{} max_fails=0;  # {}\n", b.port, b.instance);
          any = true;
        }
      if (!any) out += "    server 127.0.0.1:9 down;  # no backend yet\n";
      out += "    keepalive 64;\n  }\n";
    }
    // nginx's own errors name the backend they tried (the last address of
    // $upstream_addr), as the built-in switcher's do, for drop attribution.
    // When its tries ran out with no server left, nginx appends the
    // upstream's name ("127.0.0.1:A, 127.0.0.1:B, pool_blue"): skipped.
    out += fmt::format("  map $upstream_addr $cutover_backend {{\n    default \"\";\n");
    for (const auto& b : backends_)
      out += fmt::format("    \"~127\\.0\\.0\\.1:{}(, pool_[^,]*)?$\" {};\n", b.port, b.instance);
    out += "  }\n";
    // Which way nginx's 502 or 504 failed, from "$upstream_addr|$upstream_connect_time"
    // (one entry per attempt): the last attempt's connect time is "-" when
    // its connect never completed (refused, or timed out), a number when it
    // did and the upstream then failed. A trailing "pool_P" address (its
    // time "-") is no server left to try: the attempt before it decides, and
    // alone it is no backend at all. The reasons are the built-in switcher's
    // names (switcherReasonFromName), so causes read the same.
    for (const auto& [var, connected, not_connected] :
         {std::tuple{"cutover_502", "upstream_reset", "upstream_connect_failed"},
          std::tuple{"cutover_504", "upstream_timeout", "upstream_connect_timeout"}})
      out += fmt::format(
          "  map \"$upstream_addr|$upstream_connect_time\" ${} {{\n"
          "    \"~^pool_[^|]*\\|\" no_backend;\n"
          "    \"~, pool_[^|]*\\|.*[0-9], -$\" {};\n"
          "    \"~, pool_[^|]*\\|\" {};\n"
          "    \"~[0-9]$\" {};\n"
          "    default {};\n  }}\n",
          var, connected, not_connected, connected, not_connected);
    return out;
  }

  std::string render(const std::string& active) const {
    const auto upstreamMs = msOf(sc_.switcher.upstream_timeout);
    std::string route = active.empty() ? "      return 503;\n"
                                       : fmt::format("      proxy_pass http://pool_{};\n", active);
    return fmt::format(
        "# Written by cutover for scenario '{name}'; rewritten at every switch.\n"
        "worker_processes 1;\n"
        "daemon off;\n"
        "master_process on;\n"
        "{user}"
        "pid {dir}/nginx.pid;\n"
        "error_log {dir}/error.log notice;\n"
        "worker_shutdown_timeout {drain}ms;\n"
        "events {{ worker_connections 8192; }}\n"
        "http {{\n"
        "  access_log off;\n"
        "  client_body_temp_path {dir}/tmp/client_body;\n"
        "  proxy_temp_path {dir}/tmp/proxy;\n"
        "  fastcgi_temp_path {dir}/tmp/fastcgi;\n"
        "  uwsgi_temp_path {dir}/tmp/uwsgi;\n"
        "  scgi_temp_path {dir}/tmp/scgi;\n"
        "  keepalive_timeout 60s;\n"
        "  keepalive_requests 1000000;\n"
        "{upstreams}"
        "  server {{\n"
        "    listen 127.0.0.1:{port} backlog=4096;\n"
        "    location / {{\n"
        "{route}"
        "      proxy_http_version 1.1;\n"
        "      proxy_set_header Connection \"\";\n"
        "      proxy_connect_timeout 1s;\n"
        "      proxy_read_timeout {up}ms;\n"
        "      proxy_send_timeout {up}ms;\n"
        "{retry}"
        "    }}\n"
        "    error_page 502 = @upstream_failed;\n"
        "    error_page 503 = @no_active_pool;\n"
        "    error_page 504 = @timeout;\n"
        "    location @upstream_failed {{ add_header {hdr} $cutover_502 always; add_header {bhdr} $cutover_backend always; return 502 \"switcher: upstream failed\\n\"; }}\n"
        "    location @no_active_pool {{ add_header {hdr} no_active_pool always; return 503 \"switcher: no active pool\\n\"; }}\n"
        "    location @timeout {{ add_header {hdr} $cutover_504 always; add_header {bhdr} $cutover_backend always; return 504 \"switcher: upstream timeout\\n\"; }}\n"
        "  }}\n"
        "}}\n",
        fmt::arg("name", sc_.name), fmt::arg("user", ::geteuid() == 0 ? "user root root;\n" : ""),
        fmt::arg("dir", dir_), fmt::arg("drain", msOf(sc_.switcher.core.drain_timeout)),
        fmt::arg("upstreams", upstreams()), fmt::arg("port", port_), fmt::arg("route", route),
        fmt::arg("up", upstreamMs), fmt::arg("retry", retryText()), fmt::arg("hdr", kHeaderSwitcherError),
        fmt::arg("bhdr", kHeaderSwitcherBackend));
  }

  // switcher.retry: a request whose attempt failed before the response
  // header (connect refused, reset, closed) goes to the next server of the
  // pool, as the built-in proxy's retry on another backend (nginx passes a
  // non-idempotent request on only with `non_idempotent`, which is not set).
  std::string retryText() const {
    const auto& r = sc_.switcher.core.retry;
    if (!r.enabled || r.attempts == 0) return "      proxy_next_upstream off;\n";
    return fmt::format("      proxy_next_upstream error;\n      proxy_next_upstream_tries {};\n", r.attempts + 1);
  }

  bool had_traffic_ = false;
  std::vector<pid_t> draining_;
  std::string draining_pool_;
  Instant reload_at_{};
  Instant last_watch_{};
};

}  // namespace

std::unique_ptr<SwitcherDriver> makeNginxDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                const SwitcherDriverOptions& options) {
  return std::make_unique<NginxDriver>(scenario, supervisor, options);
}

}  // namespace cutover::runner
