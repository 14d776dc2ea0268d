#pragma once
// The bounded list of dropped requests in report.json: the first `limit`
// drops of a drop attribution (metrics/drop_causes.hpp), joined with their
// records for times, outcome, version and connection. Pure.
#include <cstddef>
#include <vector>

#include "metrics/drop_causes.hpp"
#include "metrics/measures.hpp"
#include "metrics/run_result.hpp"

namespace cutover {

std::vector<DroppedRequest> firstDroppedRequests(const RunView& run, const DropAttribution& drops,
                                                 std::size_t limit = kDroppedListLimit);

}  // namespace cutover
