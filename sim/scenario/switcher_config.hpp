#pragma once
// The configuration of `cutover switcher --config FILE`: the built-in
// switcher run standalone, in front of backends someone else started. The
// `switcher:` mapping takes the same keys as a scenario's (docs/admin-api.md).
//
//   listen: 127.0.0.1:8080        # the proxy; port 0 picks a free one
//   admin: 127.0.0.1:9901         # the admin API (/state, /switch, /metrics)
//   active: blue                  # the pool that takes traffic at start
//   pools:
//     blue: [127.0.0.1:8081, 127.0.0.1:8082]
//     green: [127.0.0.1:8091]
//   switcher: {policy: round_robin, health_check: {interval: 1s}}
//
// Addresses are loopback only: cutover's traffic never leaves 127.0.0.0/8.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/loader.hpp"
#include "sim/scenario/scenario.hpp"

namespace cutover::scenario {

struct SwitcherBackend {
  std::string pool;
  std::string instance;  // <pool>-<n>, n from 1 in list order
  std::uint16_t port = 0;
};

struct SwitcherConfig {
  std::string file;
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;
  std::string admin_host = "127.0.0.1";
  std::uint16_t admin_port = 0;
  std::string active;  // "" = none until POST /switch
  std::vector<SwitcherBackend> backends;
  SwitcherSpec switcher;
  std::uint64_t seed = 1;
};

struct SwitcherConfigOutcome {
  std::optional<SwitcherConfig> config;  // set only when there is no error
  std::vector<Diagnostic> errors;
};

SwitcherConfigOutcome loadSwitcherConfigText(const std::string& text, const std::string& file_name);
SwitcherConfigOutcome loadSwitcherConfigFile(const std::string& path);

}  // namespace cutover::scenario
