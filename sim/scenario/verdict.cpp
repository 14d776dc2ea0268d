#include "sim/scenario/verdict.hpp"

#include <sstream>

namespace cutover::scenario {
namespace {

const char* opText(Compare c) {
  switch (c) {
    case Compare::lt: return "<";
    case Compare::le: return "<=";
    case Compare::eq: return "==";
    case Compare::ge: return ">=";
    case Compare::gt: return ">";
  }
  return "?";
}

}  // namespace

void judge(const Scenario& scenario, RunResult& result) {
  auto& v = result.verdict;
  v.failures.clear();
  const auto& e = scenario.expect;
  if (e.dropped) {
    const auto dropped = static_cast<double>(result.summary.outcomes.dropped());
    if (!e.dropped->holds(dropped)) {
      std::ostringstream os;
      os << "dropped: measured " << result.summary.outcomes.dropped() << ", expected "
         << opText(e.dropped->op) << " " << e.dropped->value;
      v.failures.push_back(os.str());
    }
  }
  if (e.final_active && result.final_active != *e.final_active)
    v.failures.push_back("final_active: measured '" + result.final_active + "', expected '" +
                         *e.final_active + "'");
  v.passed = v.valid && v.failures.empty();
}

int exitCodeOf(const Verdict& verdict) {
  if (!verdict.valid) return 3;
  return verdict.passed ? 0 : 1;
}

}  // namespace cutover::scenario
