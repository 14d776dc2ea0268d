#pragma once
// Subcommands of the cutover executable that live outside main.cpp.
#include <atomic>
#include <string>

namespace cutover::cli {

inline constexpr int kExitBadInput = 2;

// `cutover switcher --config FILE`: the built-in switcher standalone (proxy
// and admin API) until SIGINT or SIGTERM. `interrupted` is set by the
// caller's signal handler.
int cmdSwitcher(const std::string& config_file, bool quiet, const std::atomic<int>& interrupted);

}  // namespace cutover::cli
