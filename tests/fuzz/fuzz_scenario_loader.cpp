// libFuzzer target: the scenario loader from a string. Contract: any bytes
// give a scenario or a list of errors (never both, never neither), each
// error printable; never a crash, a hang or an exception.
//
// Input layout: the YAML text, then optionally a NUL byte followed by
// --set overrides, one per line (so the fuzzer reaches applyOverride too).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    constexpr std::size_t kMaxOverrides = 16;
    while (!rest.empty() && overrides.size() < kMaxOverrides) {
      const auto nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  const auto out = cutover::scenario::loadScenarioText(text, "fuzz.yaml", overrides);
  if (out.scenario.has_value() == !out.errors.empty()) std::abort();  // exactly one of the two
  for (const auto& e : out.errors) {
    if (e.message.empty() || e.str().empty()) std::abort();  // every error says something
  }
  return 0;
}
