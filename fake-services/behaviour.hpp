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
// Capacity (spec.capacity): at most max_in_flight requests are in service;
// a request beyond that is, by overflow, answered overflow_status at once
// (reject), reset with the listener closed until a slot frees (refuse), or
// queued FIFO up to queue_length and started by StartRequest{id} when a slot
// frees (queue; a full queue rejects). Queued requests count as in flight
// for the drain.
//
// Health (spec.health, or a health fault): healthy follows readiness; failing
// is always 503; flapping alternates 200/503 every half flap_period from the
// moment of readiness; lying answers 200 always, while every request fails
// with error_status. Every /health answer waits health.delay.
//
// Faults (run-time, from a control channel; see parseControlCommand):
// error_rate override, added latency, hang (requests are never answered),
// close (close without a response), reset (half a response, then RST),
// refuse (listener closed), pause (nothing answered until heal: the shell
// holds responses and gets ResumePaused), crash (Exit{kExitCrash, reset,
// crash}), health mode. Healed clears them all: hung requests stay hung.
//
// The listener is open when started, not shutting down, no refuse fault and
// not full under overflow=refuse; every change emits OpenListener or
// CloseListener (the shell reopens on the same port).
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
inline constexpr int kExitCrash = 70;  // "fault crash"

enum class Signal { term, interrupt };

// --- events (inputs) -------------------------------------------------------
struct SignalReceived {
  Signal signal = Signal::term;
};
// A request returned by planRequest is no longer in flight (its response was
// written, or its connection died).
// id: RequestPlan::id (0 for a request known to be in service).
struct RequestFinished {
  std::uint64_t id = 0;
};
// Run-time fault; each field that is set replaces the current value.
struct FaultInjected {
  std::optional<double> error_rate;
  std::optional<Duration> extra_latency;
  std::optional<bool> hang;
  std::optional<bool> close = std::nullopt;   // close without a response
  std::optional<bool> reset = std::nullopt;   // reset mid-response
  std::optional<bool> refuse = std::nullopt;  // close the listener
  std::optional<bool> pause = std::nullopt;   // answer nothing until heal
  std::optional<bool> crash = std::nullopt;   // exit abruptly, in-flight reset
  std::optional<HealthMode> health = std::nullopt;
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
  bool crash = false;            // leave at once (_exit), no clean-up
};
// A queued request (RequestPlan::start == queued) enters service now; its
// service time starts counting.
struct StartRequest {
  std::uint64_t id = 0;
};
// The pause fault ended: answer every response held since it began.
struct ResumePaused {};
struct Note {
  std::string text;  // a lifecycle line for the log
};
using Action = std::variant<OpenListener, BecomeReady, FailReadiness, CloseListener,
                            CloseIdleConnections, Exit, Note, StartRequest, ResumePaused>;

std::string_view actionName(const Action& action);

// How a planned request enters service.
enum class Start {
  now,     // in service at once: in flight until RequestFinished{id}
  queued,  // in flight, waiting for StartRequest{id}
  reject,  // answer `status` at once; never in flight
  refuse,  // reset the connection at once; never in flight
};

// How a request in service ends when its service time is up.
enum class Ending {
  respond,  // a complete response
  close,    // close the connection (FIN) without a byte
  reset,    // send the head and half the body, then RST
};

struct RequestPlan {
  std::uint64_t id = 0;
  Start start = Start::now;
  std::uint16_t status = 200;
  std::optional<Duration> service_time;  // nullopt: hang, never answer
  Ending ending = Ending::respond;
  bool close_connection = false;         // send "Connection: close"
};

struct HealthAnswer {
  std::uint16_t status = 200;
  Duration delay{0};
};

enum class ShutdownPhase { none, pre_stop, draining, exited };

// The mean of the service times drawServiceTime gives for `latency` (no
// faults, no warm-up): fixed, the mean of uniform, the normal's p50 (its
// mean, clipping at 0 aside), p50 e^(sigma^2/2) for the lognormal, the
// samples' mean for empirical. For queueing estimates (cutover plan).
Duration meanServiceTime(const LatencySpec& latency);

class Behaviour {
 public:
  Behaviour(const BehaviourSpec& spec, Rng rng, Instant started);

  // path: the request target, for spec.paths overrides.
  RequestPlan planRequest(Instant now, std::string_view path = {});
  void handle(const Event& event, Instant now);
  void onTimeout(Instant now);
  // The one timer the shell arms: whether there is one, and when (only if
  // there is). Inline and without an optional: the simulator asks after
  // every request, and mostly there is none.
  bool hasDeadline() const {
    switch (phase_) {
      case ShutdownPhase::none: return !listening_ || (!ready_ && ready_at_.has_value());
      case ShutdownPhase::pre_stop: return pre_stop_end_.has_value();
      case ShutdownPhase::draining: return drain_deadline_.has_value();
      case ShutdownPhase::exited: return false;
    }
    return false;
  }
  Instant deadline() const {
    switch (phase_) {
      case ShutdownPhase::none: return !listening_ ? listen_at_ : *ready_at_;
      case ShutdownPhase::pre_stop: return *pre_stop_end_;
      default: return *drain_deadline_;
    }
  }
  std::optional<Instant> nextDeadline() const {
    return hasDeadline() ? std::optional<Instant>(deadline()) : std::nullopt;
  }
  std::optional<Action> pollAction();
  bool hasActions() const { return !actions_.empty(); }

  // One draw from the latency distribution (no faults applied).
  Duration drawServiceTime() { return drawServiceTime(spec_.latency); }
  Duration drawServiceTime(const LatencySpec& latency);

  // The answer to GET /health at `now` (health mode, readiness, delay).
  HealthAnswer health(Instant now) const;
  HealthMode healthMode() const { return faults_.health.value_or(spec_.health.mode); }
  // Pause fault: the shell holds every response until ResumePaused.
  bool paused() const { return faults_.pause.value_or(false); }
  bool listenerOpen() const { return listener_open_; }
  std::size_t serving() const { return serving_; }
  std::size_t queued() const { return queue_.size(); }

  bool listening() const { return listening_; }
  // /health answers 200 when true, 503 otherwise.
  bool ready() const {
    return ready_ && (phase_ == ShutdownPhase::none || phase_ == ShutdownPhase::pre_stop);
  }
  // Responses written now must carry "Connection: close" (shutting down,
  // with shutdown.close_keepalive: the pre-stop delay and the drain).
  bool closeConnections() const;
  ShutdownPhase phase() const { return phase_; }
  std::size_t inFlight() const { return serving_ + queue_.size(); }

 private:
  void onSignal(Signal signal, Instant now);
  void onRequestFinished(std::uint64_t id, Instant now);
  void onFault(const FaultInjected& fault, Instant now);
  void admit(RequestPlan& plan);
  void startQueued();
  void syncListener();
  bool wantListener() const;
  void startDrain(Instant now);
  void exit(int code, bool reset, std::string reason, bool crash = false);
  void push(Action action) { actions_.push_back(std::move(action)); }

  static constexpr std::size_t kMaxQueuedActions = 64;

  BehaviourSpec spec_;
  Rng rng_;
  struct LognormalParams {
    Duration p50{-1};
    Duration p99{-1};
    double mu = 0;
    double sigma = 0;
  } lognormal_;  // drawServiceTime's memo of the last lognormal spec's parameters
  Instant listen_at_;
  std::optional<Instant> ready_at_;  // known once listening
  bool listening_ = false;       // the listener has opened once
  bool listener_open_ = false;
  bool ready_ = false;
  ShutdownPhase phase_ = ShutdownPhase::none;
  std::optional<Instant> pre_stop_end_;
  std::optional<Instant> drain_deadline_;
  std::size_t serving_ = 0;
  std::deque<std::uint64_t> queue_;  // ids waiting for a slot, FIFO
  std::uint64_t next_id_ = 1;
  FaultInjected faults_;
  std::deque<Action> actions_;
};

// One line of the control channel (control_command.cpp):
//   fault error_rate=X        X in [0, 1]
//   fault latency=+DUR        e.g. +100ms, added to every service time
//   fault hang | close | reset | refuse | pause | crash
//   fault health=healthy|failing|flapping|lying
//   heal                      clear every fault
Result<Event> parseControlCommand(std::string_view line);

}  // namespace cutover::service
