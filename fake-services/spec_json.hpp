#pragma once
// BehaviourSpec <-> JSON, how the runner hands a spec to a fake-service
// process (--spec-json). Durations are integers in nanoseconds.
#include <nlohmann/json_fwd.hpp>

#include "fake-services/spec.hpp"
#include "sim/core/result.hpp"

namespace cutover::service {

nlohmann::json toJson(const BehaviourSpec& spec);
Result<BehaviourSpec> specFromJson(const nlohmann::json& json);

}  // namespace cutover::service
