#pragma once
// Small POSIX helpers shared by the nginx and HAProxy drivers and the
// runner (internal to sim/runner).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/result.hpp"
#include "sim/core/time.hpp"

namespace cutover::runner {

// A port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
// Another process may take it before it is used: callers retry a failed start.
std::optional<std::uint16_t> pickFreePort();
// True when a TCP connect to 127.0.0.1:port succeeds within `timeout`.
bool tcpAccepts(std::uint16_t port, Duration timeout);
// Writes `text` to `path` atomically (temp file + rename).
Result<bool> writeFileAtomic(const std::string& path, const std::string& text);
// Pids whose parent is `parent` (from /proc/*/stat), only those whose
// command name is `comm` when it is not empty.
std::vector<pid_t> childPidsOf(pid_t parent, const std::string& comm = "");
// One command on a UNIX stream socket, the whole answer until EOF or
// `timeout` (HAProxy's runtime API answers and closes). nullopt on failure.
std::optional<std::string> unixCommand(const std::string& socket_path, const std::string& command, Duration timeout);

}  // namespace cutover::runner
