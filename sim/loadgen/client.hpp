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
};

struct LoadResult {
  std::vector<RequestRecord> records;  // one per intended request, in intended order
  std::vector<std::string> names;      // name table for RequestRecord::version/instance
  std::uint64_t intended = 0;          // requests the arrival process asked for
  Instant started{};                   // first intended time
  Instant finished{};                  // when the last outcome was known
};

// Runs in the calling thread until the arrival process is exhausted and every
// request has an outcome (bounded by the last intended time plus timeout).
// requestStop() (any thread) ends it early: unsent requests are not recorded.
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
