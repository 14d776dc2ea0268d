#pragma once
// The lifecycle log of one fake-service instance (`--lifecycle-log FILE`):
// one line per request it read and one per lifecycle event, all times in
// nanoseconds on cutover::monoNow()'s clock (CLOCK_MONOTONIC, shared with the
// runner). The recorder joins it with client records by request id, so a
// dropped request can be attributed to its cause. Format (docs/fake-service.md):
//
//   # cutover-lifecycle 1 instance=<id> version=<v> pid=<pid>
//   R <conn> <request-id|-> <accepted_ns> <started_ns|-> <finished_ns> <end> <status|->
//   E <t_ns> <name> [detail...]
//
// Fields are separated by one space; a request id is written with spaces and
// control characters replaced by '_' and cut to kMaxRequestIdLength.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/result.hpp"
#include "sim/core/time.hpp"

namespace cutover::service {

inline constexpr std::size_t kMaxRequestIdLength = 128;
inline constexpr std::size_t kMaxLifecycleLines = 10'000'000;

// How a request read by the service ended.
enum class RequestEnd {
  completed,    // a complete response was written (any status)
  rejected,     // answered overflow_status at once (capacity)
  refused,      // connection reset at once (capacity, overflow=refuse)
  fault_close,  // closed without a response (fault close)
  fault_reset,  // half a response, then RST (fault reset)
  exit_reset,   // in flight when the process exited: RST (immediate, drain timeout, crash)
  exit_close,   // in flight when the process exited: closed
  client_gone,  // the response could not be written (peer closed or reset)
};

std::string_view requestEndName(RequestEnd end);
std::optional<RequestEnd> requestEndNamed(std::string_view name);

struct RequestLifecycle {
  std::uint64_t connection = 0;
  std::string request_id;           // x-request-id, "" when absent
  Instant accepted{};               // request fully read
  std::optional<Instant> started;   // service began (later than accepted when queued)
  Instant finished{};               // response written or connection ended
  RequestEnd end = RequestEnd::completed;
  std::optional<std::uint16_t> status;  // the status sent (completed, rejected)
};

struct LifecycleEvent {
  Instant at{};
  std::string name;    // start, listening, ready, readiness_failing, listener_open, listener_closed,
                       // sigterm, sigint, control, resumed, exit
  std::string detail;  // rest of the line
};

struct LifecycleLog {
  std::string instance;
  std::string version;
  std::vector<RequestLifecycle> requests;
  std::vector<LifecycleEvent> events;
};

std::string formatHeader(std::string_view instance, std::string_view version, long pid);
std::string formatRequest(const RequestLifecycle& r);  // one line with '\n'
std::string formatEvent(const LifecycleEvent& e);      // one line with '\n'

// Parses a whole log; a malformed line is an error naming its line number.
// A last line without '\n' (cut by SIGKILL) is ignored.
Result<LifecycleLog> parseLifecycleLog(std::string_view text);
Result<LifecycleLog> readLifecycleLog(const std::string& path);

}  // namespace cutover::service
