#pragma once
// Terminal output that never throws. fmt::print throws std::system_error
// when a write fails; with SIGPIPE ignored (as run does, so that a closed
// socket cannot kill it), a closed pipe on stdout or stderr is such a
// failure: `cutover run ... 2>&1 | tee log` and a Ctrl-C that ends tee first
// would abort the run before it wrote its reports. Lost terminal lines are
// lost; the reports are the record.
#include <fmt/format.h>

#include <cstdio>
#include <utility>

namespace cutover {

template <class... T>
void printTo(std::FILE* f, fmt::format_string<T...> format, T&&... args) noexcept {
  try {
    fmt::print(f, format, std::forward<T>(args)...);
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

// stdout and stderr.
template <class... T>
void printOut(fmt::format_string<T...> format, T&&... args) noexcept {
  printTo(stdout, format, std::forward<T>(args)...);
}
template <class... T>
void printErr(fmt::format_string<T...> format, T&&... args) noexcept {
  printTo(stderr, format, std::forward<T>(args)...);
}

}  // namespace cutover
