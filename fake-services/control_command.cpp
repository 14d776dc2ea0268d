// The control channel's line protocol (see parseControlCommand in behaviour.hpp).
#include <array>
#include <charconv>
#include <string>
#include <utility>

#include "fake-services/behaviour.hpp"
#include "sim/core/units.hpp"

namespace cutover::service {
namespace {

std::optional<HealthMode> healthModeNamed(std::string_view name) {
  constexpr std::array<std::pair<std::string_view, HealthMode>, 4> kModes = {{
      {"healthy", HealthMode::healthy},
      {"failing", HealthMode::failing},
      {"flapping", HealthMode::flapping},
      {"lying", HealthMode::lying},
  }};
  for (const auto& [n, mode] : kModes) {
    if (n == name) return mode;
  }
  return std::nullopt;
}

// "fault <word>" commands that switch one boolean fault on.
std::optional<FaultInjected> switchFault(std::string_view word) {
  FaultInjected f;
  if (word == "hang") f.hang = true;
  else if (word == "close") f.close = true;
  else if (word == "reset") f.reset = true;
  else if (word == "refuse") f.refuse = true;
  else if (word == "pause") f.pause = true;
  else if (word == "crash") f.crash = true;
  else return std::nullopt;
  return f;
}

}  // namespace

Result<Event> parseControlCommand(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  if (line == "heal") return Event{Healed{}};
  constexpr std::string_view kFault = "fault ";
  if (line.starts_with(kFault)) {
    if (auto f = switchFault(line.substr(kFault.size()))) return Event{*f};
  }
  constexpr std::string_view kRate = "fault error_rate=";
  constexpr std::string_view kLatency = "fault latency=+";
  constexpr std::string_view kHealth = "fault health=";
  if (line.starts_with(kRate)) {
    const auto text = line.substr(kRate.size());
    double v = -1;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || !(v >= 0.0 && v <= 1.0)) {
      return Error{"control: error_rate must be a number in [0, 1]: '" + std::string(text) + "'"};
    }
    FaultInjected f;
    f.error_rate = v;
    return Event{f};
  }
  if (line.starts_with(kLatency)) {
    const auto d = parseDuration(line.substr(kLatency.size()));
    if (!d) return Error{"control: bad latency '" + std::string(line.substr(kLatency.size())) + "'"};
    FaultInjected f;
    f.extra_latency = *d;
    return Event{f};
  }
  if (line.starts_with(kHealth)) {
    const auto mode = healthModeNamed(line.substr(kHealth.size()));
    if (!mode) return Error{"control: health must be healthy, failing, flapping or lying"};
    FaultInjected f;
    f.health = *mode;
    return Event{f};
  }
  return Error{"control: unknown command '" + std::string(line) + "'"};
}

}  // namespace cutover::service
