#pragma once
// Behaviour: the model of one fake service (pure: no sockets, no clock reads).
//
// Theory of operation
// -------------------
// The shell (server.cpp) feeds the model timestamped inputs and carries its
// actions out:
//   - planRequest(now) when a request (any path but /health) has been read:
//     the model answers with its status, its service time and whether the
//     response must close the connection; the request is then in flight until
//     the shell reports RequestFinished.
//   - handle(SignalReceived / RequestFinished / FaultInjected / Healed, now).
//   - onTimeout(now) whenever the one timer armed at nextDeadline() fires.
//   - pollAction() drains the actions the shell must carry out, in order.
//
// Rules
//   startup   started + listen_after            -> OpenListener
//             listen time + ready_after         -> BecomeReady (/health 200)
//   SIGTERM / SIGINT, by spec.shutdown.on_sigterm:
//     graceful  - keep serving and accepting for pre_stop_delay, then
//               - drain: FailReadiness, CloseListener, CloseIdleConnections;
//                 responses carry "Connection: close" if close_keepalive;
//               - Exit{0} as soon as nothing is in flight, or
//                 Exit{kExitDrainTimeout, reset} when drain_timeout expires.
//               A second signal while shutting down is noted and ignored.
//     immediate - Exit{128+signo, reset in-flight} at once.
//     ignore    - Note it, keep serving (only SIGKILL ends the process).
//   Startup deadlines stop counting once a shutdown has begun.
//   After Exit the model emits nothing more.
//
// Faults (run-time, from a control channel): error_rate override, added
// latency, hang (requests are never answered); Healed clears them all.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "fake-services/spec.hpp"
#include "sim/core/result.hpp"
#include "sim/core/rng.hpp"
#include "sim/core/time.hpp"

namespace cutover::service {

inline constexpr int kExitClean = 0;
inline constexpr int kExitDrainTimeout = 1;

enum class Signal { term, interrupt };

// --- events (inputs) -------------------------------------------------------
struct SignalReceived {
  Signal signal = Signal::term;
};
// A request returned by planRequest is no longer in flight (its response was
// written, or its connection died).
struct RequestFinished {};
// Run-time fault; each field that is set replaces the current value.
struct FaultInjected {
  std::optional<double> error_rate;
  std::optional<Duration> extra_latency;
  std::optional<bool> hang;
};
struct Healed {};
using Event = std::variant<SignalReceived, RequestFinished, FaultInjected, Healed>;

// --- actions (outputs) -----------------------------------------------------
struct OpenListener {};
struct BecomeReady {};
struct FailReadiness {};
struct CloseListener {};
struct CloseIdleConnections {};
struct Exit {
  int code = kExitClean;
  bool reset_in_flight = false;  // close in-flight connections with RST
  std::string reason;
};
struct Note {
  std::string text;  // a lifecycle line for the log
};
using Action = std::variant<OpenListener, BecomeReady, FailReadiness, CloseListener,
                            CloseIdleConnections, Exit, Note>;

std::string_view actionName(const Action& action);

struct RequestPlan {
  std::uint16_t status = 200;
  std::optional<Duration> service_time;  // nullopt: hang, never answer
  bool close_connection = false;         // send "Connection: close"
};

enum class ShutdownPhase { none, pre_stop, draining, exited };

class Behaviour {
 public:
  Behaviour(const BehaviourSpec& spec, Rng rng, Instant started);

  RequestPlan planRequest(Instant now);
  void handle(const Event& event, Instant now);
  void onTimeout(Instant now);
  std::optional<Instant> nextDeadline() const;
  std::optional<Action> pollAction();

  // One draw from the latency distribution (no faults applied).
  Duration drawServiceTime();

  bool listening() const { return listening_; }
  // /health answers 200 when true, 503 otherwise.
  bool ready() const {
    return ready_ && (phase_ == ShutdownPhase::none || phase_ == ShutdownPhase::pre_stop);
  }
  // Responses written now must carry "Connection: close".
  bool closeConnections() const;
  ShutdownPhase phase() const { return phase_; }
  std::size_t inFlight() const { return in_flight_; }

 private:
  void onSignal(Signal signal, Instant now);
  void onRequestFinished(Instant now);
  void startDrain(Instant now);
  void exit(int code, bool reset, std::string reason);
  void push(Action action) { actions_.push_back(std::move(action)); }

  static constexpr std::size_t kMaxQueuedActions = 64;

  BehaviourSpec spec_;
  Rng rng_;
  Instant listen_at_;
  std::optional<Instant> ready_at_;  // known once listening
  bool listening_ = false;
  bool ready_ = false;
  ShutdownPhase phase_ = ShutdownPhase::none;
  std::optional<Instant> pre_stop_end_;
  std::optional<Instant> drain_deadline_;
  std::size_t in_flight_ = 0;
  FaultInjected faults_;
  std::deque<Action> actions_;
};

// One line of the control channel, e.g. "fault error_rate=0.5",
// "fault latency=+100ms", "fault hang", "heal".
Result<Event> parseControlCommand(std::string_view line);

}  // namespace cutover::service
