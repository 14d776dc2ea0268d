#pragma once
// Internal to the scenario loaders (loader.cpp, switcher_section.cpp,
// switcher_config.cpp): the strict YAML mapping reader. Theory of operation:
// one MapReader per mapping; each read registers its key, so once a mapping
// is read the reader knows every key it understands and reports the others
// as unknown (with a "did you mean"). Problems are collected in Ctx, never
// thrown, so one pass reports them all.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "sim/core/units.hpp"
#include "sim/scenario/loader.hpp"

namespace cutover::scenario::detail {

struct Ctx {
  std::string file;
  std::vector<Diagnostic> errors;
  double time_scale = 1.0;  // --time-scale: every duration read is multiplied by it
  bool simulated = false;   // LoadOptions::simulated: the instance bounds of a simulated run

  // The most instances per pool this run can have.
  int maxInstances() const { return simulated ? kMaxSimInstances : kMaxLiveInstances; }
  // A live run's instance count that only a simulated run could have: says
  // so (true), so the caller reads no further.
  bool simOnlyInstances(const YAML::Node& at, const std::string& key) {
    if (simulated || !at || !at.IsScalar()) return false;
    int value = 0;
    const std::string& s = at.Scalar();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || value <= kMaxLiveInstances || value > kMaxSimInstances)
      return false;
    error(at, key,
          "a live run starts at most " + std::to_string(kMaxLiveInstances) + " instances per pool, got " + s +
              " (up to " + std::to_string(kMaxSimInstances) + " with --mode sim)");
    return true;
  }

  Duration scaled(Duration d) const {
    if (time_scale == 1.0) return d;
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
        static_cast<double>(d.count()) * time_scale));
  }

  void error(const YAML::Node& at, const std::string& key, std::string message) {
    Diagnostic d{file, 0, 0, key, std::move(message)};
    if (at) {
      const auto m = at.Mark();
      if (m.line >= 0) d.line = m.line + 1, d.column = m.column + 1;
    }
    errors.push_back(std::move(d));
  }
};

inline std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

inline SourceLoc locOf(const YAML::Node& n) {
  if (!n) return {};
  const auto m = n.Mark();
  return m.line >= 0 ? SourceLoc{m.line + 1, m.column + 1} : SourceLoc{};
}

class MapReader {
 public:
  MapReader(Ctx& ctx, const YAML::Node& node, std::string path)
      : ctx_(ctx), node_(node), path_(std::move(path)), present_(static_cast<bool>(node)) {
    // An absent key gives an invalid node that throws on most calls: test
    // presence first, once.
    if (present_ && !node_.IsNull() && !node_.IsMap()) {
      ctx_.error(node_, path_, "expected a mapping (key: value pairs)");
      bad_ = true;
    }
    isMap_ = present_ && !bad_ && node_.IsMap();
  }

  const std::string& path() const { return path_; }

  // The value of `key`, registering it as known. Undefined when absent.
  YAML::Node get(const std::string& key, bool required = false) {
    known_.push_back(key);
    if (!isMap_) {
      if (required && !bad_) ctx_.error(present_ ? node_ : YAML::Node(), join(path_, key), "required key is missing");
      return YAML::Node(YAML::NodeType::Undefined);
    }
    const YAML::Node& map = node_;  // const access never inserts keys
    YAML::Node v = map[key];
    if (!v && required) ctx_.error(node_, join(path_, key), "required key is missing");
    return v;
  }

  void string(const std::string& key, std::string& out, bool required = false) {
    scalar(key, required, [&](const std::string& s) { out = s; return true; }, "a string");
  }
  // parseDuration takes at most 1000 h (so --time-scale cannot overflow).
  static constexpr const char* kDurationExpected = "a duration with a unit, like 250ms or 2s, at most 1000h";
  void duration(const std::string& key, Duration& out, bool required = false) {
    scalar(key, required, [&](const std::string& s) {
      const auto d = parseDuration(s);
      if (d) out = ctx_.scaled(*d);
      return d.has_value();
    }, kDurationExpected);
  }
  void optDuration(const std::string& key, std::optional<Duration>& out) {
    Duration d{};
    bool set = false;
    scalar(key, false, [&](const std::string& s) {
      const auto p = parseDuration(s);
      if (p) d = ctx_.scaled(*p), set = true;
      return p.has_value();
    }, kDurationExpected);
    if (set) out = d;
  }
  void rate(const std::string& key, double& out, bool required = false) {
    scalar(key, required, [&](const std::string& s) {
      const auto r = parseRate(s);
      if (r && *r > 0) out = *r;
      return r && *r > 0;
    }, "a positive rate like 500/s or 2k/s");
  }
  void percent(const std::string& key, double& out) {
    scalar(key, false, [&](const std::string& s) {
      const auto p = parsePercent(s);
      if (p) out = *p;
      return p.has_value();
    }, "a percentage like 5%");
  }
  void size(const std::string& key, std::size_t& out) {
    scalar(key, false, [&](const std::string& s) {
      const auto p = parseSize(s);
      if (p) out = *p;
      return p.has_value();
    }, "a size like 512, 4KiB or 1MB");
  }
  template <class Int>
  void integer(const std::string& key, Int& out, long long lo, long long hi, bool required = false) {
    scalar(key, required, [&](const std::string& s) {
      long long v = 0;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
      out = static_cast<Int>(v);
      return true;
    }, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  void number(const std::string& key, double& out, double lo, double hi) {
    scalar(key, false, [&](const std::string& s) {
      double v = 0;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc{} || p != s.data() + s.size() || !(v >= lo && v <= hi)) return false;  // NaN too
      out = v;
      return true;
    }, "a number from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  void boolean(const std::string& key, bool& out) {
    scalar(key, false, [&](const std::string& s) {
      if (s == "true" || s == "yes" || s == "on") return out = true, true;
      if (s == "false" || s == "no" || s == "off") return out = false, true;
      return false;
    }, "true or false");
  }
  template <class Enum>
  void choice(const std::string& key, Enum& out, const std::vector<std::pair<std::string, Enum>>& options) {
    std::string all;
    for (const auto& [name, _] : options) all += (all.empty() ? "" : ", ") + name;
    scalar(key, false, [&](const std::string& s) {
      for (const auto& [name, value] : options)
        if (name == s) return out = value, true;
      return false;
    }, "one of: " + all);
  }

  // Reports keys nobody asked for. Call after every get().
  void finish() {
    if (!isMap_) return;
    std::vector<std::string> seen;
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>("");
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        ctx_.error(kv.first, join(path_, key), "duplicate key (only one value is allowed)");
        continue;
      }
      seen.push_back(key);
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      const auto hint = suggestKey(key, known_);
      ctx_.error(kv.first, join(path_, key),
                 "unknown key" + (hint.empty() ? std::string() : "; did you mean '" + hint + "'?"));
    }
  }

 private:
  template <class F>
  void scalar(const std::string& key, bool required, F&& parse, const std::string& expected) {
    const YAML::Node v = get(key, required);
    if (!v) return;
    if (!v.IsScalar() || !parse(v.Scalar()))
      ctx_.error(v, join(path_, key), "expected " + expected + ", got '" + describe(v) + "'");
  }
  static std::string describe(const YAML::Node& v) {
    if (v.IsScalar()) return v.Scalar();
    if (v.IsSequence()) return "a list";
    if (v.IsMap()) return "a mapping";
    return "nothing";
  }

  Ctx& ctx_;
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> known_;
  bool present_ = false;
  bool bad_ = false;
  bool isMap_ = false;
};

// switcher: kind, mode, upstream_timeout and the Core's policy keys
// (switcher_section.cpp); `sw` is the reader of the switcher mapping.
void readSwitcherSection(Ctx& ctx, MapReader& sw, SwitcherSpec& out);

}  // namespace cutover::scenario::detail
