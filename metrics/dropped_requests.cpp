#include "metrics/dropped_requests.hpp"

#include <string>

namespace cutover {
namespace {

std::string nameOf(const RunView& run, std::uint16_t index) {
  return index < run.names.size() ? run.names[index] : std::string();
}

}  // namespace

std::vector<DroppedRequest> firstDroppedRequests(const RunView& run, const DropAttribution& drops,
                                                 std::size_t limit) {
  std::vector<DroppedRequest> out;
  for (const auto& d : drops.drops) {
    if (out.size() >= limit) break;
    DroppedRequest e;
    e.request_id = d.request_id;
    e.cause_class = d.cause_class;
    e.cause = d.cause;
    if (d.record < run.records.size()) {
      const auto& rec = run.records[d.record];
      e.intended_s = measures_detail::secondsSince0(rec.intended_ns, run.t0_ns);
      e.done_s = rec.done_ns == 0 ? e.intended_s : measures_detail::secondsSince0(rec.done_ns, run.t0_ns);
      e.outcome = std::string(outcomeName(rec.outcome));
      e.version = nameOf(run, rec.version);
      e.instance = nameOf(run, rec.instance);
      e.connection_id = rec.connection_id;
      e.connection_reuse = rec.connection_reuse;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace cutover
