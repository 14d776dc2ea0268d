#include "fake-services/behaviour.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/core/ziggurat.hpp"

namespace cutover::service {
namespace {

// z of the 99th percentile of the standard normal distribution.
constexpr double kZ99 = 2.3263;

Duration nanos(double ns) {
  if (!(ns > 0.0)) return Duration{0};
  constexpr double kMaxNs = 1e15;  // ~11.6 days: far beyond any sane service time
  return Duration{roundNonNegative(std::min(ns, kMaxNs))};
}

double ns(Duration d) { return static_cast<double>(d.count()); }

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
    std::string_view operator()(const StartRequest&) const { return "start-request"; }
    std::string_view operator()(const ResumePaused&) const { return "resume-paused"; }
  };
  return std::visit(Visitor{}, action);
}

Duration meanServiceTime(const LatencySpec& l) {
  switch (l.distribution) {
    case LatencyDistribution::fixed: return l.value;
    case LatencyDistribution::uniform: return (l.min + l.max) / 2;
    case LatencyDistribution::normal: {
      // A draw below 0 is served in 0 (nanos() clamps): the mean of
      // max(0, X) for X ~ N(mu, sd), mu Phi(mu/sd) + sd phi(mu/sd), above mu
      // when the spread is wide (p50 10 ms, p99 50 ms: 13.0 ms, not 10).
      const double mu = ns(l.p50), sd = std::max(0.0, ns(l.p99) - ns(l.p50)) / kZ99;
      if (sd <= 0) return nanos(mu);
      const double z = mu / sd;
      const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
      const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2.0 * 3.14159265358979323846);
      return nanos(mu * cdf + sd * pdf);
    }
    case LatencyDistribution::lognormal: {
      if (l.p50.count() <= 0) return Duration{0};
      const double ratio = ns(l.p99) / ns(l.p50);
      const double sigma = ratio > 1.0 ? std::log(ratio) / kZ99 : 0.0;
      return nanos(ns(l.p50) * std::exp(sigma * sigma / 2));
    }
    case LatencyDistribution::empirical: {
      if (l.samples.empty()) return Duration{0};
      double sum = 0;
      for (const auto d : l.samples) sum += ns(d);
      return nanos(sum / static_cast<double>(l.samples.size()));
    }
  }
  return Duration{0};
}

Behaviour::Behaviour(const BehaviourSpec& spec, Rng rng, Instant started)
    : spec_(spec), rng_(rng), listen_at_(started + spec.startup.listen_after) {}

Duration Behaviour::drawServiceTime(const LatencySpec& l) {
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
      // mu and sigma of the last (p50, p99) seen: the same two logs every
      // request were a third of the simulator's time drawing service times.
      if (l.p50 != lognormal_.p50 || l.p99 != lognormal_.p99) {
        const double ratio = ns(l.p99) / ns(l.p50);
        lognormal_ = {l.p50, l.p99, std::log(ns(l.p50)), ratio > 1.0 ? std::log(ratio) / kZ99 : 0.0};
      }
      return nanos(std::exp(lognormal_.mu + lognormal_.sigma * standardNormal(rng_)));
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

RequestPlan Behaviour::planRequest(Instant now, std::string_view path) {
  const PathOverride* over = nullptr;
  for (const auto& p : spec_.paths) {
    if (path.starts_with(p.prefix)) {
      over = &p;
      break;
    }
  }
  const LatencySpec& latency = over && over->latency ? *over->latency : spec_.latency;
  double error_rate = over && over->error_rate ? *over->error_rate : spec_.error_rate;
  error_rate = faults_.error_rate.value_or(error_rate);
  if (healthMode() == HealthMode::lying) error_rate = 1.0;
  const std::uint16_t error_status = over && over->error_status ? *over->error_status : spec_.error_status;

  RequestPlan plan;
  plan.id = next_id_++;
  // Always two draws in the same order, so a seed reproduces a run.
  const bool error = rng_.uniform() < error_rate;
  Duration service = drawServiceTime(latency);
  const bool warm = spec_.startup.warmup.count() > 0 &&
                    (!ready_at_ || now < *ready_at_ + spec_.startup.warmup);
  if (warm) service = nanos(ns(service) * spec_.startup.warmup_factor);
  plan.status = error ? error_status : 200;
  if (!faults_.hang.value_or(false)) {
    plan.service_time = service + faults_.extra_latency.value_or(Duration{0});
  }
  if (faults_.reset.value_or(false)) plan.ending = Ending::reset;
  if (faults_.close.value_or(false)) plan.ending = Ending::close;
  plan.close_connection = closeConnections();
  admit(plan);
  return plan;
}

// Capacity: decides plan.start and counts the request in flight.
void Behaviour::admit(RequestPlan& plan) {
  const CapacitySpec& c = spec_.capacity;
  if (c.max_in_flight == 0 || serving_ < c.max_in_flight) {
    plan.start = Start::now;
    ++serving_;
    syncListener();
    return;
  }
  if (c.overflow == Overflow::refuse) {
    plan.start = Start::refuse;
    return;
  }
  if (c.overflow == Overflow::queue && queue_.size() < std::min(c.queue_length, kMaxQueueLength)) {
    plan.start = Start::queued;
    queue_.push_back(plan.id);
    return;
  }
  plan.start = Start::reject;
  plan.status = c.overflow_status;
  plan.service_time = Duration{0};
  plan.ending = Ending::respond;
}

void Behaviour::startQueued() {
  const std::size_t max = spec_.capacity.max_in_flight;
  for (std::size_t i = 0; i < kMaxQueueLength && !queue_.empty() && (max == 0 || serving_ < max); ++i) {
    const auto id = queue_.front();
    queue_.pop_front();
    ++serving_;
    push(StartRequest{id});
  }
}

bool Behaviour::wantListener() const {
  if (!listening_) return false;
  if (phase_ != ShutdownPhase::none && phase_ != ShutdownPhase::pre_stop) return false;
  if (faults_.refuse.value_or(false)) return false;
  const CapacitySpec& c = spec_.capacity;
  return !(c.overflow == Overflow::refuse && c.max_in_flight > 0 && serving_ >= c.max_in_flight);
}

void Behaviour::syncListener() {
  const bool want = wantListener();
  if (want == listener_open_) return;
  listener_open_ = want;
  if (want) push(OpenListener{});
  else push(CloseListener{});
}

HealthAnswer Behaviour::health(Instant now) const {
  HealthAnswer a;
  a.delay = spec_.health.delay;
  const bool up = ready();
  switch (healthMode()) {
    case HealthMode::healthy:
      a.status = up ? 200 : 503;
      break;
    case HealthMode::failing:
      a.status = 503;
      break;
    case HealthMode::lying:
      a.status = 200;
      break;
    case HealthMode::flapping: {
      const auto half = std::max(Duration{1}, spec_.health.flap_period / 2);
      const bool first_half = ready_at_ && ((now - *ready_at_) / half) % 2 == 0;
      a.status = up && first_half ? 200 : 503;
      break;
    }
  }
  return a;
}

bool Behaviour::closeConnections() const {
  // From SIGTERM on: through the pre-stop delay every client on a kept-alive
  // connection is told to go (and reconnects through the switcher) while
  // this process still serves; by the drain few connections are left to close.
  return (phase_ == ShutdownPhase::pre_stop || phase_ == ShutdownPhase::draining) && spec_.shutdown.close_keepalive;
}

void Behaviour::handle(const Event& event, Instant now) {
  if (phase_ == ShutdownPhase::exited) return;
  if (const auto* s = std::get_if<SignalReceived>(&event)) {
    onSignal(s->signal, now);
  } else if (const auto* r = std::get_if<RequestFinished>(&event)) {
    onRequestFinished(r->id, now);
  } else if (const auto* f = std::get_if<FaultInjected>(&event)) {
    onFault(*f, now);
  } else if (std::holds_alternative<Healed>(event)) {
    const bool was_paused = paused();
    faults_ = FaultInjected{};
    push(Note{"healed"});
    if (was_paused) push(ResumePaused{});
    syncListener();
  }
}

void Behaviour::onFault(const FaultInjected& f, Instant /*now*/) {
  if (f.crash.value_or(false)) {
    exit(kExitCrash, true, "crash fault", /*crash=*/true);
    return;
  }
  const bool was_paused = paused();
  const auto set = [](auto& into, const auto& from) {
    if (from) into = from;
  };
  set(faults_.error_rate, f.error_rate);
  set(faults_.extra_latency, f.extra_latency);
  set(faults_.hang, f.hang);
  set(faults_.close, f.close);
  set(faults_.reset, f.reset);
  set(faults_.refuse, f.refuse);
  set(faults_.pause, f.pause);
  set(faults_.health, f.health);
  push(Note{"fault injected"});
  if (was_paused && !paused()) push(ResumePaused{});
  syncListener();
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

void Behaviour::onRequestFinished(std::uint64_t id, Instant /*now*/) {
  if (const auto it = std::find(queue_.begin(), queue_.end(), id); id != 0 && it != queue_.end()) {
    queue_.erase(it);  // its connection died while it waited
  } else {
    CUTOVER_ASSERT(serving_ > 0);
    --serving_;
    startQueued();
  }
  syncListener();
  if (phase_ == ShutdownPhase::draining && inFlight() == 0) exit(kExitClean, false, "drained");
}

void Behaviour::startDrain(Instant now) {
  phase_ = ShutdownPhase::draining;
  pre_stop_end_.reset();
  drain_deadline_ = now + spec_.shutdown.drain_timeout;
  ready_ = false;
  listener_open_ = false;
  push(FailReadiness{});
  push(CloseListener{});
  push(CloseIdleConnections{});
  if (inFlight() == 0) exit(kExitClean, false, "drained");
}

void Behaviour::exit(int code, bool reset, std::string reason, bool crash) {
  phase_ = ShutdownPhase::exited;
  listener_open_ = false;
  pre_stop_end_.reset();
  drain_deadline_.reset();
  push(Exit{code, reset, std::move(reason), crash});
}

void Behaviour::onTimeout(Instant now) {
  if (phase_ == ShutdownPhase::none) {
    if (!listening_ && now >= listen_at_) {
      listening_ = true;
      ready_at_ = listen_at_ + spec_.startup.ready_after;
      syncListener();
    }
    if (listening_ && !ready_ && ready_at_ && now >= *ready_at_) {
      ready_ = true;
      push(BecomeReady{});
    }
  }
  if (phase_ == ShutdownPhase::pre_stop && pre_stop_end_ && now >= *pre_stop_end_) startDrain(now);
  if (phase_ == ShutdownPhase::draining && drain_deadline_ && now >= *drain_deadline_) {
    exit(kExitDrainTimeout, true,
         "drain timeout with " + std::to_string(inFlight()) + " in flight");
  }
}

std::optional<Action> Behaviour::pollAction() {
  CUTOVER_ASSERT(actions_.size() <= kMaxQueuedActions);
  if (actions_.empty()) return std::nullopt;
  Action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

}  // namespace cutover::service
