// The built-in switcher behind SwitcherDriver, and the factory.
#include "sim/runner/switcher_driver.hpp"

#include <unistd.h>

#include "sim/runner/external_switchers.hpp"
#include "sim/switcher/proxy.hpp"

namespace cutover::runner {
namespace {

class BuiltinDriver final : public SwitcherDriver {
 public:
  explicit BuiltinDriver(const scenario::Scenario& s) : proxy_(optionsOf(s)) {}
  std::string kind() const override { return "builtin"; }
  bool start(std::string* error) override { return proxy_.start(error); }
  std::uint16_t port() const override { return proxy_.port(); }
  pid_t pid() const override { return ::getpid(); }
  void addPool(const std::string& pool, std::size_t expected) override { proxy_.addPool(pool, expected); }
  switcher::Proxy* builtinProxy() override { return &proxy_; }
  std::optional<std::uint64_t> retries() override { return proxy_.stats().upstream_retries; }
  void addBackend(const std::string& pool, const std::string& instance, std::uint16_t port) override {
    proxy_.addBackend(pool, instance, port, true);  // seen ready by the runner
  }
  void removeBackend(const std::string& instance) override { proxy_.removeBackend(instance); }
  switcher::SwitchResult switchTo(const std::string& pool) override { return proxy_.switchTo(pool); }
  switcher::SwitchResult rollback() override { return proxy_.rollback(); }
  std::string activePool() const override { return proxy_.activePool(); }
  std::vector<switcher::BackendView> backends() const override { return proxy_.backends(); }
  std::vector<switcher::Event> takeEvents() override { return proxy_.takeEvents(); }
  void stop() override { proxy_.stop(); }

 private:
  static switcher::ProxyOptions optionsOf(const scenario::Scenario& s) {
    switcher::ProxyOptions p;
    p.upstream_timeout = s.switcher.upstream_timeout;
    p.core = s.switcher.core;
    p.seed = s.seed;
    return p;
  }
  switcher::Proxy proxy_;
};

}  // namespace

std::unique_ptr<SwitcherDriver> makeSwitcherDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                   const SwitcherDriverOptions& options) {
  if (scenario.switcher.kind == "nginx") return makeNginxDriver(scenario, supervisor, options);
  if (scenario.switcher.kind == "haproxy") return makeHaproxyDriver(scenario, supervisor, options);
  return std::make_unique<BuiltinDriver>(scenario);
}

bool switcherAvailable(const std::string& kind) {
  const SwitcherDriverOptions defaults;
  if (kind == "nginx") return ::access(defaults.nginx_binary.c_str(), X_OK) == 0;
  if (kind == "haproxy") return ::access(defaults.haproxy_binary.c_str(), X_OK) == 0;
  return kind == "builtin";
}

}  // namespace cutover::runner
