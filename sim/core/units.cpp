#include "sim/core/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace cutover {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "1.5ms" into 1.5 and "ms". Rejects signs, empty numbers, NaN.
std::optional<std::pair<double, std::string_view>> splitNumber(std::string_view s) {
  s = trim(s);
  std::size_t i = 0;
  bool digits = false;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
    digits = digits || s[i] != '.';
    ++i;
  }
  if (!digits) return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, v);
  if (ec != std::errc{} || ptr != s.data() + i || !std::isfinite(v)) return std::nullopt;
  return std::make_pair(v, trim(s.substr(i)));
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text) {
  const auto split = splitNumber(text);
  if (!split) return std::nullopt;
  const auto [v, unit] = *split;
  double ns = 0;
  if (unit == "ns") ns = v;
  else if (unit == "us") ns = v * 1e3;
  else if (unit == "ms") ns = v * 1e6;
  else if (unit == "s") ns = v * 1e9;
  else if (unit == "m" || unit == "min") ns = v * 60e9;
  else if (unit == "h") ns = v * 3600e9;
  else return std::nullopt;
  // At most 1000 h: a scenario's times, scaled by --time-scale (<= 100) and
  // added up by a run, stay far inside 64-bit nanoseconds.
  if (ns > 3600e9 * 1000) return std::nullopt;
  return Duration{static_cast<std::int64_t>(std::llround(ns))};
}

std::optional<double> parseRate(std::string_view text) {
  auto s = trim(text);
  double per = 1.0;
  if (s.ends_with("/s")) per = 1.0;
  else if (s.ends_with("/m")) per = 1.0 / 60.0;
  else return std::nullopt;
  s.remove_suffix(2);
  const auto split = splitNumber(s);
  if (!split) return std::nullopt;
  auto [v, unit] = *split;
  if (unit == "k") v *= 1e3;
  else if (unit == "M") v *= 1e6;
  else if (!unit.empty()) return std::nullopt;
  if (v * per > 1e9) return std::nullopt;  // past a billion per second is a typo, not a load
  return v * per;
}

std::optional<double> parsePercent(std::string_view text) {
  const auto split = splitNumber(text);
  if (!split || split->second != "%" || split->first > 100.0) return std::nullopt;
  return split->first / 100.0;
}

std::optional<std::size_t> parseSize(std::string_view text) {
  const auto split = splitNumber(text);
  if (!split) return std::nullopt;
  const auto [v, unit] = *split;
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "kB") mult = 1e3;
  else if (unit == "KiB") mult = 1024;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "MiB") mult = 1024.0 * 1024.0;
  else return std::nullopt;
  const double bytes = v * mult;
  if (!(bytes >= 0 && bytes <= 1e15)) return std::nullopt;  // NaN, negative, absurd (a petabyte)
  return static_cast<std::size_t>(std::llround(bytes));
}

std::string formatDuration(Duration d) {
  const double ns = static_cast<double>(d.count());
  char buf[64];
  if (std::fabs(ns) >= 1e9) std::snprintf(buf, sizeof buf, "%.3f s", ns / 1e9);
  else if (std::fabs(ns) >= 1e6) std::snprintf(buf, sizeof buf, "%.1f ms", ns / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f us", ns / 1e3);
  return buf;
}

}  // namespace cutover
