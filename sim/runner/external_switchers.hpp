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

// The switcher's own 5xx carry kHeaderSwitcherError (and the instance tried,
// kHeaderSwitcherBackend; metrics/request_record.hpp), as the built-in
// proxy's do, so the load generator counts them as switch_error, not app_error.

}  // namespace cutover::runner
