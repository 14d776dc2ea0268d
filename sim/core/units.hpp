#pragma once
// Quantities with units, as scenario files write them:
//   durations  250ms, 2s, 1.5s, 100us, 2m, 0s   (a bare number is an error)
//   rates      2k/s, 500/s, 1.5k/s, 120/m
//   percents   5%, 0.5%
//   sizes      512, 4KiB, 1MiB, 1kB
#include <optional>
#include <string>
#include <string_view>

#include "sim/core/time.hpp"

namespace cutover {

std::optional<Duration> parseDuration(std::string_view text);
// Requests per second.
std::optional<double> parseRate(std::string_view text);
// A fraction in [0, 1] ("5%" -> 0.05).
std::optional<double> parsePercent(std::string_view text);
std::optional<std::size_t> parseSize(std::string_view text);

// "1.500 s", "250 ms", "80 us": for messages and summaries.
std::string formatDuration(Duration d);

// Nearest integer of a finite v >= 0 (halves up), inline: std::llround is a
// library call, and the simulator rounds two draws per request.
inline std::int64_t roundNonNegative(double v) { return static_cast<std::int64_t>(v + 0.5); }

}  // namespace cutover
