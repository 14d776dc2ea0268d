// Live runner. Theory of operation:
//   setup   start the switcher; run the steps at 0s that start pools, wait
//           until their instances answer /health 200; make the first pool
//           active. t=0 is the moment after that: the load starts.
//   run     one loop on this (main) thread: fire due timeline steps, watch
//           starting instances (port from their ready pipe, then /health),
//           reap exited children, print progress. Load clients run on their
//           own threads; the switcher on its I/O thread.
//   stop    wait for the load (its last request gets its timeout), stop the
//           services (SIGTERM, grace, SIGKILL), the switcher; measure.
// Validity is decided here; expectations are judged by the caller.
#include "sim/runner/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "fake-services/lifecycle_log.hpp"
#include "fake-services/spec_json.hpp"
#include "metrics/drop_causes.hpp"
#include "metrics/measures.hpp"
#include "metrics/validity.hpp"
#include "sim/core/clock.hpp"
#include "sim/core/print.hpp"
#include "sim/core/signal_name.hpp"
#include "sim/core/units.hpp"
#include "sim/loadgen/client.hpp"
#include "sim/runner/http_probe.hpp"
#include "sim/runner/run_metrics.hpp"
#include "sim/runner/stop_schedule.hpp"
#include "sim/runner/supervisor.hpp"
#include "sim/runner/switcher_driver.hpp"
#include "sim/runner/switcher_util.hpp"
#include "sim/scenario/run_support.hpp"
#include "sim/scenario/timeline.hpp"

#include <nlohmann/json.hpp>

namespace cutover::runner {
namespace {

using namespace std::chrono_literals;
using scenario::Scenario;

constexpr Duration kLoopTick = scenario::kReadinessProbeEvery;  // a failed readiness probe is made again each pass

std::string utcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Instance {
  enum class State { spawned, listening, ready, failed, exited };
  InstanceInfo info;
  const scenario::ServiceGroup* group = nullptr;
  State state = State::spawned;
  int ready_fd = -1;
  std::string ready_line;  // what the ready pipe gave so far (a line may come in pieces)
  int control_fd = -1;  // write end of the instance's control pipe
  std::string lifecycle_path;
  Instant spawned_at{};
  int number = 0;                  // the n of <pool>-<n>
  std::unique_ptr<HttpProbe> probe;  // listening: the /health GET in progress
};

struct LoadRun {
  std::unique_ptr<loadgen::LoadClient> client;
  loadgen::LoadResult result;
  std::thread thread;
  std::atomic<bool> finished{false};
  double length_s = 0;
  // A run left by an exception (LiveRun unwinding mid-run) still ends its
  // client's thread: a joinable std::thread's destructor would terminate.
  ~LoadRun() {
    if (!thread.joinable()) return;
    client->requestStop();
    thread.join();
  }
};

class LiveRun {
 public:
  LiveRun(const Scenario& s, const RunOptions& o)
      : sc_(s), opt_(o), metrics_(makeMetrics(s, o)),
        proxy_(makeSwitcherDriver(s, supervisor_, SwitcherDriverOptions{o.out_dir})) {
    if (metrics_ && proxy_->builtinProxy()) {
      proxy_->builtinProxy()->setObserver(metrics_->switcherObserver());
      metrics_->attachProxy(proxy_->builtinProxy());
    }
  }

  // The metrics endpoint calls into the load clients from its own thread:
  // stopped first, also when the run unwinds (finish() stops it otherwise).
  ~LiveRun() {
    if (metrics_) metrics_->stop();
  }
  LiveRun(const LiveRun&) = delete;
  LiveRun& operator=(const LiveRun&) = delete;

  RunResult run();

 private:
  double since0(Instant t) const { return toSeconds(t - t0_); }
  void event(Instant at, std::string source, std::string kind, std::string target, std::string detail = "") {
    events_.push_back({since0(at), std::move(source), std::move(kind), std::move(target), std::move(detail)});
  }
  bool interrupted() const { return opt_.interrupted && opt_.interrupted->load() != 0; }

  static std::unique_ptr<RunMetrics> makeMetrics(const Scenario& s, const RunOptions& o) {
    if (!o.metrics_port) return nullptr;
    RunMetricsOptions m;
    m.port = *o.metrics_port;
    m.scenario = s.name;
    m.planned_duration = s.duration;
    return std::make_unique<RunMetrics>(m);
  }

  bool setup();
  void startPool(const std::string& pool);
  void spawnInstance(const scenario::ServiceGroup& g, int number);
  std::vector<std::string> commandOf(const scenario::ServiceGroup& g, Instance& in);
  void scale(const scenario::ScaleAction& a, Instant now);
  bool poolHealthy(const std::string& pool);
  // Its place in instances_, the key of the StopSchedule.
  std::size_t indexOf(const Instance& in) const { return static_cast<std::size_t>(&in - instances_.data()); }
  void fireDue(Instant now);
  void watchInstances();
  std::vector<pollfd> instanceWaits() const;
  void reapChildren();
  void pullSwitcherEvents();
  void sendControl(const std::string& target, const std::vector<std::string>& lines);
  std::vector<Instance*> targets(const std::string& target);
  void fire(const scenario::TimelineStep& step);
  void startLoad();
  void progress(Instant now, bool last = false);
  void finish(RunResult& r);
  void measure(RunResult& r);
  std::vector<ServiceRequestLog> serviceLogs();

  const Scenario& sc_;
  RunOptions opt_;
  Supervisor supervisor_;
  std::unique_ptr<RunMetrics> metrics_;    // --metrics-port; before proxy_: it observes the proxy
  std::unique_ptr<SwitcherDriver> proxy_;  // builtin, nginx or haproxy
  Instant t0_ = monoNow();  // re-set when the load starts
  std::vector<Instance> instances_;
  StopSchedule stops_;             // stop signals sent, SIGKILLs due
  std::vector<TimedEvent> events_;
  std::optional<std::uint64_t> switcher_retries_;  // read once the load is over
  std::vector<std::string> invalid_;
  std::vector<std::unique_ptr<LoadRun>> loads_;
  std::string active_;
  Instant last_progress_{};
  std::uint64_t last_done_ = 0;
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  std::optional<scenario::Timeline> timeline_;  // from t=0
  std::string pending_switch_;        // a switch waiting for the readiness gate
};

void LiveRun::startPool(const std::string& pool) {
  const auto* g = sc_.service(pool);
  CUTOVER_ASSERT(g != nullptr);  // checked by the loader
  for (int i = 1; i <= g->instances; ++i) spawnInstance(*g, i);
}

void LiveRun::spawnInstance(const scenario::ServiceGroup& g, int number) {
  const auto logDir = std::filesystem::path(opt_.out_dir) / "logs";
  std::filesystem::create_directories(logDir);
  const std::string spec = service::toJson(g.behaviour).dump();
  Instance in;
  in.group = &g;
  in.number = number;
  in.info.id = fmt::format("{}-{}", g.name, number);
  in.info.pool = g.name;
  in.info.version = g.behaviour.version;
  const bool own = !g.command.empty();
  std::vector<std::string> argv;
  if (own) {
    argv = commandOf(g, in);
  } else {
    argv = {opt_.self_exe, "fake-service", "--instance", in.info.id, "--ready-fd", "3",
            "--seed", std::to_string(sc_.seed * 1000 + instances_.size()), "--spec-json", spec,
            "--control-fd", "4", "--lifecycle-log", (logDir / (in.info.id + ".lifecycle")).string()};
    in.lifecycle_path = argv.back();
  }
  in.spawned_at = monoNow();
  auto pid = argv.empty() ? Result<pid_t>(Error{"service " + in.info.id + ": no free port or program not found: " + g.command.front()})
             : own ? supervisor_.spawn(in.info.id, argv, (logDir / (in.info.id + ".log")).string())
                   : supervisor_.spawn(in.info.id, argv, (logDir / (in.info.id + ".log")).string(), &in.ready_fd,
                                       &in.control_fd);
  if (!pid) {
    invalid_.push_back(pid.error().message);
    in.state = Instance::State::failed;
  } else {
    in.info.pid = pid.value();
    event(in.spawned_at, "runner", "spawned", in.info.id,
          own ? fmt::format("pid {} port {}: {}", in.info.pid, in.info.port, fmt::join(argv, " "))
              : fmt::format("pid {}", in.info.pid));
    if (own) in.state = Instance::State::listening;  // its port is known: probe health_path from now
  }
  instances_.push_back(std::move(in));
}

// A team's own service: {port} (a free port picked here) and {version} in
// every argument; the program is looked up on PATH unless it has a '/'.
// Empty when there is no free port or no such program.
std::vector<std::string> LiveRun::commandOf(const scenario::ServiceGroup& g, Instance& in) {
  const auto port = pickFreePort();
  if (!port) return {};
  in.info.port = *port;
  std::vector<std::string> argv;
  for (auto arg : g.command) {
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"{port}", std::to_string(*port)},
                                     {"{version}", g.behaviour.version}})
      for (auto at = arg.find(key); at != std::string::npos; at = arg.find(key, at + value.size()))
        arg.replace(at, key.size(), value);
    argv.push_back(std::move(arg));
  }
  if (argv.front().find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::string found;
    for (std::size_t start = 0; start <= dirs.size() && found.empty();) {
      const auto end = std::min(dirs.find(':', start), dirs.size());
      const auto candidate = dirs.substr(start, end - start) + "/" + argv.front();
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) found = candidate;
      start = end + 1;
    }
    if (found.empty()) return {};
    argv.front() = found;
  }
  return argv;
}

// scale: start instances up to the count, or take the highest-numbered live
// ones out of the switcher, then stop them (SIGTERM, grace, SIGKILL).
void LiveRun::scale(const scenario::ScaleAction& a, Instant now) {
  const auto* g = sc_.service(a.pool);
  CUTOVER_ASSERT(g != nullptr);
  proxy_->addPool(a.pool, static_cast<std::size_t>(a.instances));  // the `all` gate's count
  std::vector<Instance*> live;
  int highest = 0;
  for (auto& in : instances_) {
    if (in.info.pool != a.pool) continue;
    highest = std::max(highest, in.number);
    if (in.state != Instance::State::exited && in.state != Instance::State::failed && !stops_.stopping(indexOf(in)))
      live.push_back(&in);
  }
  const int have = static_cast<int>(live.size());
  if (a.instances > have) {
    for (int i = 0; i < a.instances - have; ++i) spawnInstance(*g, highest + 1 + i);
    return;
  }
  std::sort(live.begin(), live.end(), [](const Instance* x, const Instance* y) { return x->number > y->number; });
  for (int i = 0; i < have - a.instances; ++i) {
    Instance* in = live[static_cast<std::size_t>(i)];
    proxy_->removeBackend(in->info.id);
    supervisor_.signal(in->info.pid, in->group->stop_signal);
    stops_.stop(indexOf(*in), now + in->group->stop_grace);
    event(now, "runner", "scaled_down", in->info.id, "removed from the switcher, then " + in->group->stop_signal_name);
  }
}

// Moves starting instances on: port from the ready pipe, then /health 200.
// The probe never blocks the loop (instanceWaits wakes it for the answer);
// one that fails is made again on the next pass.
void LiveRun::watchInstances() {
  for (auto& in : instances_) {
    if (in.state != Instance::State::spawned && in.state != Instance::State::listening) {
      in.probe.reset();
      continue;
    }
    const auto now = monoNow();
    if (in.state == Instance::State::spawned) {
      if (const auto port = readReadyPort(in.ready_fd, 0ms, in.ready_line)) {
        in.info.port = *port;
        in.state = Instance::State::listening;
        ::close(in.ready_fd);
        in.ready_fd = -1;
      } else if (pollfd p{in.ready_fd, POLLIN, 0}; ::poll(&p, 1, 0) > 0 && (p.revents & POLLHUP) != 0) {
        ::close(in.ready_fd);  // closed without a port: nothing more to wait for there (it times out)
        in.ready_fd = -1;
      }
    }
    if (in.state == Instance::State::listening) {
      if (!in.probe)
        in.probe = std::make_unique<HttpProbe>(in.info.port, in.group->health_path,
                                               now + scenario::kReadinessProbeTimeout);
      if (in.probe->step(monoNow())) {
        const bool ok = in.probe->status() == 200;
        in.probe.reset();
        if (ok) {
          in.state = Instance::State::ready;
          in.info.ready_s = since0(monoNow());
          proxy_->addBackend(in.info.pool, in.info.id, in.info.port);  // seen ready by the runner
          event(monoNow(), "service", "ready", in.info.id, fmt::format("127.0.0.1:{}", in.info.port));
          if (opt_.progress)
            printErr("ready {} pid {} port {}\n", in.info.id, in.info.pid, in.info.port);
          continue;
        }
      }
    }
    const auto limit = (in.group->command.empty() ? in.group->behaviour.startup.listen_after : Duration::zero()) +
                       in.group->ready_timeout;
    if (now - in.spawned_at > limit) {
      in.state = Instance::State::failed;
      in.probe.reset();
      invalid_.push_back(fmt::format("service {} never became ready within {}", in.info.id,
                                     formatDuration(limit)));
      event(now, "runner", "not_ready", in.info.id, "readiness timeout");
    }
  }
}

// What a starting instance's next step waits for: its ready pipe, its probe.
std::vector<pollfd> LiveRun::instanceWaits() const {
  std::vector<pollfd> out;
  for (const auto& in : instances_) {
    if (in.state == Instance::State::spawned && in.ready_fd >= 0) out.push_back({in.ready_fd, POLLIN, 0});
    if (in.probe && !in.probe->done()) out.push_back(in.probe->waitFor());
  }
  return out;
}

void LiveRun::reapChildren() {
  const int restarts = supervisor_.guardianRestarts();
  auto exits = supervisor_.reap();
  if (supervisor_.guardianRestarts() != restarts)
    event(monoNow(), "runner", "guardian_restarted", "",
          "the guardian of the services' process groups exited before the run's end; a new one took them over");
  for (const auto& e : exits) {
    if (proxy_->onChildExit(e)) {
      invalid_.push_back(fmt::format("the switcher ({}) exited during the run ({} {})", proxy_->kind(),
                                     e.signaled ? "signal" : "code", e.code));
      continue;
    }
    for (auto& in : instances_) {
      if (in.info.pid != e.pid) continue;
      if (in.state == Instance::State::spawned || in.state == Instance::State::listening) {
        invalid_.push_back(fmt::format("service {} exited before it was ready ({} {})", in.info.id,
                                       e.signaled ? "signal" : "code", e.code));
      }
      in.state = Instance::State::exited;
      stops_.exited(indexOf(in));
      in.info.exited_s = since0(e.at);
      in.info.exit = fmt::format("{} {}", e.signaled ? "signal" : "code", e.code);
      event(e.at, "service", "exited", in.info.id, in.info.exit);
    }
  }
}

bool LiveRun::setup() {
  std::string err;
  if (metrics_ && !metrics_->start(&err)) {
    invalid_.push_back("metrics endpoint did not start: " + err);
    return false;
  }
  if (metrics_ && opt_.progress) printErr("metrics http://127.0.0.1:{}/metrics\n", metrics_->port());
  // A readiness gate can wait for an empty pool, and `all` for every declared instance.
  for (const auto& g : sc_.services) proxy_->addPool(g.name, static_cast<std::size_t>(g.instances));
  if (!proxy_->start(&err)) {
    invalid_.push_back("switcher did not start: " + err);
    return false;
  }
  if (opt_.progress)
    printErr("switcher pid {} port {} ({})\n", proxy_->pid(), proxy_->port(), proxy_->kind());
  std::string first;
  for (const auto& step : sc_.timeline) {
    const auto* start = std::get_if<scenario::StartAction>(&step.action);
    if (step.at != Duration::zero() || !start || step.when) continue;
    if (first.empty()) first = start->pool;
    startPool(start->pool);
  }
  const auto settled = [&] {
    return std::none_of(instances_.begin(), instances_.end(), [](const Instance& in) {
      return in.state == Instance::State::spawned || in.state == Instance::State::listening;
    });
  };
  while (!settled() && !interrupted()) {
    watchInstances();
    reapChildren();
    if (!settled()) supervisor_.waitUntil(monoNow() + kLoopTick, instanceWaits());
  }
  if (!invalid_.empty() || interrupted()) return false;
  const auto r = proxy_->switchTo(first);
  if (!r.ok) {
    invalid_.push_back("initial pool " + first + " not accepted by the switcher: " + r.reason);
    return false;
  }
  active_ = first;
  return true;
}

void LiveRun::startLoad() {
  for (const auto& spec : sc_.load) {
    auto lr = std::make_unique<LoadRun>();
    const std::size_t block = loads_.size();
    const Duration length = scenario::blockLength(sc_, spec);
    lr->length_s = toSeconds(length);
    loadgen::ClientOptions co;
    co.port = proxy_->port();
    co.path = spec.path;
    co.method = spec.method;
    co.connections = static_cast<std::size_t>(spec.connections);
    co.keepalive = spec.connection_policy != scenario::ConnectionPolicy::new_per_request;
    co.connection_policy = spec.connection_policy == scenario::ConnectionPolicy::mixed
                               ? loadgen::ConnectionPolicy::mixed
                               : spec.connection_policy == scenario::ConnectionPolicy::new_per_request
                                     ? loadgen::ConnectionPolicy::new_per_request
                                     : loadgen::ConnectionPolicy::keepalive;
    co.fresh_fraction = spec.fresh_fraction;
    co.connection_seed = Rng(sc_.seed).split(200 + block)();
    co.timeout = spec.timeout;
    co.expected_requests = scenario::expectedRequests(sc_, spec);
    co.max_requests = scenario::kMaxRequests;  // the loader's bound on the whole load, not a silent cap per block
    co.first_request_id = (static_cast<std::uint64_t>(block) << 40) + 1;  // unique across blocks
    const Rng rng = Rng(sc_.seed).split(100 + block);
    if (spec.model == scenario::LoadModel::closed)
      lr->client = std::make_unique<loadgen::LoadClient>(co, scenario::makeClosedLoop(spec, t0_ + spec.start, length, rng));
    else
      lr->client = std::make_unique<loadgen::LoadClient>(co, scenario::makeArrivals(spec, t0_ + spec.start, length, rng));
    LoadRun* raw = lr.get();
    if (metrics_)
      metrics_->addLoadSource(fmt::format("block-{}", block), [raw] {
        return loadSnapshotFromTotals(raw->client->completed(), raw->client->droppedSoFar());
      });
    lr->thread = std::thread([raw] {
      try {
        raw->result = raw->client->run();
      } catch (const std::exception& e) {  // out of memory for its records: an invalid run, not an abort
        raw->result.error = e.what();
      }
      raw->finished = true;
    });
    loads_.push_back(std::move(lr));
  }
}

void LiveRun::fire(const scenario::TimelineStep& step) {
  const auto now = monoNow();
  if (const auto* a = std::get_if<scenario::StartAction>(&step.action)) {
    event(now, "timeline", "start", a->pool);
    startPool(a->pool);
  } else if (const auto* s = std::get_if<scenario::SwitchAction>(&step.action)) {
    event(now, "timeline", "switch", s->pool);
    const auto r = proxy_->switchTo(s->pool);
    if (r.ok) {
      active_ = s->pool;
    } else if (r.pending) {
      pending_switch_ = s->pool;  // the readiness gate waits: switched or switch_refused follows
    } else {
      invalid_.push_back("switch to " + s->pool + " never happened: " + r.reason);
      event(monoNow(), "runner", "switch_failed", s->pool, r.reason);
    }
  } else if (const auto* sig = std::get_if<scenario::SignalAction>(&step.action)) {
    event(now, "timeline", "signal", sig->target, sig->signal_name);
    for (auto* in : targets(sig->target)) supervisor_.signal(in->info.pid, sig->signal);
  } else if (const auto* st = std::get_if<scenario::StopAction>(&step.action)) {
    event(now, "timeline", "stop", st->target);
    for (auto* in : targets(st->target)) {
      supervisor_.signal(in->info.pid, in->group->stop_signal);
      stops_.stop(indexOf(*in), now + in->group->stop_grace);
    }
  } else if (const auto* f = std::get_if<scenario::FaultAction>(&step.action)) {
    event(now, "timeline", "fault", f->target, f->text);
    sendControl(f->target, f->commands);
  } else if (const auto* h = std::get_if<scenario::HealAction>(&step.action)) {
    event(now, "timeline", "heal", h->target);
    sendControl(h->target, {"heal"});
  } else if (std::holds_alternative<scenario::RollbackAction>(step.action)) {
    event(now, "timeline", "rollback", active_);
    const auto r = proxy_->rollback();
    if (!r.ok) event(monoNow(), "runner", "rollback_failed", active_, r.reason);
  } else if (const auto* sc = std::get_if<scenario::ScaleAction>(&step.action)) {
    event(now, "timeline", "scale", sc->pool, fmt::format("to {} instances", sc->instances));
    scale(*sc, now);
  }
}

// `healthy: P`: every started, not stopping, instance of P is ready and the
// switcher routes to it.
bool LiveRun::poolHealthy(const std::string& pool) {
  std::size_t expected = 0;
  for (const auto& in : instances_) {
    if (in.info.pool != pool || in.state == Instance::State::exited || stops_.stopping(indexOf(in))) continue;
    if (in.state != Instance::State::ready) return false;
    ++expected;
  }
  if (expected == 0) return false;
  std::size_t routable = 0;
  for (const auto& b : proxy_->backends())
    if (b.pool == pool && b.healthy && !b.ejected) ++routable;
  return routable >= expected;
}

void LiveRun::fireDue(Instant now) {
  const Duration elapsed = now - t0_;
  for (const auto& step : timeline_->due(elapsed, [this](const std::string& p) { return poolHealthy(p); })) {
    if (step.when) event(now, "timeline", "condition_met", step.when->text, scenario::describeAction(step.action));
    // The runner's loop can be held up (a starved machine): lateStepProblem says when it matters.
    if (!step.when)
      if (auto late = lateStepProblem(scenario::describeAction(step.action), step.at, elapsed, sc_.validity);
          !late.empty())
        invalid_.push_back(std::move(late));
    fire(step);
  }
  for (const auto& step : timeline_->missed(elapsed)) {
    const auto what = fmt::format("step '{}' waiting for '{}' did not happen: condition not met within {}",
                                  scenario::describeAction(step.action), step.when->text,
                                  formatDuration(step.when->within));
    event(now, "timeline", "condition_missed", step.when->text, what);
    invalid_.push_back(what);
  }
}

std::vector<Instance*> LiveRun::targets(const std::string& target) {
  std::vector<Instance*> out;
  for (auto& in : instances_)
    if ((in.info.pool == target || in.info.id == target) && in.info.pid > 0 &&
        in.state != Instance::State::exited)
      out.push_back(&in);
  return out;
}

void LiveRun::sendControl(const std::string& target, const std::vector<std::string>& lines) {
  for (auto* in : targets(target)) {
    for (const auto& line : lines) {
      const std::string msg = line + "\n";
      if (in->control_fd < 0 || ::write(in->control_fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
        event(monoNow(), "runner", "control_failed", in->info.id, line);
        // The timeline's fault (or heal) did not happen: the run is not the one written.
        invalid_.push_back("'" + line + "' was not delivered to " + in->info.id + " (its control channel is closed)");
      }
    }
  }
}

// Switcher decisions as they happen: keeps the active pool current (a
// rollback changes it) and the events in time order.
void LiveRun::pullSwitcherEvents() {
  for (const auto& e : proxy_->takeEvents()) {
    event(e.at, "switcher", e.kind, e.pool, e.detail);
    if (timeline_) timeline_->observe(e.kind, e.pool, e.at - t0_);
    if (e.kind == "switched" || e.kind == "rollback") active_ = e.pool;
    if (e.kind == "switched" && e.pool == pending_switch_) pending_switch_.clear();
    if (e.kind == "switch_refused" && !pending_switch_.empty() && e.pool == pending_switch_) {
      invalid_.push_back("switch to " + pending_switch_ + " never happened: " + e.detail);
      pending_switch_.clear();
    }
  }
}

// On a terminal: one live line, redrawn 4 times a second (elapsed/total,
// current rate, failures so far, active pool, last event). Otherwise (CI
// logs): a plain line every 2 s.
void LiveRun::progress(Instant now, bool last) {
  if (!opt_.progress) return;
  const Duration every = tty_ ? Duration(250ms) : Duration(2s);
  if (!last && now - last_progress_ < every) return;
  std::uint64_t done = 0, dropped = 0;
  for (const auto& l : loads_) done += l->client->completed(), dropped += l->client->droppedSoFar();
  const double dt = toSeconds(now - last_progress_);
  const double rate = last_progress_ == Instant{} || dt <= 0 ? 0.0 : static_cast<double>(done - last_done_) / dt;
  last_progress_ = now;
  last_done_ = done;
  std::string lastEvent;
  for (auto it = events_.rbegin(); it != events_.rend(); ++it)
    if (it->source == "switcher" || it->source == "timeline") {
      lastEvent = fmt::format("{:.2f} s {} {}", it->t_s, it->kind, it->target);
      break;
    }
  const auto line = fmt::format("[{:5.1f}/{:.1f} s] {:6.0f}/s  completed {}  failures {}  active {}  last: {}",
                                since0(now), toSeconds(sc_.duration), rate, done, dropped, active_, lastEvent);
  if (tty_) printErr("\r\033[K{}{}", line, last ? "\n" : "");
  else printErr("{}\n", line);
}

RunResult LiveRun::run() {
  RunResult r;
  r.scenario = sc_.name;
  r.scenario_file = sc_.file;
  r.seed = sc_.seed;
  r.duration_s = toSeconds(sc_.duration);
  r.time_scale = sc_.time_scale;
  r.started_utc = utcNow();
  t0_ = monoNow();
  if (setup()) {
    const Instant setupStart = t0_;
    t0_ = monoNow();
    if (metrics_) metrics_->startClock(t0_);
    for (auto& e : events_) e.t_s -= toSeconds(t0_ - setupStart);  // setup events: t < 0
    for (auto& in : instances_)
      if (in.info.ready_s) *in.info.ready_s -= toSeconds(t0_ - setupStart);
    startLoad();
    // The timed starts at 0s ran in setup; the rest of the timeline from here.
    std::vector<scenario::TimelineStep> rest;
    for (const auto& step : sc_.timeline)
      if (step.when || step.at != Duration::zero() || !std::holds_alternative<scenario::StartAction>(step.action))
        rest.push_back(step);
    timeline_.emplace(std::move(rest));
    fireDue(t0_);
    const auto allLoadsDone = [&] {
      return std::all_of(loads_.begin(), loads_.end(), [](const auto& l) { return l->finished.load(); });
    };
    while (!interrupted()) {
      const auto now = monoNow();
      watchInstances();
      reapChildren();
      proxy_->tick(now);
      pullSwitcherEvents();
      fireDue(now);
      // A SIGKILL at the end of a grace period: sent when due, and the loop
      // wakes for the next one (not a tick late); reapChildren told the
      // schedule of every exit, so none is pending for an instance gone.
      for (const auto i : stops_.takeDue(now)) {
        Instance& in = instances_[i];
        supervisor_.signal(in.info.pid, SIGKILL);
        event(now, "runner", "killed", in.info.id, "did not exit within the grace period, killed");
      }
      auto wake = now + kLoopTick;
      if (const auto kill = stops_.nextDeadline()) wake = std::min(wake, *kill);
      const bool over = now - t0_ >= sc_.duration && allLoadsDone();
      progress(now, over);
      if (over) break;
      if (const auto next = timeline_->nextDeadline(now - t0_)) wake = std::min(wake, t0_ + *next);
      supervisor_.waitUntil(wake, instanceWaits());  // or less: a child's exit, a probe's answer
    }
  }
  if (!pending_switch_.empty() && !interrupted())
    invalid_.push_back("switch to " + pending_switch_ + " still waiting for its readiness gate at the end of the run");
  if (timeline_ && !interrupted())
    for (const auto& step : timeline_->pending())
      invalid_.push_back(fmt::format("step '{}' waiting for '{}' did not happen before the end of the run",
                                     scenario::describeAction(step.action), step.when->text));
  if (interrupted()) {
    const int sig = opt_.interrupted->load();
    invalid_.push_back(fmt::format("interrupted by {} at {:.3f} s", interruptSignalName(sig), since0(monoNow())));
  }
  finish(r);
  return r;
}

void LiveRun::finish(RunResult& r) {
  for (auto& l : loads_) {
    if (interrupted()) l->client->requestStop();
    l->thread.join();
  }
  r.final_active = proxy_->activePool();
  switcher_retries_ = proxy_->retries();  // every request has its outcome; nginx and haproxy still run
  Duration longest = 0s;
  for (const auto& g : sc_.services) longest = std::max(longest, g.stop_grace);
  // Services get their stop signal and their own grace period; anything else
  // (nginx, haproxy) SIGTERM and the longest.
  const auto groupOf = [this](pid_t pid) -> const scenario::ServiceGroup* {
    for (const auto& in : instances_)
      if (in.info.pid == pid && in.group) return in.group;
    return nullptr;
  };
  const auto stopSignal = [&](pid_t pid) {
    const auto* g = groupOf(pid);
    return g ? g->stop_signal : SIGTERM;
  };
  const auto graceOf = [&](pid_t pid) {
    const auto* g = groupOf(pid);
    return g ? g->stop_grace : longest;
  };
  for (const auto& e : supervisor_.terminateAll(stopSignal, graceOf)) {
    for (auto& in : instances_) {
      if (in.info.pid != e.pid) continue;
      in.info.exited_s = since0(e.at);
      in.info.exit = fmt::format("{} {}", e.signaled ? "signal" : "code", e.code);
      if (e.killed_after_grace)
        event(e.at, "runner", "killed", in.info.id,
              fmt::format("did not exit within the grace period ({}), killed", formatDuration(in.group->stop_grace)));
      event(e.at, "runner", "stopped", in.info.id, in.info.exit);
    }
  }
  pullSwitcherEvents();
  if (metrics_) metrics_->stop();  // before the proxy and the load clients it reads go
  proxy_->stop();
  std::stable_sort(events_.begin(), events_.end(), [](const auto& a, const auto& b) { return a.t_s < b.t_s; });
  for (const auto& in : instances_) r.instances.push_back(in.info);
  for (auto& in : instances_) {
    if (in.ready_fd >= 0) ::close(in.ready_fd);
    if (in.control_fd >= 0) ::close(in.control_fd);
  }
  measure(r);
  r.events = events_;
  r.verdict.valid = invalid_.empty();
  r.verdict.invalid_reasons = invalid_;
}

void LiveRun::measure(RunResult& r) {
  // One name table and one record list for all load blocks.
  scenario::RunTrace trace;
  auto& records = trace.records;
  auto& names = trace.names;
  std::map<std::string, std::uint16_t> index;
  std::size_t total = 0;
  for (const auto& l : loads_) total += l->result.records.size();
  records.reserve(total);
  for (std::size_t b = 0; b < loads_.size(); ++b) {
    auto& l = loads_[b];
    if (!l->result.error.empty()) invalid_.push_back("load generator: " + l->result.error);
    if (l->result.peak_connections >= static_cast<std::size_t>(sc_.load[b].connections))
      trace.connections_all_busy = true;
    trace.intended += l->result.intended;
    trace.load_length_s = std::max(trace.load_length_s, l->length_s);
    auto& lg = r.load_generator;
    lg.cpu_s += l->result.cpu.seconds();
    lg.wall_s = std::max(lg.wall_s, l->result.cpu.wall_s);
    lg.peak_connections += l->result.peak_connections;
    lg.connections_opened += l->result.connections_opened;
    for (auto rec : l->result.records) {
      for (auto* field : {&rec.version, &rec.instance, &rec.pool}) {
        if (*field >= l->result.names.size()) continue;
        const auto& name = l->result.names[*field];
        auto [it, added] = index.emplace(name, static_cast<std::uint16_t>(names.size()));
        if (added) names.push_back(name);
        *field = it->second;
      }
      records.push_back(rec);
    }
    l->result.records = {};  // free as we go
  }
  if (r.load_generator.wall_s > 0)
    r.load_generator.cpu_pct_of_core = 100.0 * r.load_generator.cpu_s / r.load_generator.wall_s;
  // The switcher's own errors carry no version, only the backend it tried
  // (or, with none, the pool it routed into): attribute them to that
  // backend's version, else to the pool's.
  std::map<std::string, std::string> versionOf;
  for (const auto& in : instances_) versionOf[in.info.id] = in.info.version;
  for (const auto& g : sc_.services) versionOf.emplace(g.name, g.behaviour.version);
  for (auto& rec : records) {
    if (rec.version != kNoName) continue;
    const auto by = rec.instance < names.size() ? rec.instance : rec.pool;
    if (by >= names.size()) continue;
    const auto v = versionOf.find(names[by]);
    if (v == versionOf.end()) continue;
    auto [it, added] = index.emplace(v->second, static_cast<std::uint16_t>(names.size()));
    if (added) names.push_back(v->second);
    rec.version = it->second;
  }
  trace.t0_ns = toNanos(t0_);
  trace.events = events_;
  trace.service_log = serviceLogs();
  trace.check_load = !interrupted() && !loads_.empty();
  trace.switcher_retries = switcher_retries_;
  scenario::measureRun(sc_, trace, r, invalid_);
}

// Every request the services logged, for drop attribution.
std::vector<ServiceRequestLog> LiveRun::serviceLogs() {
  std::vector<ServiceRequestLog> out;
  for (const auto& in : instances_) {
    if (in.lifecycle_path.empty() || !std::filesystem::exists(in.lifecycle_path)) continue;
    auto log = service::readLifecycleLog(in.lifecycle_path);
    if (!log) {
      event(monoNow(), "runner", "lifecycle_log_unreadable", in.info.id, log.error().message);
      continue;
    }
    for (const auto& req : log.value().requests) {
      std::uint64_t id = 0;
      const auto& text = req.request_id;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
      if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) continue;
      out.push_back({in.info.id, id, toNanos(req.accepted), toNanos(req.finished),
                     std::string(service::requestEndName(req.end))});
    }
  }
  return out;
}

}  // namespace

RunResult runLive(const Scenario& scenario, const RunOptions& options) {
  LiveRun run(scenario, options);
  return run.run();
}

}  // namespace cutover::runner
