#pragma once
// Factories of the nginx and HAProxy drivers (internal to sim/runner; see
// switcher_driver.hpp for what each decides).
#include <memory>

#include "sim/runner/switcher_driver.hpp"

namespace cutover::runner {

std::unique_ptr<SwitcherDriver> makeNginxDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                const SwitcherDriverOptions& options);
std::unique_ptr<SwitcherDriver> makeHaproxyDriver(const scenario::Scenario& scenario, Supervisor& supervisor,
                                                  const SwitcherDriverOptions& options);

// The switcher's own 5xx carry this header, as the built-in proxy's do, so
// the load generator counts them as switch_error (dropped), not app_error.
inline constexpr const char* kSwitcherErrorHeader = "x-cutover-switcher-error";
inline constexpr const char* kSwitcherBackendHeader = "x-cutover-switcher-backend";  // the instance tried

}  // namespace cutover::runner
