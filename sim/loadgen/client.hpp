#pragma once
// The load generator's live shell: HTTP/1.1 clients on Asio/Beast.
//  - Open loop: send times come from an Arrivals model, fixed in advance;
//    latency is measured from the intended send time (coordinated omission
//    corrected).
//  - Closed loop: a ClosedLoop model (N workers with think time); each
//    request's intended time is the moment its worker sent it, so latency
//    counts from the send.
// No Boost in this header.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/core/time.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/closed_loop.hpp"

namespace cutover::loadgen {

// How requests use connections.
enum class ConnectionPolicy : std::uint8_t {
  keepalive,        // pooled connections, reused
  new_per_request,  // every request on a fresh connection ("Connection: close")
  mixed,            // keep-alive, except a fraction on a fresh connection
};

struct ClientOptions {
  std::string host = "127.0.0.1";  // must be in 127.0.0.0/8
  std::uint16_t port = 0;
  std::string path = "/";
  std::string method = "GET";       // no body (POST, PUT, PATCH send Content-Length: 0)
  std::size_t connections = 32;     // at most this many open at once
  bool keepalive = true;            // false: a new connection per request (whatever connection_policy says)
  ConnectionPolicy connection_policy = ConnectionPolicy::keepalive;
  // mixed: the probability that a request goes on a fresh connection, drawn
  // per request in request order from Rng(connection_seed).
  double fresh_fraction = 0.0;
  std::uint64_t connection_seed = 1;
  Duration timeout = std::chrono::seconds(2);  // per request, from the intended time
  std::size_t max_requests = 10'000'000;       // a hard bound on the loop
  // x-request-id of the first request; ids then count up by one. Give each
  // client of a run its own range so ids stay unique across the run.
  std::uint64_t first_request_id = 1;
  // Requests the arrival process will ask for (e.g. expectedArrivals() plus a
  // margin): records are reserved up front so each costs sizeof(RequestRecord).
  // 0: grow as needed. Capped by max_requests.
  std::size_t expected_requests = 0;
  // Open-loop pacing: the arrival timer wakes this long before an intended
  // time and the thread spins until it (absorbs timer wake-up latency; costs
  // up to spin per wake-up, nothing when no send is due). 0: no spin, the
  // default: on the shared 2-core machine 50 us made no measurable difference
  // (tests/bench/loadgen_vs_wrk.sh), scheduling delay dominates. At most 1 ms.
  Duration pacing_spin{0};
};

// The client thread's own CPU use over run() (getrusage RUSAGE_THREAD).
struct ClientCpu {
  double user_s = 0;
  double system_s = 0;
  double wall_s = 0;  // run() from start to end
  double seconds() const { return user_s + system_s; }
  double percentOfCore() const { return wall_s > 0 ? 100.0 * seconds() / wall_s : 0.0; }
};

struct LoadResult {
  std::vector<RequestRecord> records;  // one per intended request, in intended order
  std::vector<std::string> names;      // name table for RequestRecord::version/instance
  std::uint64_t intended = 0;          // requests the arrival process asked for
  Instant started{};                   // first intended time
  Instant finished{};                  // when the last outcome was known
  bool stopped = false;                // requestStop() ended the run early
  std::string error;                   // set (and nothing sent) for a bad target
  bool closed_loop = false;            // intended times are send times (latency from the send)
  ClientCpu cpu;                       // the client thread's CPU use
  std::size_t peak_connections = 0;    // most connections open at once (<= ClientOptions::connections)
  std::uint64_t connections_opened = 0;
};

// Runs in the calling thread until the arrival process (or closed loop) is over and every
// request has an outcome (bounded by the last intended time plus timeout).
// requestStop() (any thread) ends it early: connections are closed at once
// and requests without an outcome yet (queued or in flight) are not recorded.
// The host must be an IPv4 address in 127.0.0.0/8 (or "localhost"), else
// run() sends nothing and sets LoadResult::error.
class LoadClient {
 public:
  LoadClient(ClientOptions options, std::unique_ptr<Arrivals> arrivals);
  // Closed loop: the model's workers send; think times and bounds are its own
  // (ClientOptions::max_requests still applies).
  LoadClient(ClientOptions options, std::unique_ptr<ClosedLoop> closed);
  ~LoadClient();
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  LoadResult run();
  void requestStop();
  // Requests finished so far and how many were dropped (for progress lines).
  std::uint64_t completed() const;
  std::uint64_t droppedSoFar() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cutover::loadgen
