#include "sim/scenario/overrides.hpp"

#include "sim/scenario/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <optional>
#include <vector>

namespace cutover::scenario {
namespace {

std::vector<std::string> splitDots(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : key) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::optional<std::size_t> asIndex(const std::string& s) {
  std::size_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<ForeignTag> foreignTagAt(const YAML::Node& n, int depth) {
  if (depth > 256) return std::nullopt;  // the parser's own depth limit stops deeper files first
  const std::string& tag = n.Tag();
  if (!(tag.empty() || tag == "?" || tag == "!" || tag.starts_with("tag:yaml.org,2002:")))
    return ForeignTag{tag, n.Mark().line, n.Mark().column};
  if (n.IsMap()) {
    for (const auto& kv : n) {
      if (auto t = foreignTagAt(kv.first, depth + 1)) return t;
      if (auto t = foreignTagAt(kv.second, depth + 1)) return t;
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n)
      if (auto t = foreignTagAt(item, depth + 1)) return t;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ForeignTag> foreignTag(const YAML::Node& node) { return foreignTagAt(node, 0); }

std::string foreignTagProblem(const ForeignTag& tag) {
  return "unknown YAML tag '" + tag.tag +
         "': quote the value (a bound such as \"!= 3\" is not one either: use <, <=, ==, >= or >)";
}

std::string applyOverride(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) return "expected key=value, got '" + assignment + "'";
  const auto parts = splitDots(assignment.substr(0, eq));
  YAML::Node value;
  const std::string text = assignment.substr(eq + 1);
  try {
    // A bound such as "> 0" is text: in YAML a leading '>' starts a folded
    // block, which a one-line value cannot mean.
    const auto first = text.find_first_not_of(" \t");
    value = first != std::string::npos && text[first] == '>' ? YAML::Node(text.substr(first)) : YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return "value of '" + assignment.substr(0, eq) + "' is not valid YAML: " + e.msg;
  }
  if (const auto tagged = foreignTag(value)) return foreignTagProblem(*tagged);
  // Walk with fresh handles (yaml-cpp Node assignment rebinds, so recurse by reference).
  std::vector<YAML::Node> path{root};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& part = parts[i];
    if (part.empty()) return "empty key segment in '" + assignment.substr(0, eq) + "'";
    YAML::Node cur = path.back();
    const bool last = i + 1 == parts.size();
    if (cur.IsSequence()) {
      const auto idx = asIndex(part);
      if (!idx || *idx >= cur.size())
        return "'" + part + "' is not an index of the list at '" + assignment.substr(0, eq) + "'";
      if (last) {
        cur[*idx] = value;
        return "";
      }
      path.push_back(cur[*idx]);
    } else if (cur.IsMap() || cur.IsNull()) {
      if (last) {
        cur[part] = value;
        return "";
      }
      if (!cur[part]) {
        // A key inside a service the file does not have is a typo, not a new
        // service (that one would run with every default); a new service is
        // set whole: services.canary={...}.
        if (i == 1 && parts[0] == "services") {
          std::vector<std::string> names;
          if (cur.IsMap())
            for (const auto& kv : cur) names.push_back(kv.first.as<std::string>());
          const auto hint = suggestKey(part, names);
          return "no service named '" + part + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                 " (a new service is set whole: services." + part + "={...})";
        }
        cur[part] = YAML::Node(YAML::NodeType::Map);
      }
      path.push_back(cur[part]);
    } else {
      return "cannot set '" + part + "' inside a scalar at '" + assignment.substr(0, eq) + "'";
    }
  }
  return "";
}

}  // namespace cutover::scenario
