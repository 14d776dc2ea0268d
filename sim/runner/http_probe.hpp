#pragma once
// A blocking HTTP/1.1 GET on 127.0.0.1 with a deadline, for readiness probes
// by the runner (POSIX sockets; control traffic, never counted as load).
#include <optional>
#include <string>

#include "sim/core/time.hpp"

namespace cutover::runner {

// The response status, or nullopt when there was no complete status line
// within `timeout` (refused, reset, timeout).
std::optional<int> httpGetStatus(unsigned short port, const std::string& path, Duration timeout);

}  // namespace cutover::runner
