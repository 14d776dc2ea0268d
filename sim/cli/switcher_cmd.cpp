// `cutover switcher --config FILE` (sim/scenario/switcher_config.hpp).
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "sim/cli/commands.hpp"
#include "sim/core/clock.hpp"
#include "sim/core/print.hpp"
#include "sim/scenario/switcher_config.hpp"
#include "sim/switcher/admin.hpp"
#include "sim/switcher/proxy.hpp"
#include "sim/switcher/switcher_metrics.hpp"

namespace cutover::cli {

int cmdSwitcher(const std::string& config_file, bool quiet, const std::atomic<int>& interrupted) {
  auto loaded = scenario::loadSwitcherConfigFile(config_file);
  for (const auto& e : loaded.errors) printErr("error: {}\n", e.str());
  if (!loaded.config) return kExitBadInput;
  const auto& c = *loaded.config;

  switcher::ProxyOptions po;
  po.host = c.listen_host;
  po.port = c.listen_port;
  po.upstream_timeout = c.switcher.upstream_timeout;
  po.seed = c.seed;
  po.core = c.switcher.core;
  switcher::Proxy proxy(po);
  switcher::SwitcherMetrics metrics;
  proxy.setObserver(&metrics);
  std::string error;
  if (!proxy.start(&error)) {
    printErr("error: switcher: {}\n", error);  // "cannot listen on HOST:PORT: why"
    return 3;
  }
  switcher::AdminOptions ao;
  ao.host = c.admin_host;
  ao.port = c.admin_port;
  switcher::AdminServer admin(proxy, metrics, ao);
  if (!admin.start(&error)) {
    printErr("error: switcher admin API: {}\n", error);
    proxy.stop();
    return 3;
  }
  for (const auto& b : c.backends) proxy.addBackend(b.pool, b.instance, b.port);
  if (!c.active.empty()) {
    const auto r = proxy.switchTo(c.active);
    if (!r.ok && !quiet) printErr("switch to {} refused: {}\n", c.active, r.reason);
  }
  printErr("switcher port {} admin port {}\n", proxy.port(), admin.port());
  const auto start = monoNow();
  while (interrupted.load() == 0) {
    for (const auto& e : proxy.takeEvents())
      if (!quiet)
        printErr("{:>9.3f} s  {:<18} {:<8} {}\n", toSeconds(e.at - start), e.kind, e.pool, e.detail);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // event printing cadence, not synchronisation
  }
  admin.stop();
  proxy.stop();
  if (!quiet) printErr("switcher stopped ({})\n", interrupted.load() == 2 ? "SIGINT" : "SIGTERM");
  return 0;
}

}  // namespace cutover::cli
