#pragma once
// "SIGINT", "SIGTERM", "SIGHUP": the name of a signal that interrupts a run,
// as its invalid reason says it ("interrupted by SIGHUP at 2.113 s").
#include <csignal>
#include <string>

namespace cutover {

inline std::string interruptSignalName(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
  }
}

}  // namespace cutover
