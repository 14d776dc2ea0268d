#include "sim/runner/external_driver_base.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "sim/core/clock.hpp"
#include "sim/core/units.hpp"
#include "sim/runner/switcher_util.hpp"

namespace cutover::runner {

using namespace std::chrono_literals;

ExternalDriverBase::ExternalDriverBase(const scenario::Scenario& s, Supervisor& sup, const SwitcherDriverOptions& o)
    : sc_(s), sup_(sup), dir_((std::filesystem::path(o.run_dir) / "switcher").string()), opt_(o) {}

void ExternalDriverBase::event(const std::string& kind, const std::string& pool, const std::string& detail) {
  events_.push_back({monoNow(), kind, pool, detail});
}

std::size_t ExternalDriverBase::poolSize(const std::string& pool) const {
  return static_cast<std::size_t>(
      std::count_if(backends_.begin(), backends_.end(), [&](const Backend& b) { return b.pool == pool; }));
}

bool ExternalDriverBase::spawnAndWait(const std::vector<std::string>& argv, std::string* error) {
  constexpr Duration kStartTimeout = 5s;
  const auto pid = sup_.spawn(kind(), argv, (std::filesystem::path(dir_) / (kind() + ".out")).string());
  if (!pid) {
    *error = pid.error().message;
    return false;
  }
  pid_ = pid.value();
  const auto deadline = monoNow() + kStartTimeout;
  while (monoNow() < deadline) {
    if (tcpAccepts(port_, 100ms)) return true;
    const auto alive = sup_.alive();
    if (std::find(alive.begin(), alive.end(), pid_) == alive.end()) break;
    for (const auto& e : sup_.reap())  // only the switcher runs yet (start comes before the services)
      if (e.pid == pid_) {
        *error = fmt::format("{} exited at start ({} {}); see {}", kind(), e.signaled ? "signal" : "code", e.code,
                             (std::filesystem::path(dir_) / (kind() + ".out")).string());
        pid_ = 0;
        return false;
      }
    std::this_thread::sleep_for(20ms);
  }
  *error = fmt::format("{} did not accept connections on 127.0.0.1:{} within {}", kind(), port_,
                       formatDuration(kStartTimeout));
  sup_.signal(pid_, SIGKILL);
  return false;
}

switcher::SwitchResult ExternalDriverBase::change(std::string pool, const char* kind) {
  switcher::SwitchResult r;
  if (exited_) {
    r.reason = this->kind() + " is not running";
    return r;
  }
  if (poolSize(pool) == 0) {
    r.reason = "pool " + pool + " has no backend";
    event("switch_refused", pool, r.reason);
    return r;
  }
  if (pool == active_) {
    r.ok = true;
    return r;
  }
  const std::string from = active_;
  std::string err;
  if (!apply(pool, &err)) {
    r.reason = err;
    event("switch_refused", pool, err);
    return r;
  }
  event(kind, pool, fmt::format("{} -> {} ({})", from.empty() ? "none" : from, pool, this->kind()));
  previous_ = from;
  active_ = pool;
  r.ok = true;
  return r;
}

switcher::SwitchResult ExternalDriverBase::switchTo(const std::string& pool) { return change(pool, "switched"); }

switcher::SwitchResult ExternalDriverBase::rollback() {
  if (previous_.empty()) {
    switcher::SwitchResult r;
    r.reason = "no previous pool to roll back to";
    return r;
  }
  return change(previous_, "rollback");
}

std::vector<switcher::BackendView> ExternalDriverBase::backends() const {
  std::vector<switcher::BackendView> out;
  for (const auto& b : backends_) {
    switcher::BackendView v;
    v.pool = b.pool;
    v.instance = b.instance;
    v.port = b.port;
    v.healthy = b.healthy;
    out.push_back(v);
  }
  return out;
}

std::vector<switcher::Event> ExternalDriverBase::takeEvents() {
  auto out = std::move(events_);
  events_.clear();
  return out;
}

bool ExternalDriverBase::onChildExit(const ChildExit& exit) {
  if (pid_ == 0 || exit.pid != pid_) return false;
  exited_ = true;
  events_.push_back({exit.at, "switcher_exited", "",
                     fmt::format("{} exited ({} {})", kind(), exit.signaled ? "signal" : "code", exit.code)});
  return true;
}

void ExternalDriverBase::stop() {
  // The supervisor's terminateAll (end of run) or destructor ends the process
  // group; stopping here first keeps the order of the built-in switcher's
  // (services first, then the switcher) when called after them.
  if (pid_ != 0 && !exited_) sup_.signal(pid_, SIGTERM);
}

}  // namespace cutover::runner
