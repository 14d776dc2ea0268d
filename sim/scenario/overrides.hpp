#pragma once
// --set key=value on a YAML tree (used by loader.cpp only).
#include <string>

namespace YAML {
class Node;
}

namespace cutover::scenario {

// Applies one "dotted.key=value" to `root`. Returns "" or an error message.
std::string applyOverride(YAML::Node& root, const std::string& assignment);

}  // namespace cutover::scenario
