#pragma once
// The load generator's live shell: open-loop HTTP/1.1 clients on Asio/Beast.
// Send times come from an Arrivals model, fixed in advance; latency is
// measured from the intended send time (coordinated omission corrected).
// No Boost in this header.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/core/time.hpp"
#include "sim/loadgen/arrivals.hpp"

namespace cutover::loadgen {

struct ClientOptions {
  std::string host = "127.0.0.1";  // must be in 127.0.0.0/8
  std::uint16_t port = 0;
  std::string path = "/";
  std::size_t connections = 32;     // at most this many open at once
  bool keepalive = true;            // false: a new connection per request
  Duration timeout = std::chrono::seconds(2);  // per request, from the intended time
  std::size_t max_requests = 10'000'000;       // a hard bound on the loop
  // x-request-id of the first request; ids then count up by one. Give each
  // client of a run its own range so ids stay unique across the run.
  std::uint64_t first_request_id = 1;
  // Requests the arrival process will ask for (e.g. expectedArrivals() plus a
  // margin): records are reserved up front so each costs sizeof(RequestRecord).
  // 0: grow as needed. Capped by max_requests.
  std::size_t expected_requests = 0;
};

struct LoadResult {
  std::vector<RequestRecord> records;  // one per intended request, in intended order
  std::vector<std::string> names;      // name table for RequestRecord::version/instance
  std::uint64_t intended = 0;          // requests the arrival process asked for
  Instant started{};                   // first intended time
  Instant finished{};                  // when the last outcome was known
  bool stopped = false;                // requestStop() ended the run early
  std::string error;                   // set (and nothing sent) for a bad target
};

// Runs in the calling thread until the arrival process is exhausted and every
// request has an outcome (bounded by the last intended time plus timeout).
// requestStop() (any thread) ends it early: connections are closed at once
// and requests without an outcome yet (queued or in flight) are not recorded.
// The host must be an IPv4 address in 127.0.0.0/8 (or "localhost"), else
// run() sends nothing and sets LoadResult::error.
class LoadClient {
 public:
  LoadClient(ClientOptions options, std::unique_ptr<Arrivals> arrivals);
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
