// The engine's services (one Behaviour per instance) and the switcher Core's
// timer, events and health checks (theory in engine.hpp).
#include <algorithm>

#include "sim/core/assert.hpp"
#include "sim/des/engine.hpp"
#include "sim/scenario/run_support.hpp"

namespace cutover::des::detail {
namespace {

// POSIX numbers, without <signal.h> (the sim touches no process).
constexpr int kSigHup = 1;
constexpr int kSigInt = 2;
constexpr int kSigQuit = 3;
constexpr int kSigKill = 9;
constexpr int kSigTerm = 15;
constexpr int kSigCont = 18;

}  // namespace

void Sim::startPool(const std::string& pool) {
  const auto* g = sc_.service(pool);
  CUTOVER_ASSERT(g != nullptr);  // checked by the loader
  for (int k = 1; k <= g->instances; ++k) spawnInstance(*g, k);
}

void Sim::spawnInstance(const scenario::ServiceGroup& g, int number) {
  const auto i = static_cast<std::uint32_t>(insts_.size());
  Inst in;
  in.group = &g;
  in.number = number;
  in.info.id = g.name + "-" + std::to_string(number);
  in.info.pool = g.name;
  in.info.version = g.behaviour.version;
  in.port = static_cast<std::uint16_t>(20000 + i);  // a label for the Core; no socket
  in.info.port = in.port;
  in.name_instance = nameId(in.info.id);
  in.name_version = nameId(in.info.version);
  in.spawned = now_;
  in.alive = true;
  Rng root(seed_);
  in.model = std::make_unique<service::Behaviour>(g.behaviour, root.split(1000 + i), fromNanos(now_));
  insts_.push_back(std::move(in));
  event(now_, "runner", "spawned", insts_[i].info.id, "sim");
  q_.push(now_ + (g.behaviour.startup.listen_after + g.ready_timeout).count(), kReadyDeadline, i);
  pumpInstance(i);
}

// As the live runner: more instances start; surplus ones (highest number
// first) leave the switcher, then get their stop signal and SIGKILL after the grace.
void Sim::scale(const scenario::ScaleAction& a) {
  const auto* g = sc_.service(a.pool);
  CUTOVER_ASSERT(g != nullptr);
  core_.addPool(a.pool, static_cast<std::size_t>(a.instances));  // the `all` gate's count
  std::vector<std::uint32_t> live;
  int highest = 0;
  for (std::uint32_t i = 0; i < insts_.size(); ++i) {
    const Inst& in = insts_[i];
    if (in.info.pool != a.pool) continue;
    highest = std::max(highest, in.number);
    if (in.alive && !in.failed && !in.stopping) live.push_back(i);
  }
  const int have = static_cast<int>(live.size());
  if (a.instances > have) {
    for (int k = 0; k < a.instances - have; ++k) spawnInstance(*g, highest + 1 + k);
    return;
  }
  std::sort(live.begin(), live.end(), [&](auto x, auto y) { return insts_[x].number > insts_[y].number; });
  for (int k = 0; k < have - a.instances; ++k) {
    const auto i = live[static_cast<std::size_t>(k)];
    insts_[i].stopping = true;
    core_.removeBackend(insts_[i].info.id, fromNanos(now_));
    afterCore(true);
    event(now_, "runner", "scaled_down", insts_[i].info.id,
          "removed from the switcher, then " + insts_[i].group->stop_signal_name);
    signal(i, insts_[i].group->stop_signal, insts_[i].group->stop_signal_name);
    if (insts_[i].alive) q_.push(now_ + insts_[i].group->stop_grace.count(), kKillAt, i);
  }
}

void Sim::armInstance(std::uint32_t i) {
  Inst& in = insts_[i];
  if (!in.alive || !in.model->hasDeadline()) return;
  const std::int64_t at = std::max(now_, toNanos(in.model->deadline()));
  if (in.timer_at && *in.timer_at == at) return;
  in.timer_at = at;
  q_.push(at, kInstanceTimer, i, ++in.timer_gen);
}

// Carries the model's actions out, then re-arms its timer.
void Sim::pumpInstance(std::uint32_t i) {
  if (!insts_[i].model->hasActions()) return armInstance(i);  // the common case: a request came or went
  for (int n = 0; n < 1024 && insts_[i].alive; ++n) {
    auto action = insts_[i].model->pollAction();
    if (!action) break;
    if (std::holds_alternative<service::BecomeReady>(*action)) {
      probeReady(i);
    } else if (std::holds_alternative<service::CloseIdleConnections>(*action)) {
      insts_[i].idle_upstream = 0;
      closePinnedIdle(i);
    } else if (const auto* start = std::get_if<service::StartRequest>(&*action)) {
      auto& queued = insts_[i].queued;
      const auto it = queued.find(start->id);
      CUTOVER_ASSERT(it != queued.end());
      const std::uint32_t x = it->second;
      queued.erase(it);
      startService(x);
    } else if (const auto* exit = std::get_if<service::Exit>(&*action)) {
      exitInstance(i, "code " + std::to_string(exit->code), exit->reset_in_flight);
    }
    // OpenListener/CloseListener: read through listenerOpen(); FailReadiness:
    // through health(); Note, ResumePaused: nothing to carry (pause holds
    // responses in the live shell; not modeled, see docs/simulation.md).
  }
  armInstance(i);
}

// The live runner adds a backend once its /health answers 200 (after the
// service's health.delay; one slower than the probe's timeout is a failure),
// and asks again on its loop's next pass until then (kReadyProbe).
void Sim::probeReady(std::uint32_t i) {
  const auto answer = insts_[i].model->health(fromNanos(now_));
  const bool answered = answer.delay < scenario::kReadinessProbeTimeout;
  if (answered && answer.status == 200) {
    if (answer.delay == Duration::zero()) markReady(i);
    else q_.push(now_ + answer.delay.count(), kReadyAnswer, i);
    return;
  }
  const Duration took = answered ? answer.delay : scenario::kReadinessProbeTimeout;
  q_.push(now_ + (took + scenario::kReadinessProbeEvery).count(), kReadyProbe, i);
}

void Sim::markReady(std::uint32_t i) {
  Inst& in = insts_[i];
  if (in.ready || in.failed) return;
  in.ready = true;
  in.ready_ns = now_;
  event(now_, "service", "ready", in.info.id, "sim:" + std::to_string(in.port));
  if (!core_.addBackend(in.info.pool, in.info.id, in.port, fromNanos(now_), true)) {
    // The Core's slots (switcher max_backends) are full: say so, never drop it silently.
    invalid_.push_back("the switcher holds at most " + std::to_string(sc_.switcher.core.max_backends) +
                       " backends: " + in.info.id + " was not added");
    return;
  }
  if (const auto id = core_.findBackend(in.info.id)) {
    CUTOVER_ASSERT(*id < inst_of_backend_.size());
    in.backend = *id;
    inst_of_backend_[*id] = i;
  }
  afterCore(true);
}

// The process is gone: what it held in service is reset (the switcher sees
// it one hop later), its idle connections close, connects are refused.
void Sim::exitInstance(std::uint32_t i, const std::string& exit, bool reset_in_flight) {
  Inst& in = insts_[i];
  if (!in.alive) return;
  in.alive = false;
  in.exited_ns = now_;
  in.info.exit = exit;
  in.idle_upstream = 0;
  event(now_, stopping_ ? "runner" : "service", stopping_ ? "stopped" : "exited", in.info.id, exit);
  closePinnedIdle(i);
  if (!in.ready && !in.failed) {
    in.failed = true;
    invalid_.push_back("service " + in.info.id + " exited before it was ready (" + exit + ")");
  }
  CUTOVER_ASSERT(reset_in_flight || in.in_service.empty());
  const auto held = std::move(in.in_service);
  in.in_service.clear();
  in.queued.clear();
  for (const auto x : held) {
    Exchange& ex = ex_[x];
    ex.pos = kNone;
    if (ex.abandoned) {  // the switcher gave up on it already: nothing goes back
      freeExchange(x);
      continue;
    }
    ++ex.gen;  // its ServiceDone / UpstreamTimeout will not happen
    logService(ex, now_, "exit_reset");
    ex.result = UpResult::no_bytes_reset;
    q_.push(now_ + hop_ns_, kAtSwitcherResponse, x, ex.gen, hop_lane_);
  }
}

void Sim::kill(std::uint32_t i) { exitInstance(i, "signal " + std::to_string(kSigKill), true); }

// As the live fake service: SIGTERM and SIGINT go to its Behaviour; SIGHUP
// and SIGQUIT, which it does not catch, end it at once (their default
// action), as SIGKILL does; SIGCONT to a running process does nothing.
void Sim::signal(std::uint32_t i, int signo, const std::string& name) {
  if (!insts_[i].alive) return;
  if (signo == kSigKill || signo == kSigHup || signo == kSigQuit)
    return exitInstance(i, "signal " + std::to_string(signo), true);
  if (signo == kSigCont) return;
  if (signo != kSigTerm && signo != kSigInt) {
    event(now_, "runner", "signal_not_modeled", insts_[i].info.id, name);
    return;
  }
  const auto s = signo == kSigTerm ? service::Signal::term : service::Signal::interrupt;
  insts_[i].model->handle(service::SignalReceived{s}, fromNanos(now_));
  pumpInstance(i);
}

// The Core's events and actions, carried out; whether it said anything.
bool Sim::takeCoreOutput() {
  bool said = false;
  for (int n = 0; n < 65536; ++n) {
    auto e = core_.pollEvent();
    if (!e) break;
    said = true;
    if (e->kind == "switched" || e->kind == "rollback") active_ = e->pool;
    // As the live runner: a pending switch ends switched, or refused at its deadline.
    if (e->kind == "switched" && e->pool == pending_switch_) pending_switch_.clear();
    if (e->kind == "switch_refused" && !pending_switch_.empty() && e->pool == pending_switch_) {
      invalid_.push_back("switch to " + pending_switch_ + " never happened: " + e->detail);
      pending_switch_.clear();
    }
    event(toNanos(e->at), "switcher", e->kind, e->pool, e->detail);
    if (conditions_) {
      conditions_->observe(e->kind, e->pool, Duration(toNanos(e->at) - t0_));
      conditions_dirty_ = true;
    }
  }
  for (int n = 0; n < 65536; ++n) {
    auto a = core_.pollAction();
    if (!a) break;
    if (const auto* c = std::get_if<switcher::StartHealthCheck>(&*a)) startHealthCheck(*c);
  }
  return said;
}

// Takes the Core's events and actions; re-arms its timer when it may have
// moved (`rearm`, or whenever the Core said something).
void Sim::afterCore(bool rearm) {
  if (core_.hasOutput() && takeCoreOutput()) rearm = true;
  if (!rearm) return;
  const auto next = core_.nextDeadline();
  if (!next) return;
  const std::int64_t at = std::max(now_, toNanos(*next));
  if (core_at_ && *core_at_ <= at) return;  // the armed one fires first; onTimeout then re-arms
  core_at_ = at;
  q_.push(at, kCoreTimer, 0, ++core_gen_);
}

// A check is a fresh connection, GET path, the model's /health answer after
// its delay, bounded by the check timeout.
void Sim::startHealthCheck(const switcher::StartHealthCheck& c) {
  std::uint32_t pc;
  if (!free_checks_.empty()) {
    pc = free_checks_.back();
    free_checks_.pop_back();
  } else {
    pc = static_cast<std::uint32_t>(checks_.size());
    checks_.emplace_back();
  }
  PendingCheck& p = checks_[pc];
  p = PendingCheck{};
  p.backend = c.backend;
  p.check = c.check;
  p.inst = c.backend < inst_of_backend_.size() ? inst_of_backend_[c.backend] : kNone;
  p.started = now_;
  const std::int64_t timeout = core_.options().health_check.timeout.count();
  if (connect_ns_ + hop_ns_ > timeout) {  // the check gives up before it can reach the service
    p.detail = "timeout";
    q_.push(now_ + timeout, kHealthDone, pc);
    return;
  }
  q_.push(now_ + connect_ns_ + hop_ns_, kHealthAtService, pc);
}

void Sim::onHealthAtService(std::uint32_t pc) {
  PendingCheck& p = checks_[pc];
  const std::int64_t timeout = core_.options().health_check.timeout.count();
  if (p.inst == kNone || !insts_[p.inst].alive || !insts_[p.inst].model->listenerOpen()) {
    p.detail = "connect refused";
    q_.push(now_, kHealthDone, pc);
    return;
  }
  const auto answer = insts_[p.inst].model->health(fromNanos(now_));
  const std::int64_t back = now_ + answer.delay.count() + hop_ns_;
  if (back - p.started > timeout) {
    p.detail = "timeout";
    q_.push(p.started + timeout, kHealthDone, pc);
    return;
  }
  p.passed = answer.status >= 200 && answer.status < 300;
  if (!p.passed) p.detail = "status " + std::to_string(answer.status);
  q_.push(back, kHealthDone, pc);
}

void Sim::onHealthDone(std::uint32_t pc) {
  const PendingCheck p = checks_[pc];
  free_checks_.push_back(pc);
  core_.onHealthCheckResult(p.backend, p.check, p.passed, fromNanos(now_), p.detail);
  afterCore(true);
}

}  // namespace cutover::des::detail
