#pragma once
// junit.xml from a report.json document: one <testsuite> named after the
// scenario, one <testcase> for run validity (a failure listing the reasons
// when the run is invalid) and one per expectation (a failure "measured vs
// expected" when it did not hold). Without verdict.expectations (older
// reports) each verdict.failures entry becomes a failing case named by the
// text before its ':', and a run without failures gets one passing
// "expectations" case.
#include <nlohmann/json.hpp>
#include <string>

namespace cutover::reports {

std::string renderJunit(const nlohmann::json& report);

}  // namespace cutover::reports
