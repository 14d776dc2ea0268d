#include "reports/render_util.hpp"

#include <fstream>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace cutover::reports::render {
namespace {
const json kNull = nullptr;
}  // namespace

const json& at(const json& j, std::string_view key) {
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const json& path(const json& j, std::string_view dotted) {
  const json* cur = &j;
  while (!dotted.empty()) {
    const auto dot = dotted.find('.');
    cur = &at(*cur, dotted.substr(0, dot));
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  return *cur;
}

std::string str(const json& j, std::string_view dotted, std::string fallback) {
  const auto& v = path(j, dotted);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return fallback;
}

double num(const json& j, std::string_view dotted, double fallback) {
  const auto& v = path(j, dotted);
  if (!v.is_number()) return fallback;
  const auto d = v.get<double>();
  return std::isfinite(d) ? d : fallback;
}

std::uint64_t count(const json& j, std::string_view dotted) {
  const auto& v = path(j, dotted);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v.get<std::int64_t>()));
  if (v.is_number_float()) {
    const auto d = v.get<double>();
    return std::isfinite(d) && d > 0 ? static_cast<std::uint64_t>(d) : 0;
  }
  return 0;
}

bool has(const json& j, std::string_view dotted) { return !path(j, dotted).is_null(); }

bool flag(const json& j, std::string_view dotted, bool fallback) {
  const auto& v = path(j, dotted);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

std::vector<std::string> strings(const json& j, std::string_view dotted) {
  std::vector<std::string> out;
  const auto& v = path(j, dotted);
  if (!v.is_array()) return out;
  for (const auto& e : v)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::string verdictWord(const json& report) {
  if (!flag(report, "verdict.valid", false)) return "INVALID";
  return flag(report, "verdict.passed", false) ? "PASS" : "FAIL";
}

std::string xmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string xmlText(std::string_view s) {
  std::string clean;
  clean.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
    clean += c;
  }
  return xmlEscape(clean);
}

std::string mdEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '|': case '\\': case '`': case '*': case '_': case '[': case ']': case '#':
        out += '\\';
        out += c;
        break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\n': case '\r': out += ' '; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  auto s = fmt::format("{:.{}f}", v, decimals);
  if (s.starts_with('-') && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // "-0.00"
  return s;
}

std::string millis(double ms) {
  if (!std::isfinite(ms)) return "n/a";
  if (ms >= 1000) return fixed(ms / 1000, 2) + " s";
  if (ms >= 10) return fixed(ms, 1) + " ms";
  return fixed(ms, 2) + " ms";
}

std::string seconds(double s) { return fixed(s, 3) + " s"; }

std::string fewResponses(std::uint64_t responses) {
  if (responses == 0 || responses >= kFewResponses) return "";
  return std::to_string(responses) + (responses == 1 ? " response" : " responses") + ": p99 is the slowest";
}

std::string fewResponsesNote(std::uint64_t responses) {
  const auto few = fewResponses(responses);
  return few.empty() ? few : " (" + few + ")";
}

std::string startedPart(const json& report) {
  const auto started = str(report, "scenario.started_utc");
  return started.empty() ? std::string() : " · started " + started;
}

std::string exitsLine(std::vector<ExitSeen> exits, std::size_t limit) {
  std::stable_sort(exits.begin(), exits.end(),
                   [](const ExitSeen& a, const ExitSeen& b) { return a.t_s != b.t_s ? a.t_s < b.t_s : a.id < b.id; });
  std::string out;
  for (std::size_t i = 0; i < exits.size() && i < limit; ++i)
    out += (i ? ", " : "") + exits[i].id + " " + (exits[i].exit.empty() ? "exited" : exits[i].exit) + " at " +
           seconds(exits[i].t_s);
  if (exits.size() > limit) out += ", and " + std::to_string(exits.size() - limit) + " more";
  return out;
}

std::vector<std::pair<std::string, std::uint64_t>> topCounts(const json& object, std::size_t limit) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  if (!object.is_object()) return out;
  for (const auto& [k, v] : object.items()) out.emplace_back(k, count(v, ""));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::string> writeFileAtomic(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) return Error{"cannot write " + tmp};
    out << text;
    if (!out.flush()) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      return Error{"cannot write " + tmp};
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);  // no half-written file left behind
    return Error{"cannot rename " + tmp + " to " + path.string() + ": " + ec.message()};
  }
  return path.string();
}

std::string writeAllOrNone(const std::filesystem::path& dir,
                           const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [name, text] : files) {
    const auto w = writeFileAtomic(dir / name, text);
    if (w.ok()) continue;
    for (const auto& f : files) {
      std::error_code ignored;
      if (!std::filesystem::is_directory(dir / f.first, ignored)) std::filesystem::remove(dir / f.first, ignored);
    }
    return w.error().message;
  }
  return "";
}

}  // namespace cutover::reports::render
