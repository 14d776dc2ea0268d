#include "fake-services/behaviour.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"

namespace cutover::service {
namespace {

// z of the 99th percentile of the standard normal distribution.
constexpr double kZ99 = 2.3263;

Duration nanos(double ns) {
  if (!(ns > 0.0)) return Duration{0};
  constexpr double kMaxNs = 1e15;  // ~11.6 days: far beyond any sane service time
  return Duration{static_cast<std::int64_t>(std::llround(std::min(ns, kMaxNs)))};
}

double ns(Duration d) { return static_cast<double>(d.count()); }

// Standard normal draw (Box-Muller; one of the pair is discarded so the number
// of draws per request is fixed).
double standardNormal(Rng& rng) {
  const double u1 = 1.0 - rng.uniform();  // (0, 1]
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::string_view signalName(Signal s) { return s == Signal::term ? "sigterm" : "sigint"; }
int signalNumber(Signal s) { return s == Signal::term ? 15 : 2; }  // POSIX SIGTERM, SIGINT

}  // namespace

std::string_view actionName(const Action& action) {
  struct Visitor {
    std::string_view operator()(const OpenListener&) const { return "open-listener"; }
    std::string_view operator()(const BecomeReady&) const { return "ready"; }
    std::string_view operator()(const FailReadiness&) const { return "fail-readiness"; }
    std::string_view operator()(const CloseListener&) const { return "close-listener"; }
    std::string_view operator()(const CloseIdleConnections&) const { return "close-idle"; }
    std::string_view operator()(const Exit&) const { return "exit"; }
    std::string_view operator()(const Note&) const { return "note"; }
  };
  return std::visit(Visitor{}, action);
}

Behaviour::Behaviour(const BehaviourSpec& spec, Rng rng, Instant started)
    : spec_(spec), rng_(rng), listen_at_(started + spec.startup.listen_after) {}

Duration Behaviour::drawServiceTime() {
  const LatencySpec& l = spec_.latency;
  switch (l.distribution) {
    case LatencyDistribution::fixed:
      return l.value;
    case LatencyDistribution::uniform: {
      const double lo = ns(std::min(l.min, l.max));
      const double hi = ns(std::max(l.min, l.max));
      return nanos(lo + rng_.uniform() * (hi - lo));
    }
    case LatencyDistribution::normal: {
      const double sd = std::max(0.0, ns(l.p99) - ns(l.p50)) / kZ99;
      return nanos(ns(l.p50) + sd * standardNormal(rng_));
    }
    case LatencyDistribution::lognormal: {
      if (l.p50.count() <= 0) return Duration{0};
      const double mu = std::log(ns(l.p50));
      const double ratio = ns(l.p99) / ns(l.p50);
      const double sigma = ratio > 1.0 ? std::log(ratio) / kZ99 : 0.0;
      return nanos(std::exp(mu + sigma * standardNormal(rng_)));
    }
    case LatencyDistribution::empirical: {
      if (l.samples.empty()) return Duration{0};
      const auto n = l.samples.size();
      const auto i = std::min(n - 1, static_cast<std::size_t>(rng_.uniform() * static_cast<double>(n)));
      return l.samples[i];
    }
  }
  return Duration{0};
}

RequestPlan Behaviour::planRequest(Instant /*now*/) {
  RequestPlan plan;
  const double error_rate = faults_.error_rate.value_or(spec_.error_rate);
  // Always two draws in the same order, so a seed reproduces a run.
  const bool error = rng_.uniform() < error_rate;
  const Duration service = drawServiceTime();
  plan.status = error ? spec_.error_status : 200;
  if (!faults_.hang.value_or(false)) {
    plan.service_time = service + faults_.extra_latency.value_or(Duration{0});
  }
  plan.close_connection = closeConnections();
  ++in_flight_;
  return plan;
}

bool Behaviour::closeConnections() const {
  return phase_ == ShutdownPhase::draining && spec_.shutdown.close_keepalive;
}

void Behaviour::handle(const Event& event, Instant now) {
  if (phase_ == ShutdownPhase::exited) return;
  if (const auto* s = std::get_if<SignalReceived>(&event)) {
    onSignal(s->signal, now);
  } else if (std::holds_alternative<RequestFinished>(event)) {
    onRequestFinished(now);
  } else if (const auto* f = std::get_if<FaultInjected>(&event)) {
    if (f->error_rate) faults_.error_rate = f->error_rate;
    if (f->extra_latency) faults_.extra_latency = f->extra_latency;
    if (f->hang) faults_.hang = f->hang;
    push(Note{"fault injected"});
  } else if (std::holds_alternative<Healed>(event)) {
    faults_ = FaultInjected{};
    push(Note{"healed"});
  }
}

void Behaviour::onSignal(Signal signal, Instant now) {
  const std::string name(signalName(signal));
  if (phase_ != ShutdownPhase::none) {
    push(Note{name + " ignored: already shutting down"});
    return;
  }
  switch (spec_.shutdown.on_sigterm) {
    case OnSigterm::ignore:
      push(Note{name + " ignored"});
      return;
    case OnSigterm::immediate:
      exit(128 + signalNumber(signal), true, name + ": immediate");
      return;
    case OnSigterm::graceful:
      push(Note{name + ": graceful, pre-stop " + formatDuration(spec_.shutdown.pre_stop_delay)});
      if (spec_.shutdown.pre_stop_delay.count() > 0) {
        phase_ = ShutdownPhase::pre_stop;
        pre_stop_end_ = now + spec_.shutdown.pre_stop_delay;
      } else {
        startDrain(now);
      }
      return;
  }
}

void Behaviour::onRequestFinished(Instant /*now*/) {
  CUTOVER_ASSERT(in_flight_ > 0);
  --in_flight_;
  if (phase_ == ShutdownPhase::draining && in_flight_ == 0) exit(kExitClean, false, "drained");
}

void Behaviour::startDrain(Instant now) {
  phase_ = ShutdownPhase::draining;
  pre_stop_end_.reset();
  drain_deadline_ = now + spec_.shutdown.drain_timeout;
  ready_ = false;
  push(FailReadiness{});
  push(CloseListener{});
  push(CloseIdleConnections{});
  if (in_flight_ == 0) exit(kExitClean, false, "drained");
}

void Behaviour::exit(int code, bool reset, std::string reason) {
  phase_ = ShutdownPhase::exited;
  pre_stop_end_.reset();
  drain_deadline_.reset();
  push(Exit{code, reset, std::move(reason)});
}

void Behaviour::onTimeout(Instant now) {
  if (phase_ == ShutdownPhase::none) {
    if (!listening_ && now >= listen_at_) {
      listening_ = true;
      ready_at_ = listen_at_ + spec_.startup.ready_after;
      push(OpenListener{});
    }
    if (listening_ && !ready_ && ready_at_ && now >= *ready_at_) {
      ready_ = true;
      push(BecomeReady{});
    }
  }
  if (phase_ == ShutdownPhase::pre_stop && pre_stop_end_ && now >= *pre_stop_end_) startDrain(now);
  if (phase_ == ShutdownPhase::draining && drain_deadline_ && now >= *drain_deadline_) {
    exit(kExitDrainTimeout, true,
         "drain timeout with " + std::to_string(in_flight_) + " in flight");
  }
}

std::optional<Instant> Behaviour::nextDeadline() const {
  switch (phase_) {
    case ShutdownPhase::none:
      if (!listening_) return listen_at_;
      if (!ready_) return ready_at_;
      return std::nullopt;
    case ShutdownPhase::pre_stop:
      return pre_stop_end_;
    case ShutdownPhase::draining:
      return drain_deadline_;
    case ShutdownPhase::exited:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Action> Behaviour::pollAction() {
  CUTOVER_ASSERT(actions_.size() <= kMaxQueuedActions);
  if (actions_.empty()) return std::nullopt;
  Action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

Result<Event> parseControlCommand(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  if (line == "heal") return Event{Healed{}};
  if (line == "fault hang") return Event{FaultInjected{std::nullopt, std::nullopt, true}};
  constexpr std::string_view kRate = "fault error_rate=";
  constexpr std::string_view kLatency = "fault latency=+";
  if (line.starts_with(kRate)) {
    const auto text = line.substr(kRate.size());
    double v = -1;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || !(v >= 0.0 && v <= 1.0)) {
      return Error{"control: error_rate must be a number in [0, 1]: '" + std::string(text) + "'"};
    }
    return Event{FaultInjected{v, std::nullopt, std::nullopt}};
  }
  if (line.starts_with(kLatency)) {
    const auto d = parseDuration(line.substr(kLatency.size()));
    if (!d) return Error{"control: bad latency '" + std::string(line.substr(kLatency.size())) + "'"};
    return Event{FaultInjected{std::nullopt, *d, std::nullopt}};
  }
  return Error{"control: unknown command '" + std::string(line) + "'"};
}

}  // namespace cutover::service
