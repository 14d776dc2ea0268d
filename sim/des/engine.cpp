// The engine's loop, setup, timeline and end of run (theory in engine.hpp).
#include "sim/des/engine.hpp"

#include "sim/scenario/run_support.hpp"

#include <algorithm>
#include <csignal>
#include <numeric>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "sim/core/assert.hpp"
#include "sim/core/signal_name.hpp"
#include "sim/core/units.hpp"

namespace cutover::des::detail {
namespace {

using namespace std::chrono_literals;

// Virtual time starts at 1 s so that 0 keeps meaning "did not happen" in records.
constexpr std::int64_t kEpochNs = 1'000'000'000;

// A child generator per component, independent of the order components are made in.
Rng childRng(std::uint64_t seed, std::uint64_t stream) {
  Rng root(seed);
  return root.split(stream);
}

// The records of a long run are the engine's largest memory (64 B each):
// huge pages spare it one page fault per 64 records (a hint; ignored where
// unsupported).
template <class T>
void adviseHugePages(std::vector<T>& v) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = 2u << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
  const std::uintptr_t end = begin + v.capacity() * sizeof(T);
  const std::uintptr_t a = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t z = end & ~(kHuge - 1);
  if (z > a) (void)madvise(reinterpret_cast<void*>(a), z - a, MADV_HUGEPAGE);
#else
  (void)v;
#endif
}

}  // namespace

Sim::Sim(const scenario::Scenario& s, const SimOptions& o)
    : sc_(s),
      opt_(o),
      seed_(o.seed.value_or(s.seed)),
      hop_ns_(o.network.hop.count()),
      connect_ns_(o.network.connect.count()),
      core_(s.switcher.core, childRng(seed_, 1)) {
  hop_lane_ = q_.addLane();
  connect_lane_ = q_.addLane();
  connect_hop_lane_ = q_.addLane();
  const auto& c = s.switcher.core;
  core_hot_ = c.outlier.consecutive_5xx > 0 || !c.rollback.on.empty();
  inst_of_backend_.assign(c.max_backends, kNone);
  l4_ = c.mode == switcher::Mode::l4;
}

void Sim::event(std::int64_t at, std::string source, std::string kind, std::string target, std::string detail) {
  events_.push_back({0.0, std::move(source), std::move(kind), std::move(target), std::move(detail)});
  event_ns_.push_back(at);
}

std::uint16_t Sim::nameId(const std::string& name) {
  const auto [it, added] = name_index_.emplace(name, static_cast<std::uint16_t>(names_.size()));
  if (added) {
    CUTOVER_ASSERT(names_.size() < kNoName);
    names_.push_back(name);
  }
  return it->second;
}

std::vector<std::uint32_t> Sim::targets(const std::string& target) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < insts_.size(); ++i)
    if ((insts_[i].info.pool == target || insts_[i].info.id == target) && insts_[i].alive) out.push_back(i);
  return out;
}

bool Sim::loadsDone() const {
  return std::all_of(blocks_.begin(), blocks_.end(),
                     [](const Block& b) { return b.arrivals_done && b.outstanding == 0; });
}

template <class Pred>
void Sim::loop(Pred done) {
  while (!aborted_ && !done() && !q_.empty()) {
    const SimEvent e = q_.pop();
    CUTOVER_ASSERT(e.t >= now_);
    now_ = e.t;
    if ((steps_ & 0xFFF) == 0 && opt_.interrupted && opt_.interrupted->load(std::memory_order_relaxed) != 0) {
      const int sig = opt_.interrupted->load(std::memory_order_relaxed);
      invalid_.push_back("interrupted by " + interruptSignalName(sig) + " at " + formatDuration(Duration{now_ - t0_}) +
                         " of virtual time");
      aborted_ = true;
      return;
    }
    if (++steps_ > opt_.max_events || now_ > hard_end_) {
      invalid_.push_back(steps_ > opt_.max_events ? "simulation stopped: more than max_events steps"
                                                  : "simulation stopped: virtual time past the run's bound");
      aborted_ = true;
      return;
    }
    dispatch(e);
    if (conditions_dirty_) checkConditions();
  }
}

void Sim::dispatch(const SimEvent& e) {
  switch (e.kind()) {
    case kArrival: {
      const Block& b = blocks_[e.target];
      if (b.closed && e.gen != b.closed_timer_gen) return;  // re-armed for an earlier worker
      return onArrival(static_cast<std::uint16_t>(e.target));
    }
    case kClientTimeout: return onClientTimeouts(static_cast<std::uint16_t>(e.target));
    case kAtSwitcher: return onAtSwitcher(e.target);
    case kConnectResult:
      if (ex_[e.target].gen == e.gen) onConnectResult(e.target);
      return;
    case kAtService:
      if (ex_[e.target].gen == e.gen) onAtService(e.target);
      return;
    case kServiceDone:
      if (ex_[e.target].gen == e.gen) onServiceDone(e.target);
      return;
    case kUpstreamTimeout:
      if (ex_[e.target].gen == e.gen) onUpstreamTimeout(e.target);
      return;
    case kAtSwitcherResponse:
      if (ex_[e.target].gen == e.gen) onAtSwitcherResponse(e.target);
      return;
    case kAtClient: return onAtClient(static_cast<std::uint16_t>(e.target >> 24), e.target & 0xFFFFFF, e.gen);
    case kInstanceTimer: {
      Inst& in = insts_[e.target];
      if (e.gen != in.timer_gen || !in.alive) return;
      in.timer_at.reset();
      in.model->onTimeout(fromNanos(now_));
      pumpInstance(e.target);
      return;
    }
    case kReadyDeadline: {
      Inst& in = insts_[e.target];
      if (in.ready || in.failed || !in.alive) return;
      in.failed = true;
      const Duration limit = in.group->behaviour.startup.listen_after + in.group->ready_timeout;
      invalid_.push_back("service " + in.info.id + " never became ready within " + formatDuration(limit));
      event(now_, "runner", "not_ready", in.info.id, "readiness timeout");
      return;
    }
    case kReadyProbe:
    case kReadyAnswer: {
      const Inst& in = insts_[e.target];
      if (in.ready || in.failed || !in.alive || stopping_) return;
      return e.kind() == kReadyProbe ? probeReady(e.target) : markReady(e.target);
    }
    case kKillAt: {
      Inst& in = insts_[e.target];
      if (!in.alive) return;
      if (!stopping_) event(now_, "runner", "killed", in.info.id, "still running after the grace period");
      kill(e.target);
      return;
    }
    case kCoreTimer:
      if (e.gen != core_gen_) return;
      core_at_.reset();
      core_.onTimeout(fromNanos(now_));
      afterCore(true);
      return;
    case kHealthAtService: return onHealthAtService(e.target);
    case kHealthDone: return onHealthDone(e.target);
    case kTimelineStep: return fireStep(sc_.timeline[e.target]);
    case kConditionCheck: conditions_dirty_ = true; return;
    case kWake: return;
    default: CUTOVER_ASSERT(false);
  }
}

// As the live runner: start the pools of the steps at 0 s, wait until their
// instances are ready; t0 is then, and the first of them becomes active.
bool Sim::setup() {
  // What this file asks for that the simulator stands in for, said in the
  // report's events (docs/simulation.md, docs/real-switchers.md).
  if (sc_.switcher.kind != "builtin")
    event(now_, "runner", "not_modeled", "switcher",
          "kind " + sc_.switcher.kind + ": simulated as the built-in switcher (run it live for " + sc_.switcher.kind + ")");
  for (const auto& g : sc_.services)
    if (!g.command.empty())
      event(now_, "runner", "not_modeled", g.name, "command: simulated as the fake service with this pool's keys");
  if (sc_.switcher.core.health_check.enabled && sc_.switcher.core.health_check.path != "/health")
    event(now_, "runner", "not_modeled", "switcher",
          "health_check.path " + sc_.switcher.core.health_check.path + ": checks ask the service model's health");
  // As the live runner: gates judge empty pools, `all` every declared instance.
  for (const auto& g : sc_.services) core_.addPool(g.name, static_cast<std::size_t>(g.instances));
  std::string first;
  for (const auto& step : sc_.timeline) {
    const auto* start = std::get_if<scenario::StartAction>(&step.action);
    if (step.at != Duration::zero() || !start || step.when) continue;  // as the live runner
    if (first.empty()) first = start->pool;
    startPool(start->pool);
  }
  for (auto& in : insts_) in.initial = true;
  loop([&] {
    return std::none_of(insts_.begin(), insts_.end(),
                        [](const Inst& in) { return in.initial && !in.ready && !in.failed && in.alive; });
  });
  if (!invalid_.empty() || aborted_) return false;
  if (first.empty()) {
    invalid_.push_back("no pool is started at 0s");
    return false;
  }
  const auto r = core_.switchTo(first, fromNanos(now_));
  afterCore(true);
  if (!r.ok) {
    invalid_.push_back("initial pool " + first + " not accepted by the switcher: " + r.reason);
    return false;
  }
  active_ = first;
  return true;
}

void Sim::startLoads() {
  for (std::size_t i = 0; i < sc_.load.size(); ++i) {
    const auto& spec = sc_.load[i];
    Block b;
    b.spec = &spec;
    b.connection_rng = childRng(seed_, 200 + i);
    const Duration length = scenario::blockLength(sc_, spec);
    b.length_s = toSeconds(length);
    const Instant start = fromNanos(t0_) + spec.start;
    if (spec.model == scenario::LoadModel::closed)
      b.closed = scenario::makeClosedLoop(spec, start, length, childRng(seed_, 100 + i));
    else
      b.arrivals = scenario::makeArrivals(spec, start, length, childRng(seed_, 100 + i));
    b.next_request_id = (static_cast<std::uint64_t>(i) << 40) + 1;
    b.records.reserve(std::min<std::size_t>(opt_.max_requests, scenario::expectedRequests(sc_, spec)));
    adviseHugePages(b.records);
    b.arrival_lane = q_.addLane();
    blocks_.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    Block& b = blocks_[i];
    if (b.closed) {
      pumpClosed(static_cast<std::uint16_t>(i));  // sends what is due now, arms the timer for the rest
      continue;
    }
    if (const auto next = b.arrivals->next()) q_.push(toNanos(*next), kArrival, static_cast<std::uint32_t>(i), 0, b.arrival_lane);
    else b.arrivals_done = true;
  }
}

void Sim::fireStep(const scenario::TimelineStep& step) {
  const Instant now = fromNanos(now_);
  if (const auto* a = std::get_if<scenario::StartAction>(&step.action)) {
    event(now_, "timeline", "start", a->pool);
    startPool(a->pool);
  } else if (const auto* s = std::get_if<scenario::SwitchAction>(&step.action)) {
    event(now_, "timeline", "switch", s->pool);
    const auto r = core_.switchTo(s->pool, now);
    afterCore(true);
    if (r.ok) {
      active_ = s->pool;
    } else if (r.pending) {
      pending_switch_ = s->pool;
    } else {
      invalid_.push_back("switch to " + s->pool + " never happened: " + r.reason);
      event(now_, "runner", "switch_failed", s->pool, r.reason);
    }
  } else if (const auto* sig = std::get_if<scenario::SignalAction>(&step.action)) {
    event(now_, "timeline", "signal", sig->target, sig->signal_name);
    for (const auto i : targets(sig->target)) signal(i, sig->signal, sig->signal_name);
  } else if (const auto* st = std::get_if<scenario::StopAction>(&step.action)) {
    event(now_, "timeline", "stop", st->target);
    for (const auto i : targets(st->target)) {
      insts_[i].stopping = true;  // as the live StopSchedule: out of `healthy:` and of a later scale's count
      signal(i, insts_[i].group->stop_signal, insts_[i].group->stop_signal_name);
      q_.push(now_ + insts_[i].group->stop_grace.count(), kKillAt, i);
    }
  } else if (const auto* f = std::get_if<scenario::FaultAction>(&step.action)) {
    event(now_, "timeline", "fault", f->target, f->text);
    if (std::find(f->commands.begin(), f->commands.end(), "fault pause") != f->commands.end())
      event(now_, "runner", "not_modeled", f->target, "fault pause: the instance goes on answering in the simulator");
    for (const auto i : targets(f->target)) {
      for (const auto& line : f->commands) {
        auto parsed = service::parseControlCommand(line);
        if (!parsed) {
          event(now_, "runner", "control_failed", insts_[i].info.id, line);
          continue;
        }
        insts_[i].model->handle(parsed.value(), now);
        pumpInstance(i);
      }
    }
  } else if (const auto* h = std::get_if<scenario::HealAction>(&step.action)) {
    event(now_, "timeline", "heal", h->target);
    for (const auto i : targets(h->target)) {
      insts_[i].model->handle(service::Healed{}, now);
      pumpInstance(i);
    }
  } else if (std::holds_alternative<scenario::RollbackAction>(step.action)) {
    event(now_, "timeline", "rollback", active_);
    const auto r = core_.rollback(now);
    afterCore(true);
    if (!r.ok) event(now_, "runner", "rollback_failed", active_, r.reason);
  } else if (const auto* sc = std::get_if<scenario::ScaleAction>(&step.action)) {
    event(now_, "timeline", "scale", sc->pool, "to " + std::to_string(sc->instances) + " instances");
    scale(*sc);
  }
}

bool Sim::poolHealthy(const std::string& pool) const {
  std::size_t expected = 0;
  for (const auto& in : insts_) {
    if (in.info.pool != pool || !in.alive || in.stopping) continue;
    if (!in.ready) return false;
    ++expected;
  }
  return expected > 0 && core_.healthyCount(pool) >= expected;
}

void Sim::checkConditions() {
  conditions_dirty_ = false;
  if (!conditions_) return;
  const Duration elapsed(now_ - t0_);
  for (const auto& step : conditions_->due(elapsed, [this](const std::string& p) { return poolHealthy(p); })) {
    event(now_, "timeline", "condition_met", step.when->text, scenario::describeAction(step.action));
    fireStep(step);
  }
  for (const auto& step : conditions_->missed(elapsed)) {
    const auto what = "step '" + scenario::describeAction(step.action) + "' waiting for '" + step.when->text +
                      "' did not happen: condition not met within " + formatDuration(step.when->within);
    event(now_, "timeline", "condition_missed", step.when->text, what);
    invalid_.push_back(what);
  }
}

// The end of the run, as the live supervisor's terminateAll: its stop signal
// (shutdown.stop_signal, SIGTERM by default) to every instance still alive,
// SIGKILL when its own pool's grace period ends.
void Sim::stopAll() {
  stopping_ = true;
  for (std::uint32_t i = 0; i < insts_.size(); ++i) {
    if (!insts_[i].alive) continue;
    signal(i, insts_[i].group->stop_signal, insts_[i].group->stop_signal_name);
    if (insts_[i].alive) q_.push(now_ + insts_[i].group->stop_grace.count(), kKillAt, i);
  }
  loop([&] { return std::none_of(insts_.begin(), insts_.end(), [](const Inst& in) { return in.alive; }); });
}

SimTrace Sim::run() {
  now_ = kEpochNs;
  Duration longest = 0s;
  for (const auto& l : sc_.load) longest = std::max(longest, l.timeout);
  Duration grace = 0s, ready = 0s;
  for (const auto& g : sc_.services) {
    grace = std::max(grace, g.stop_grace);
    ready = std::max(ready, g.ready_timeout + g.behaviour.startup.listen_after);
  }
  hard_end_ = now_ + (ready + sc_.duration + longest + sc_.switcher.upstream_timeout + grace + opt_.max_overrun).count();
  t0_ = now_;
  if (setup()) {
    t0_ = now_;
    startLoads();
    std::vector<scenario::TimelineStep> conditional;
    for (std::uint32_t i = 0; i < sc_.timeline.size(); ++i) {
      const auto& step = sc_.timeline[i];
      if (step.when) {
        conditional.push_back(step);
        q_.push(t0_ + step.at.count(), kConditionCheck, 0);  // arming
        q_.push(t0_ + (step.at + step.when->within).count() + 1, kConditionCheck, 0);  // just past the deadline
        continue;
      }
      if (step.at == Duration::zero() && std::holds_alternative<scenario::StartAction>(step.action)) continue;
      q_.push(t0_ + step.at.count(), kTimelineStep, i);
    }
    if (!conditional.empty()) {
      conditions_.emplace(std::move(conditional));
      checkConditions();
    }
    const std::int64_t end = t0_ + sc_.duration.count();
    q_.push(end, kWake, 0);
    loop([&] { return now_ >= end && loadsDone(); });
    if (conditions_)
      for (const auto& step : conditions_->pending())
        invalid_.push_back("step '" + scenario::describeAction(step.action) + "' waiting for '" + step.when->text +
                           "' did not happen before the end of the run");
    if (!pending_switch_.empty())
      invalid_.push_back("switch to " + pending_switch_ + " still waiting for its readiness gate at the end of the run");
  }
  if (!aborted_) stopAll();

  SimTrace t;
  t.t0_ns = t0_;
  t.final_active = core_.activePool();
  t.events_processed = steps_;
  t.switcher_retries = retries_;
  t.connections_opened = next_conn_id_ - 1;
  t.virtual_end_s = since0(now_);
  // Requests a service still held when the run ended (e.g. hung ones).
  for (const auto& ex : ex_)
    if (ex.used && ex.accepted != 0) {
      const auto& rec = blocks_[ex.block].records[ex.record];
      if (rec.done_ns != 0 && isDropped(rec.outcome)) logService(ex, 0, "");
    }
  for (auto& b : blocks_) {
    t.intended += b.records.size();
    t.peak_connections += b.peak_open;  // per block, summed as the live report sums its clients
    t.load_length_s = std::max(t.load_length_s, b.length_s);
    if (t.records.empty()) t.records = std::move(b.records);
    else t.records.insert(t.records.end(), b.records.begin(), b.records.end());
    b.records = {};
  }
  std::vector<std::size_t> order(events_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return event_ns_[a] < event_ns_[b]; });
  for (const auto i : order) {
    events_[i].t_s = since0(event_ns_[i]);
    t.events.push_back(std::move(events_[i]));
  }
  for (auto& in : insts_) {
    if (in.ready_ns) in.info.ready_s = since0(*in.ready_ns);
    if (in.exited_ns) in.info.exited_s = since0(*in.exited_ns);
    t.instances.push_back(in.info);
  }
  t.names = names_;
  t.service_log = std::move(logs_);
  t.invalid = invalid_;
  return t;
}

}  // namespace cutover::des::detail
