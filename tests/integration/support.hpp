#pragma once
// Helpers for integration tests: bounded waits on conditions, never bare sleeps.
#include <chrono>
#include <functional>
#include <string>

namespace cutover::testing {

// Polls `condition` (every `poll`) until it holds or `timeout` passes.
// Returns whether it held.
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::chrono::milliseconds poll = std::chrono::milliseconds(5));

// True when a TCP listener on 127.0.0.1:port accepts a connection.
bool portAcceptsConnections(unsigned short port);
// True when 127.0.0.1:port can be bound by a new listener (nobody holds it).
bool portIsFree(unsigned short port);

// Path of the built `cutover` binary and of the source tree.
std::string cutoverBinary();
std::string sourceDir();

}  // namespace cutover::testing
