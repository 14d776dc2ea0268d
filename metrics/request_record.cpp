#include "metrics/request_record.hpp"

namespace cutover {

std::optional<Outcome> outcomeFromName(std::string_view name) {
  for (std::size_t i = 0; i < kOutcomeCount; ++i)
    if (kOutcomeNames[i] == name) return static_cast<Outcome>(i);
  return std::nullopt;
}

}  // namespace cutover
