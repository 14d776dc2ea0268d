#pragma once
// Drop-cause attribution: a pure join of the client's records with the
// services' per-request lifecycle logs and the run's events, giving every
// dropped request (switch_error, reset, refused, timeout) a cause that names
// the event, backend and connection state it met. Drops are counted by
// request id, never by socket error.
//
// Join keys: RequestRecord::request_id = ServiceRequestLog::request_id (the
// x-request-id header); instance exits from InstanceInfo::exited_s and
// "exited"/"stopped" events (see measures.hpp for the event kinds). When a
// service log holds several entries for one id (a switcher retry), the last
// accepted one is used.
//
// Classes (DropCause::cause_class), decided in this order:
//   not_sent                 the connection failed before the request was written
//                            (safe to retry: no service can have seen it)
//   in_flight_at_exit        a service accepted it and never finished it (or its log
//                            says exit_reset / exit_close), and that instance exited
//   no_healthy_backend       503 from the switcher: the active pool had no healthy backend
//   no_active_pool           503 from the switcher: no pool was active
//   switcher_<reason>        other switcher errors (upstream_connect_failed, upstream_reset, ...)
//   reset_after_service      reset although the service finished it (how: ServiceRequestLog::how)
//   reset_reused_connection  reset on a reused keep-alive connection, seen by no service
//   reset_new_connection     reset on a fresh connection, seen by no service
//   refused                  the TCP connect was refused
//   timeout_in_service       a service held it past the client's timeout
//   timeout_not_accepted     timed out and no service saw it
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics/measures.hpp"

namespace cutover {

// One request as a service saw it (filled by the runner from the services'
// lifecycle logs). Times are ns on the shared monotonic clock, 0: did not happen.
struct ServiceRequestLog {
  std::string instance;          // blue-1
  std::uint64_t request_id = 0;  // x-request-id
  std::int64_t accepted_ns = 0;  // request read by the service
  std::int64_t finished_ns = 0;  // response written (0: never, e.g. killed in flight)
  std::string how;               // how it ended, as the log says (responded, reset, ...)
};

struct DropCause {
  std::size_t record = 0;  // index into RunView::records
  std::uint64_t request_id = 0;
  std::string cause_class;
  std::string cause;  // "in flight on blue-1 when it exited at 5.002 s"
};

struct DropAttribution {
  std::vector<DropCause> drops;  // in record order, at most max_listed
  std::uint64_t dropped = 0;     // every dropped record, listed or not
  std::map<std::string, std::uint64_t> by_class;
  std::map<std::string, std::uint64_t> by_cause;  // at most max_causes distinct strings, rest "other"
};

struct AttributionLimits {
  std::size_t max_listed = 10'000;
  std::size_t max_causes = 200;
};

DropAttribution attributeDrops(const RunView& run, const std::vector<ServiceRequestLog>& service_log,
                               const AttributionLimits& limits = {});

}  // namespace cutover
