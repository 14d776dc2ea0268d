#pragma once
// `cutover fake-service`: one instance of a fake service as a process.
// The runner spawns it with --ready-fd N; once the listener is open the
// service writes "port=<P>\n" to that fd and closes it, so the runner learns
// the port it bound (port 0 = any free port on 127.0.0.1).
#include <cstdint>
#include <string>

#include "fake-services/spec.hpp"

namespace cutover::service {

struct FakeServiceOptions {
  std::string instance = "svc-1";   // instance id, sent in x-cutover-instance
  std::string host = "127.0.0.1";   // loopback only
  std::uint16_t port = 0;           // 0: any free port
  int ready_fd = -1;                // -1: print "port=<P>" on stdout instead
  std::uint64_t seed = 1;           // latency and error draws
  // Control channel (-1: none): one command a line, read until EOF; see
  // parseControlCommand (behaviour.hpp) and docs/fake-service.md.
  int control_fd = -1;
  // Lifecycle log (lifecycle_log.hpp); empty: none.
  std::string lifecycle_path;
  BehaviourSpec spec;
};

// Serves until the process should exit (per spec.shutdown on SIGTERM/SIGINT).
// Returns the process exit code: 0 after a clean shutdown.
int runFakeService(const FakeServiceOptions& options);

}  // namespace cutover::service
