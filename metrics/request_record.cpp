#include "metrics/request_record.hpp"

namespace cutover {

std::optional<Outcome> outcomeFromName(std::string_view name) {
  for (std::size_t i = 0; i < kOutcomeCount; ++i)
    if (kOutcomeNames[i] == name) return static_cast<Outcome>(i);
  return std::nullopt;
}

SwitcherReason switcherReasonFromName(std::string_view name) {
  if (name.empty()) return SwitcherReason::none;
  for (std::size_t i = 1; i < kSwitcherReasonCount; ++i)
    if (kSwitcherReasonNames[i] == name) return static_cast<SwitcherReason>(i);
  return SwitcherReason::other;
}

}  // namespace cutover
