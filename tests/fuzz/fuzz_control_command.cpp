// libFuzzer target: the fake service's control channel
// (parseControlCommand, fake-services/control_command.cpp), and what the
// Behaviour model does with the commands it accepts.
//
// Input: lines, each one control command. Contract: any bytes give an event
// or an error with a message; a fault event carries values in range (error
// rate in [0, 1], added latency not negative); feeding the accepted events
// to a Behaviour, 1 ms apart, with a request planned after each and its
// timers run, never crashes (UBSan: no overflow of times).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "fake-services/behaviour.hpp"

namespace {

using namespace cutover;
using namespace cutover::service;

void checkEvent(const Event& event) {
  if (const auto* f = std::get_if<FaultInjected>(&event)) {
    if (f->error_rate && !(*f->error_rate >= 0.0 && *f->error_rate <= 1.0)) std::abort();
    if (f->extra_latency && f->extra_latency->count() < 0) std::abort();
  }
}

void drainActions(Behaviour& b) {
  for (int i = 0; i < 256 && b.pollAction(); ++i) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const Instant start = fromNanos(1'000'000'000);
  Behaviour behaviour(BehaviourSpec{}, Rng(1), start);
  Instant now = start;
  constexpr int kMaxLines = 64;
  for (int n = 0; n < kMaxLines && !rest.empty(); ++n) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const auto result = parseControlCommand(line);
    if (!result) {
      if (result.error().message.empty()) std::abort();
      continue;
    }
    checkEvent(result.value());
    now += std::chrono::milliseconds(1);
    behaviour.handle(result.value(), now);
    drainActions(behaviour);
    const auto plan = behaviour.planRequest(now, "/");
    if (plan.start == Start::now) behaviour.handle(RequestFinished{plan.id}, now);
    drainActions(behaviour);
    for (int i = 0; i < 8; ++i) {  // run due timers, bounded
      const auto deadline = behaviour.nextDeadline();
      if (!deadline || *deadline > now + std::chrono::seconds(60)) break;
      now = std::max(now, *deadline);
      behaviour.onTimeout(now);
      drainActions(behaviour);
    }
  }
  return 0;
}
