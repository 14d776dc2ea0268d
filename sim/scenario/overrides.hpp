#pragma once
// --set key=value on a YAML tree (used by loader.cpp only).
#include <optional>
#include <string>

namespace YAML {
class Node;
}

namespace cutover::scenario {

// The first node with a tag the loader does not read (`!foo 2`, or an
// unquoted `!= 3`, which YAML reads as the tag `!=` on "3"): such a tag would
// be dropped without a word. YAML's own tags (`!!str`) are fine. The tag and
// the node's 0-based line and column; nullopt when there is none.
struct ForeignTag {
  std::string tag;
  int line = 0;
  int column = 0;
};
std::optional<ForeignTag> foreignTag(const YAML::Node& node);
// "unknown YAML tag '!=': quote the value (...)": the error for one.
std::string foreignTagProblem(const ForeignTag& tag);

// Applies one "dotted.key=value" to `root`. Returns "" or an error message
// (a value with a tag foreignTag() finds is one).
std::string applyOverride(YAML::Node& root, const std::string& assignment);

}  // namespace cutover::scenario
