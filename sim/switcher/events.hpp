#pragma once
// Decisions of the switcher, each with its time and reason, for the recorder
// and the reports.
#include <string>

#include "sim/core/time.hpp"

namespace cutover::switcher {

struct Event {
  Instant at;
  std::string kind;    // switch_requested, switch_refused, switched, drained, drain_timeout, ...
  std::string pool;    // the pool it concerns, if any
  std::string detail;  // human-readable reason
};

// The answer to a switch command (Core::switchTo, Proxy::switchTo). Declared
// here so the model and the shell share it; proxy.hpp includes this header.
struct SwitchResult {
  bool ok = false;
  std::string reason;  // why it was refused, when !ok
};

}  // namespace cutover::switcher
