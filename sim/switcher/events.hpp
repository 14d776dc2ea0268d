#pragma once
// Decisions of the switcher, each with its time and reason, for the recorder
// and the reports.
#include <string>

#include "sim/core/time.hpp"

namespace cutover::switcher {

struct Event {
  Instant at;
  std::string kind;    // switch_requested, switch_pending, switch_refused, switched,
                       // drained, drain_timeout, panic, panic_ended, ...
  std::string pool;    // the pool it concerns, if any
  std::string detail;  // human-readable reason
};

// The answer to a switch command (Core::switchTo, Proxy::switchTo). Declared
// here so the model and the shell share it; proxy.hpp includes this header.
struct SwitchResult {
  bool ok = false;
  std::string reason;  // why it was refused, when !ok
  // Not yet: the readiness gate does not hold and the Core waits up to
  // ReadinessGate::wait for it (ok is false; `reason` says what is missing).
  bool pending = false;
};

}  // namespace cutover::switcher
