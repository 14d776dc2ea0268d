// Scenario loader. Theory of operation: the YAML tree is read by MapReaders,
// one per mapping; each read registers its key, so once a mapping is read the
// reader knows every key it understands and reports the others as unknown
// (with a "did you mean"). Problems are collected, never thrown, so one pass
// reports them all; semantic checks (pools, order of steps) run after the
// tree was read. yaml-cpp exceptions stop at this file.
#include "sim/scenario/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sim/core/units.hpp"
#include "sim/scenario/overrides.hpp"
#include "sim/scenario/run_support.hpp"
#include "sim/scenario/yaml_reader.hpp"

namespace cutover::scenario {
namespace {

using namespace detail;

void readLatency(Ctx& ctx, const YAML::Node& node, const std::string& path, service::LatencySpec& out) {
  using service::LatencyDistribution;
  if (node.IsScalar()) {  // "latency: 5ms" means fixed
    const auto d = parseDuration(node.Scalar());
    if (!d) ctx.error(node, path, "expected a duration like 5ms or a mapping with a distribution");
    else out.distribution = LatencyDistribution::fixed, out.value = ctx.scaled(*d);
    return;
  }
  MapReader r(ctx, node, path);
  r.choice("distribution", out.distribution,
           {{"fixed", LatencyDistribution::fixed}, {"uniform", LatencyDistribution::uniform},
            {"normal", LatencyDistribution::normal}, {"lognormal", LatencyDistribution::lognormal},
            {"empirical", LatencyDistribution::empirical}});
  r.duration("p50", out.p50);
  r.duration("p99", out.p99);
  r.duration("value", out.value);
  r.duration("min", out.min);
  r.duration("max", out.max);
  const auto samples = r.get("samples");
  if (samples) {
    if (!samples.IsSequence()) ctx.error(samples, path + ".samples", "expected a list of durations");
    else
      for (const auto& s : samples) {
        const auto d = s.IsScalar() ? parseDuration(s.Scalar()) : std::nullopt;
        if (!d) ctx.error(s, path + ".samples", "expected a duration like 5ms");
        else out.samples.push_back(ctx.scaled(*d));
      }
  }
  r.finish();
  if (out.distribution == LatencyDistribution::lognormal && out.p99 < out.p50)
    ctx.error(node, path + ".p99", "p99 must not be below p50");
  if (out.distribution == LatencyDistribution::uniform && out.max < out.min)
    ctx.error(node, path + ".max", "max must not be below min");
  if (out.distribution == LatencyDistribution::empirical && out.samples.empty())
    ctx.error(node, path + ".samples", "an empirical distribution needs samples");
}

std::optional<int> signalNumber(const std::string& name);

// The 1-based line where a second YAML document starts (a `---` or `...`
// marker at column 0 after the first document's content), or 0. Markers at
// column 0 are always document markers in YAML, in block scalars too.
int secondDocumentLine(const std::string& text) {
  bool content = false, ended = false;
  int line = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    const std::string_view l(text.data() + at, end - at);
    ++line;
    at = end + 1;
    const bool marker = (l.starts_with("---") || l.starts_with("...")) &&
                        (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
    if (marker) {
      if (ended || (content && l.starts_with("---"))) return line;  // a second document starts
      if (l.starts_with("...")) ended = content;  // the end of the first: only more after it counts
      else content = l.find_first_not_of(" \t\r", 3) != std::string_view::npos;  // "--- {a: 1}"
      continue;
    }
    const auto first = l.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && l[first] != '#' && l[first] != '%') {
      if (ended) return line;
      content = true;
    }
  }
  return 0;
}

// Names that become paths, config identifiers and header values.
bool nameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
// A run's name is its out directory's name: letters, digits, '.', '-', '_',
// not starting with '.' (so never "..", or a path).
std::string runNameProblem(const std::string& n) {
  if (n.empty() || n.size() > 100 || n[0] == '.' ||
      !std::all_of(n.begin(), n.end(), [](char c) { return nameChar(c) || c == '.'; }))
    return "a name is 1 to 100 letters, digits, '.', '-' or '_', not starting with '.' (it names the out "
           "directory), got '" + n + "'";
  return "";
}
// A pool's name is in nginx's and HAProxy's config (pool_<name>) and in its
// instances' ids (<name>-<n>): a letter, then letters, digits, '-', '_', and
// not ending in -<digits> (green-1 is an instance of green).
std::string poolNameProblem(const std::string& n) {
  const auto dash = n.rfind('-');
  const bool instanceLike = dash != std::string::npos && dash + 1 < n.size() &&
                            std::all_of(n.begin() + static_cast<std::ptrdiff_t>(dash) + 1, n.end(),
                                        [](char c) { return c >= '0' && c <= '9'; });
  if (n.empty() || n.size() > 60 || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')) ||
      !std::all_of(n.begin(), n.end(), nameChar) || instanceLike)
    return "a pool name is a letter, then up to 59 letters, digits, '-' or '_', not ending in -<digits> (that "
           "names an instance), got '" + n + "'";
  return "";
}
// Header values and request targets: printable, no control characters.
bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

// `command: [argv...]` of a team's own service.
void readCommand(Ctx& ctx, const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  if (!node.IsSequence() || node.size() == 0) {
    ctx.error(node, path, "expected a list: the program (absolute path or on PATH) and its arguments, with {port} and {version}");
    return;
  }
  for (const auto& a : node) {
    if (!a.IsScalar()) ctx.error(a, path, "expected a string argument");
    else out.push_back(a.Scalar());
  }
}

// `instances` of a pool or a scale step, within this run's bounds (a live
// count past 64 is told it would do for a simulated run).
void readInstances(Ctx& ctx, MapReader& r, const std::string& path, int& out, int lo, bool required) {
  if (!ctx.simOnlyInstances(r.get("instances"), path + ".instances"))
    r.integer("instances", out, lo, ctx.maxInstances(), required);
}

ServiceGroup readService(Ctx& ctx, const std::string& name, const YAML::Node& node) {
  ServiceGroup g;
  g.name = name;
  g.loc = locOf(node);
  g.behaviour.version = name;
  const std::string path = "services." + name;
  MapReader r(ctx, node, path);
  r.string("version", g.behaviour.version);
  if (!printable(g.behaviour.version) || g.behaviour.version.empty())
    ctx.error(node, path + ".version", "a version is sent in a header: non-empty, no control characters");
  readInstances(ctx, r, path, g.instances, 1, false);
  if (const auto lat = r.get("latency")) readLatency(ctx, lat, path + ".latency", g.behaviour.latency);
  r.percent("error_rate", g.behaviour.error_rate);
  r.integer("error_status", g.behaviour.error_status, 500, 599);
  r.size("response_size", g.behaviour.response_bytes);
  if (const auto cmd = r.get("command")) readCommand(ctx, cmd, path + ".command", g.command);
  r.string("health_path", g.health_path);
  if (!g.health_path.starts_with("/")) ctx.error(node, path + ".health_path", "a path starts with '/'");
  {
    MapReader s(ctx, r.get("startup"), path + ".startup");
    s.duration("listen_after", g.behaviour.startup.listen_after);
    s.duration("ready_after", g.behaviour.startup.ready_after);
    s.duration("ready_timeout", g.ready_timeout);
    if (const auto v = s.get("ready_timeout"); v && g.ready_timeout <= Duration::zero())
      ctx.error(v, path + ".startup.ready_timeout", "must be above 0 (no instance could ever be ready)");
    s.duration("warmup", g.behaviour.startup.warmup);
    s.number("warmup_factor", g.behaviour.startup.warmup_factor, 1.0, 1000.0);
    s.finish();
  }
  {
    auto& c = g.behaviour.capacity;
    MapReader s(ctx, r.get("capacity"), path + ".capacity");
    s.integer("max_in_flight", c.max_in_flight, 0, 1'000'000);
    s.choice("overflow", c.overflow, {{"reject", service::Overflow::reject},
                                      {"refuse", service::Overflow::refuse},
                                      {"queue", service::Overflow::queue}});
    s.integer("queue", c.queue_length, 0, static_cast<long long>(service::kMaxQueueLength));
    s.integer("overflow_status", c.overflow_status, 400, 599);
    s.finish();
  }
  {
    auto& h = g.behaviour.health;
    MapReader s(ctx, r.get("health"), path + ".health");
    s.choice("mode", h.mode, {{"healthy", service::HealthMode::healthy},
                              {"failing", service::HealthMode::failing},
                              {"flapping", service::HealthMode::flapping},
                              {"lying", service::HealthMode::lying}});
    s.duration("flap_period", h.flap_period);
    if (const auto v = s.get("flap_period"); v && h.flap_period <= Duration::zero())
      ctx.error(v, path + ".health.flap_period", "must be above 0");
    s.duration("delay", h.delay);
    s.finish();
  }
  if (const auto paths = r.get("paths")) {
    if (!paths.IsSequence()) ctx.error(paths, path + ".paths", "expected a list of {prefix, latency, error_rate, error_status}");
    else
      for (std::size_t i = 0; i < paths.size(); ++i) {
        if (i == service::kMaxPathOverrides) {
          ctx.error(paths[i], path + ".paths." + std::to_string(i),
                    "at most " + std::to_string(service::kMaxPathOverrides) + " path overrides");
          break;
        }
        const std::string pp = path + ".paths." + std::to_string(i);
        service::PathOverride o;
        MapReader s(ctx, paths[i], pp);
        s.string("prefix", o.prefix, true);
        if (const auto lat = s.get("latency")) {
          o.latency = service::LatencySpec{};
          readLatency(ctx, lat, pp + ".latency", *o.latency);
        }
        if (s.get("error_rate")) {
          double rate = 0;
          s.percent("error_rate", rate);
          o.error_rate = rate;
        }
        if (s.get("error_status")) {
          std::uint16_t st = 500;
          s.integer("error_status", st, 500, 599);
          o.error_status = st;
        }
        s.finish();
        g.behaviour.paths.push_back(std::move(o));
      }
  }
  {
    MapReader s(ctx, r.get("shutdown"), path + ".shutdown");
    s.choice("on_sigterm", g.behaviour.shutdown.on_sigterm,
             {{"graceful", service::OnSigterm::graceful},
              {"immediate", service::OnSigterm::immediate},
              {"ignore", service::OnSigterm::ignore}});
    s.duration("pre_stop_delay", g.behaviour.shutdown.pre_stop_delay);
    s.duration("drain_timeout", g.behaviour.shutdown.drain_timeout);
    s.boolean("close_keepalive", g.behaviour.shutdown.close_keepalive);
    s.duration("grace_period", g.stop_grace);
    if (const auto sig = s.get("stop_signal")) {
      const auto n = sig.IsScalar() ? signalNumber(sig.Scalar()) : std::nullopt;
      if (!n || *n == SIGKILL || *n == SIGSTOP)
        ctx.error(sig, path + ".shutdown.stop_signal", "expected a signal name like SIGTERM, SIGINT or SIGQUIT");
      else
        g.stop_signal = *n, g.stop_signal_name = sig.Scalar().rfind("SIG", 0) == 0 ? sig.Scalar() : "SIG" + sig.Scalar();
    }
    s.finish();
  }
  r.finish();
  return g;
}

LoadSpec readLoad(Ctx& ctx, const YAML::Node& node, const std::string& path) {
  LoadSpec l;
  l.loc = locOf(node);
  MapReader r(ctx, node, path);
  r.choice("model", l.model, {{"open", LoadModel::open}, {"closed", LoadModel::closed}});
  const bool closed = l.model == LoadModel::closed;
  if (closed) {
    r.integer("workers", l.workers, 1, 4096, true);
    r.duration("think", l.think);
    std::string dist = "fixed";
    r.choice("think_distribution", dist, {{"fixed", std::string("fixed")}, {"exponential", std::string("exponential")}});
    l.think_exponential = dist == "exponential";
    for (const char* k : {"arrivals", "rate", "from", "steps"})
      if (const auto v = r.get(k)) ctx.error(v, path + "." + k, "a closed-loop block has no schedule: use workers and think");
  } else {
    for (const char* k : {"workers", "think", "think_distribution"})
      if (const auto v = r.get(k)) ctx.error(v, path + "." + k, "only for model: closed");
  }
  r.choice("arrivals", l.arrivals,
           {{"constant", ArrivalKind::constant}, {"poisson", ArrivalKind::poisson},
            {"ramp", ArrivalKind::ramp}, {"step", ArrivalKind::step}});
  r.rate("rate", l.rate_per_s, !closed && l.arrivals != ArrivalKind::step);
  r.rate("from", l.from_per_s);
  if (const auto steps = r.get("steps", !closed && l.arrivals == ArrivalKind::step)) {
    if (!steps.IsSequence() || steps.size() == 0) {
      ctx.error(steps, path + ".steps", "expected a list of {at, rate}");
    } else {
      for (std::size_t i = 0; i < steps.size(); ++i) {
        RateStep st;
        MapReader sr(ctx, steps[i], path + ".steps." + std::to_string(i));
        sr.duration("at", st.at, true);
        sr.rate("rate", st.rate_per_s, true);
        sr.finish();
        if (!l.steps.empty() && st.at < l.steps.back().at)
          ctx.error(steps[i], path + ".steps." + std::to_string(i) + ".at", "steps must be in time order");
        l.steps.push_back(st);
      }
    }
  }
  r.integer("connections", l.connections, 1, 4096);
  bool keepalive = true;  // the older key: false means connection_policy: new_per_request
  r.boolean("keepalive", keepalive);
  if (!keepalive) l.connection_policy = ConnectionPolicy::new_per_request;
  const bool policySet = static_cast<bool>(r.get("connection_policy"));
  r.choice("connection_policy", l.connection_policy,
           {{"keepalive", ConnectionPolicy::keepalive}, {"new_per_request", ConnectionPolicy::new_per_request},
            {"mixed", ConnectionPolicy::mixed}});
  if (policySet && !keepalive && l.connection_policy != ConnectionPolicy::new_per_request)
    ctx.error(node, path + ".keepalive", "keepalive: false contradicts connection_policy");
  if (const auto v = r.get("fresh_connections")) {
    r.percent("fresh_connections", l.fresh_fraction);
    if (l.connection_policy != ConnectionPolicy::mixed)
      ctx.error(v, path + ".fresh_connections", "only with connection_policy: mixed");
  } else if (l.connection_policy == ConnectionPolicy::mixed) {
    ctx.error(node, path + ".fresh_connections", "connection_policy: mixed needs fresh_connections (a percentage)");
  }
  r.duration("timeout", l.timeout);
  r.string("path", l.path);
  r.choice("method", l.method,
           {{"GET", std::string("GET")}, {"POST", std::string("POST")}, {"PUT", std::string("PUT")},
            {"DELETE", std::string("DELETE")}, {"PATCH", std::string("PATCH")}});
  r.duration("start", l.start);
  r.optDuration("duration", l.length);
  r.finish();
  if (!l.path.starts_with("/")) ctx.error(node, path + ".path", "a path starts with '/'");
  else if (!printable(l.path) || l.path.find(' ') != std::string::npos)
    ctx.error(node, path + ".path", "a path has no spaces or control characters");
  if (l.timeout <= Duration::zero()) ctx.error(node, path + ".timeout", "must be above 0");
  return l;
}

std::optional<int> signalNumber(const std::string& name) {
  static const std::vector<std::pair<std::string, int>> kSignals = {
      {"SIGTERM", SIGTERM}, {"SIGKILL", SIGKILL}, {"SIGINT", SIGINT},
      {"SIGHUP", SIGHUP},   {"SIGSTOP", SIGSTOP}, {"SIGCONT", SIGCONT}, {"SIGQUIT", SIGQUIT}};
  for (const auto& [n, v] : kSignals)
    if (n == name || n.substr(3) == name) return v;
  return std::nullopt;
}

FaultAction readFault(Ctx& ctx, const YAML::Node& node, const std::string& path) {
  FaultAction f;
  MapReader r(ctx, node, path);
  r.string("target", f.target, true);
  if (const auto t = r.get("target"); t && t.IsScalar() && t.Scalar().empty())
    ctx.error(t, path + ".target", "expected a pool or instance name");
  double rate = -1;
  r.percent("error_rate", rate);
  std::vector<std::string> said;  // the same, as a person reads it (events, messages)
  if (rate >= 0) {
    f.commands.push_back("fault error_rate=" + std::to_string(rate));
    char pct[32];
    std::snprintf(pct, sizeof pct, "%g%%", rate * 100);
    said.push_back(std::string("error_rate=") + pct);
  }
  Duration latency{-1};
  r.duration("latency", latency);
  if (latency >= Duration::zero()) {
    f.commands.push_back("fault latency=+" + std::to_string(latency.count() / 1000) + "us");
    said.push_back("latency=+" + formatDuration(latency));
  }
  std::string kind;
  r.choice("kind", kind, {{"hang", std::string("hang")}, {"close", std::string("close")},
                          {"reset", std::string("reset")}, {"refuse", std::string("refuse")},
                          {"pause", std::string("pause")}, {"crash", std::string("crash")}});
  if (!kind.empty()) {
    f.commands.push_back("fault " + kind);
    said.push_back(kind);
  }
  std::string health;
  r.choice("health", health, {{"healthy", std::string("healthy")}, {"failing", std::string("failing")},
                              {"flapping", std::string("flapping")}, {"lying", std::string("lying")}});
  if (!health.empty()) {
    f.commands.push_back("fault health=" + health);
    said.push_back("health=" + health);
  }
  r.finish();
  // Only when none was given at all (a bad one has its own error already).
  const bool anyGiven = r.get("error_rate") || r.get("latency") || r.get("kind") || r.get("health");
  if (f.commands.empty() && !anyGiven)
    ctx.error(node, path, "a fault needs at least one of error_rate, latency, kind, health");
  for (const auto& c : said) f.text += (f.text.empty() ? "" : "; ") + c;
  return f;
}

std::optional<Condition> readCondition(Ctx& ctx, const YAML::Node& node, const std::string& path) {
  Condition c;
  MapReader r(ctx, node, path);
  int kinds = 0;
  for (const auto& [key, kind] : std::vector<std::pair<std::string, Condition::Kind>>{
           {"healthy", Condition::Kind::healthy}, {"drained", Condition::Kind::drained},
           {"switched", Condition::Kind::switched}}) {
    if (const auto v = r.get(key)) {
      ++kinds;
      c.kind = kind;
      if (!v.IsScalar() || v.Scalar().empty()) ctx.error(v, path + "." + key, "expected a pool name");
      else c.pool = v.Scalar(), c.text = key + ": " + c.pool;
    }
  }
  if (r.get("rolled_back")) {
    ++kinds;
    bool yes = true;
    r.boolean("rolled_back", yes);
    if (!yes) ctx.error(node, path + ".rolled_back", "only 'rolled_back: true' can be waited for");
    c.kind = Condition::Kind::rolled_back;
    c.text = "rolled_back";
  }
  r.duration("within", c.within);
  r.finish();
  if (c.within <= Duration::zero()) ctx.error(node, path + ".within", "must be above 0");
  if (kinds != 1) {
    ctx.error(node, path, "a condition has exactly one of healthy, drained, switched, rolled_back");
    return std::nullopt;
  }
  return c;
}

// A timeline step; with `between` (explore.faults) an action with
// `between: [from, to]` instead of `at`/`when`.
constexpr std::size_t kMaxExploreFaults = 32;

std::optional<TimelineStep> readStep(Ctx& ctx, const YAML::Node& node, const std::string& path,
                                     ExploreFault* between = nullptr) {
  TimelineStep step;
  step.loc = locOf(node);
  step.key = path;
  MapReader r(ctx, node, path);
  if (between) {
    between->loc = step.loc;
    const auto b = r.get("between", true);
    const auto dur = [&](const YAML::Node& v) -> std::optional<Duration> {
      const auto d = v.IsScalar() ? parseDuration(v.Scalar()) : std::nullopt;
      if (!d) ctx.error(v, path + ".between", "expected a duration with a unit, like 250ms or 2s");
      return d ? std::optional<Duration>(ctx.scaled(*d)) : std::nullopt;
    };
    if (b && (!b.IsSequence() || b.size() != 2)) {
      ctx.error(b, path + ".between", "expected [from, to], like [1s, 4s]");
    } else if (b) {
      const auto from = dur(b[0]);
      const auto to = dur(b[1]);
      if (from && to && *to < *from) ctx.error(b, path + ".between", "from must not be after to");
      if (from && to) between->from = *from, between->to = *to;
    }
  } else {
    const auto when = r.get("when");
    r.duration("at", step.at, !when);
    if (when) step.when = readCondition(ctx, when, path + ".when");
  }
  int actions = 0;
  if (const auto v = r.get("start")) {
    ++actions;
    if (!v.IsScalar()) ctx.error(v, path + ".start", "expected a pool name");
    else step.action = StartAction{v.Scalar()};
  }
  if (const auto v = r.get("switch")) {
    ++actions;
    if (!v.IsScalar()) ctx.error(v, path + ".switch", "expected a pool name");
    else step.action = SwitchAction{v.Scalar()};
  }
  if (const auto v = r.get("signal")) {
    ++actions;
    SignalAction s;
    MapReader sr(ctx, v, path + ".signal");
    sr.string("target", s.target, true);
    if (const auto t = sr.get("target"); t && t.IsScalar() && t.Scalar().empty())
      ctx.error(t, path + ".signal.target", "expected a pool or instance name");
    sr.string("signal", s.signal_name);
    sr.finish();
    if (const auto n = signalNumber(s.signal_name)) s.signal = *n;
    else ctx.error(v, path + ".signal.signal", "unknown signal '" + s.signal_name + "'");
    step.action = s;
  }
  for (const char* key : {"stop", "kill", "heal"}) {
    if (const auto v = r.get(key)) {
      ++actions;
      if (!v.IsScalar() || v.Scalar().empty()) {
        ctx.error(v, path + "." + key, "expected a pool or instance name");
      } else if (std::string(key) == "stop") {
        step.action = StopAction{v.Scalar()};
      } else if (std::string(key) == "kill") {
        step.action = SignalAction{v.Scalar(), SIGKILL, "SIGKILL"};
      } else {
        step.action = HealAction{v.Scalar()};
      }
    }
  }
  if (const auto v = r.get("rollback")) {
    ++actions;
    if (!v.IsScalar() || v.Scalar() != "now") ctx.error(v, path + ".rollback", "expected 'now'");
    step.action = RollbackAction{};
  }
  if (const auto v = r.get("fault")) {
    ++actions;
    step.action = readFault(ctx, v, path + ".fault");
  }
  if (const auto v = r.get("scale")) {
    ++actions;
    ScaleAction a;
    MapReader sr(ctx, v, path + ".scale");
    sr.string("pool", a.pool, true);
    readInstances(ctx, sr, path + ".scale", a.instances, 0, true);
    sr.finish();
    step.action = a;
  }
  r.finish();
  if (actions != 1) {
    ctx.error(node, path, actions == 0 ? "a step needs one action: start, switch, signal, stop, kill, fault, heal, rollback or scale"
                                       : "a step takes exactly one action");
    return std::nullopt;
  }
  return step;
}

std::optional<Bound> parseBound(const std::string& text) {
  std::string s = text;
  Bound b;
  b.text = text;
  auto eat = [&](const std::string& op, Compare c) {
    if (s.rfind(op, 0) != 0) return false;
    b.op = c;
    s = s.substr(op.size());
    return true;
  };
  if (!(eat("<=", Compare::le) || eat(">=", Compare::ge) || eat("==", Compare::eq) ||
        eat("<", Compare::lt) || eat(">", Compare::gt)))
    b.op = Compare::le;  // a bare number is an upper bound: "dropped: 0"
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty() || !std::isfinite(v)) return std::nullopt;
  b.value = v;
  return b;
}

enum class Unit { count, duration, percent };

// "< 300ms", "<= 5", "0", "< 1%": a comparison and a value in canonical units.
std::optional<Bound> parseBoundOf(const std::string& text, Unit unit, double time_scale) {
  std::string s = text;
  while (!s.empty() && s.back() == ' ') s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == '<' || s[i] == '>' || s[i] == '=' || s[i] == ' ')) ++i;
  std::string op = s.substr(0, i);
  op.erase(std::remove(op.begin(), op.end(), ' '), op.end());
  std::string number = s.substr(i);
  if (unit == Unit::count) return parseBound(op + number);
  double value = 0;
  if (unit == Unit::duration) {
    const auto d = parseDuration(number);
    if (!d) return std::nullopt;
    value = toMillis(*d) * time_scale;
  } else {
    const auto p = parsePercent(number);
    if (!p) return std::nullopt;
    value = *p;
  }
  auto b = parseBound(op + "0");
  if (!b) return std::nullopt;
  b->value = value;
  b->text = text;
  return b;
}

// What a bound on a measure that is never negative (a count, a latency, a
// rate) can say: a count is a whole number, and no bound is one that no run
// could meet ("< 0", "-1"). Empty when fine.
// A count as scenarios/schema.json's countBound writes it: digits, then
// optionally ".0..." and an exponent ("10", "10.0", "1e3"); `text` is the
// whole scalar, comparison included.
bool countText(std::string_view text) {
  std::size_t i = text.find_first_not_of("<>= \t");
  if (i == std::string_view::npos) return false;
  std::size_t end = text.find_last_not_of(" \t") + 1;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < end && text[i] >= '0' && text[i] <= '9') ++i;
    return i > from;
  };
  if (!digits()) return false;
  if (i < end && text[i] == '.')
    for (++i; i < end && text[i] == '0';) ++i;
  if (i < end && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < end && text[i] == '+') ++i;
    if (!digits()) return false;
  }
  return i == end;
}

std::string boundProblem(const Bound& b, Unit unit, const std::string& text) {
  if (b.value < 0 || std::signbit(b.value)) return "a negative bound: the measure is never negative";
  if (b.op == Compare::lt && b.value == 0) return "'< 0' can never hold: the measure is never negative";
  if (unit == Unit::count && !countText(text))  // digits with ".0..." and a whole exponent: a whole number
    return "a count is a whole number, in digits (10, 10.0 or 1e3)";
  return "";
}

void readExpect(Ctx& ctx, const YAML::Node& node, Expectations& out) {
  MapReader r(ctx, node, "expect");
  struct Known {
    const char* key;
    const char* measure;
    Unit unit;
  };
  static const Known kKnown[] = {
      {"app_errors", "summary.app_error", Unit::count},
      {"app_error_rate", "summary.app_error_rate", Unit::percent},
      {"p50", "summary.latency.p50_ms", Unit::duration},
      {"p90", "summary.latency.p90_ms", Unit::duration},
      {"p99", "summary.latency.p99_ms", Unit::duration},
      {"max_latency", "summary.latency.max_ms", Unit::duration},
      {"p90_in_any_1s", "summary.worst_window.p90_ms", Unit::duration},
      {"p99_in_any_1s", "summary.worst_window.p99_ms", Unit::duration},
      {"dropped_rate_in_any_1s", "summary.worst_window.dropped_rate", Unit::percent},
      {"switch_latency", "switch_latency_ms", Unit::duration},
      {"drain_time", "drain_time_ms", Unit::duration},
      {"rollback_detect", "rollback_detect_latency_ms", Unit::duration},
      {"rollback_recovery", "rollback_recovery_latency_ms", Unit::duration},
      {"blast_radius", "blast_radius_requests", Unit::count},
      {"switcher_retries", "switcher_retries", Unit::count},
  };
  for (const auto& k : kKnown) {
    const auto v = r.get(k.key);
    if (!v) continue;
    const auto b = v.IsScalar() ? parseBoundOf(v.Scalar(), k.unit, ctx.time_scale) : std::nullopt;
    if (!b) {
      const char* example = k.unit == Unit::count ? "'< 10' or 0" : k.unit == Unit::duration ? "'< 300ms'" : "'< 1%'";
      ctx.error(v, std::string("expect.") + k.key, std::string("expected a bound like ") + example);
      continue;
    }
    if (const auto problem = boundProblem(*b, k.unit, v.Scalar()); !problem.empty()) {
      ctx.error(v, std::string("expect.") + k.key, problem + " (got '" + v.Scalar() + "')");
      continue;
    }
    out.measures.push_back({k.key, k.measure, *b, locOf(v)});
  }
  if (r.get("clean_exit")) {
    bool clean = false;
    r.boolean("clean_exit", clean);
    out.clean_exit = clean;
  }
  if (r.get("rolled_back")) {
    bool rb = false;
    r.boolean("rolled_back", rb);
    out.rolled_back = rb;
  }
  if (const auto v = r.get("dropped")) {
    const auto b = v.IsScalar() ? parseBound(v.Scalar()) : std::nullopt;
    if (!b) ctx.error(v, "expect.dropped", "expected a count or a bound like '< 10', got '" +
                                               (v.IsScalar() ? v.Scalar() : std::string("?")) + "'");
    else if (const auto problem = boundProblem(*b, Unit::count, v.Scalar()); !problem.empty())
      ctx.error(v, "expect.dropped", problem + " (got '" + v.Scalar() + "')");
    else out.dropped = b;
  }
  std::string active;
  r.string("final_active", active);
  if (!active.empty()) out.final_active = active;
  r.finish();
}

// Checks that need the whole scenario: pools exist, steps happen in a
// possible order, times fit in the run.
void checkSemantics(Ctx& ctx, const YAML::Node& root, Scenario& s) {
  const auto where = [&](const SourceLoc& loc, const std::string& key, const std::string& msg) {
    ctx.errors.push_back({ctx.file, loc.line, loc.column, key, msg});
  };
  std::set<std::string> pools;
  for (const auto& g : s.services) pools.insert(g.name);
  std::vector<std::string> names(pools.begin(), pools.end());
  const auto most = mostInstances(s);
  std::set<std::string> started;  // by timed steps so far
  std::set<std::string> startedAnywhere;
  for (const auto& step : s.timeline)
    if (const auto* a = std::get_if<StartAction>(&step.action)) startedAnywhere.insert(a->pool);
  std::stable_sort(s.timeline.begin(), s.timeline.end(),
                   [](const TimelineStep& a, const TimelineStep& b) { return a.at < b.at; });
  std::set<std::string> startedOnce;
  // A `rollback: now` that itself waits for a rollback can never fire.
  const bool canRollBackByHand = std::any_of(s.timeline.begin(), s.timeline.end(), [](const TimelineStep& t) {
    return std::holds_alternative<RollbackAction>(t.action) &&
           (!t.when || t.when->kind != Condition::Kind::rolled_back);
  });
  for (std::size_t i = 0; i < s.timeline.size(); ++i) {
    const auto& step = s.timeline[i];
    const std::string& key = step.key;  // "timeline.3": its place in the file (the list is in time order here)
    // A step with `when:` has no place in time order: what it needs must be
    // started by some step; a timed step needs it started before it.
    const auto& before = step.when ? startedAnywhere : started;
    if (step.at > s.duration)
      where(step.loc, key + ".at", "step at " + formatDuration(step.at) + " is after the end of the run (" +
                                       formatDuration(s.duration) + ")");
    const auto unknownPool = [&](const std::string& p, const std::string& k) {
      const auto hint = suggestKey(p, names);
      where(step.loc, k, "no service named '" + p + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    };
    if (step.when && step.when->kind != Condition::Kind::rolled_back) {
      const auto& p = step.when->pool;
      if (!pools.count(p)) unknownPool(p, key + ".when");
      else if (!startedAnywhere.count(p)) where(step.loc, key + ".when", "'" + p + "' is never started");
    } else if (step.when && s.switcher.core.rollback.on.empty() && !canRollBackByHand) {
      where(step.loc, key + ".when",
            "waits for a rollback, but nothing can roll back: no switcher.rollback.on triggers, and no 'rollback: now' step that does not wait for one itself");
    }
    if (const auto* a = std::get_if<StartAction>(&step.action)) {
      if (!pools.count(a->pool)) unknownPool(a->pool, key + ".start");
      else if (!startedOnce.insert(a->pool).second)
        where(step.loc, key + ".start", "'" + a->pool + "' is already started");
      if (!step.when) started.insert(a->pool);
    } else if (const auto* sw = std::get_if<SwitchAction>(&step.action)) {
      if (!pools.count(sw->pool)) unknownPool(sw->pool, key + ".switch");
      else if (!before.count(sw->pool))
        where(step.loc, key + ".switch", "switch to '" + sw->pool + "' before any step starts it");
    } else {
      std::string target;
      std::string k = key;
      if (const auto* sig = std::get_if<SignalAction>(&step.action)) target = sig->target, k += ".signal.target";
      if (const auto* st = std::get_if<StopAction>(&step.action)) target = st->target, k += ".stop";
      if (const auto* f = std::get_if<FaultAction>(&step.action)) target = f->target, k += ".fault.target";
      if (const auto* h = std::get_if<HealAction>(&step.action)) target = h->target, k += ".heal";
      if (const auto* sc = std::get_if<ScaleAction>(&step.action)) target = sc->pool, k += ".scale.pool";
      if (!target.empty()) {
        const auto dash = target.rfind('-');
        const std::string pool =
            pools.count(target) || dash == std::string::npos ? target : target.substr(0, dash);
        if (!pools.count(pool)) unknownPool(target, k);
        else if (const auto why = instanceTargetProblem(most, target); !why.empty()) where(step.loc, k, why);
        else if ((std::holds_alternative<FaultAction>(step.action) || std::holds_alternative<HealAction>(step.action)) &&
                 std::any_of(s.services.begin(), s.services.end(),
                             [&](const ServiceGroup& g) { return g.name == pool && !g.command.empty(); }))
          where(step.loc, k, "faults go through the fake service's control channel; '" + pool +
                                 "' runs its own command (use signal, stop or kill)");
        else if (!before.count(pool)) where(step.loc, k, "'" + pool + "' is not started before this step");
      }
    }
  }
  for (std::size_t i = 0; i < s.explore.size(); ++i) {
    const auto& f = s.explore[i];
    const std::string key = "explore.faults." + std::to_string(i);
    // A window past the end is not checked here: `run --set duration=...`
    // ignores the block; `cutover explore` checks it (windowsPastTheEnd).
    if (std::holds_alternative<StartAction>(f.step.action))
      where(f.loc, key + ".start", "a fault cannot start a pool (start it in the timeline)");
    const std::string target = actionTarget(f.step.action);
    if (target.empty()) continue;
    const auto dash = target.rfind('-');
    const std::string pool = pools.count(target) || dash == std::string::npos ? target : target.substr(0, dash);
    if (!pools.count(pool)) {
      const auto hint = suggestKey(target, names);
      where(f.loc, key, "no service named '" + target + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    } else if (!startedAnywhere.count(pool)) {
      where(f.loc, key, "'" + pool + "' is never started by the timeline");
    }
  }
  const auto firstTimed = std::find_if(s.timeline.begin(), s.timeline.end(),
                                       [](const TimelineStep& st) { return !st.when; });
  const bool startsAtZero = firstTimed != s.timeline.end() && firstTimed->at == Duration::zero() &&
                            std::holds_alternative<StartAction>(firstTimed->action);
  if (!startsAtZero)
    where(locOf(root["timeline"]), "timeline", "the first step must start a pool at 0s (it takes the first traffic)");
  for (std::size_t i = 0; i < s.load.size(); ++i)
    if (s.load[i].start >= s.duration)
      where(s.load[i].loc, "load." + std::to_string(i) + ".start", "starts after the end of the run");
  if (s.expect.final_active && !pools.count(*s.expect.final_active))
    where(locOf(root["expect"]), "expect.final_active", "no service named '" + *s.expect.final_active + "'");
  // Every request is recorded (56 B): the load's arrivals at their peak rates
  // over the run must fit kMaxRequests, or a simulated run would exhaust
  // memory (or stop sending) long after it started.
  double arrivals = 0;  // as a double: rate x duration may be far past size_t here
  for (const auto& l : s.load)
    if (l.model != LoadModel::closed) arrivals += peakRate(l) * toSeconds(blockLength(s, l));
  if (arrivals > static_cast<double>(kMaxRequests)) {
    char msg[200];
    std::snprintf(msg, sizeof msg,
                  "the load asks for %.3g requests over the run (rate x duration); at most %.3g are recorded "
                  "(56 B each): lower a rate or the duration",
                  arrivals, static_cast<double>(kMaxRequests));
    where(locOf(root["load"]), "load", msg);
  }
  // Every pool at its largest (`most`): the switcher's Core holds a bounded
  // number of backends (draining ones included).
  int total = 0;
  for (const auto& [pool, n] : most) total += n;
  if (total > kMaxTotalInstances)
    where(locOf(root["services"]), "services",
          "at most " + std::to_string(kMaxTotalInstances) + " instances in all (every pool at its largest), got " +
              std::to_string(total));
}

LoadOutcome loadFromNode(Ctx& ctx, const YAML::Node& root) {
  Scenario s;
  s.file = ctx.file;
  s.time_scale = ctx.time_scale;
  MapReader r(ctx, root, "");
  r.string("name", s.name, true);
  if (const auto n = r.get("name"); n && n.IsScalar())
    if (const auto why = runNameProblem(s.name); !why.empty()) ctx.error(n, "name", why);
  r.string("description", s.description);
  r.string("lesson", s.lesson);
  r.integer("seed", s.seed, 0, static_cast<long long>(kMaxSeed));
  r.duration("duration", s.duration, true);
  if (const auto services = r.get("services", true)) {
    if (!services.IsMap() || services.size() == 0)
      ctx.error(services, "services", "expected a mapping of pool name to service");
    else
      for (const auto& kv : services) {
        const auto name = kv.first.as<std::string>("");
        if (const auto why = poolNameProblem(name); !why.empty()) ctx.error(kv.first, "services." + name, why);
        else if (std::any_of(s.services.begin(), s.services.end(), [&](const auto& g) { return g.name == name; }))
          ctx.error(kv.first, "services." + name, "duplicate key (only one value is allowed)");
        else s.services.push_back(readService(ctx, name, kv.second));
      }
  }
  {
    MapReader sw(ctx, r.get("switcher"), "switcher");
    readSwitcherSection(ctx, sw, s.switcher);
    sw.finish();
  }
  if (const auto load = r.get("load", true)) {
    if (!load.IsSequence() || load.size() == 0) ctx.error(load, "load", "expected a list of load blocks");
    else if (load.size() > kMaxLoadBlocks)  // the simulator keys a block's events by 8 bits
      ctx.error(load, "load", "at most " + std::to_string(kMaxLoadBlocks) + " load blocks, got " +
                                  std::to_string(load.size()));
    else
      for (std::size_t i = 0; i < load.size(); ++i) s.load.push_back(readLoad(ctx, load[i], "load." + std::to_string(i)));
  }
  if (const auto tl = r.get("timeline", true)) {
    if (!tl.IsSequence() || tl.size() == 0) ctx.error(tl, "timeline", "expected a list of steps");
    else
      for (std::size_t i = 0; i < tl.size(); ++i)
        if (auto step = readStep(ctx, tl[i], "timeline." + std::to_string(i))) s.timeline.push_back(*step);
  }
  if (const auto e = r.get("expect")) readExpect(ctx, e, s.expect);
  if (const auto m = r.get("matrix")) {
    if (!m.IsMap() || m.size() == 0) {
      ctx.error(m, "matrix", "expected a mapping of key to a list of values, like {green.instances: [1, 2]}");
    } else {
      for (const auto& kv : m) {
        MatrixAxis axis;
        axis.key = kv.first.as<std::string>("");
        axis.loc = locOf(kv.first);
        const std::string key = "matrix." + axis.key;
        if (std::any_of(s.matrix.begin(), s.matrix.end(), [&](const MatrixAxis& a) { return a.key == axis.key; })) {
          ctx.error(kv.first, key, "duplicate key (only one value is allowed)");
          continue;
        }
        if (!kv.second.IsSequence() || kv.second.size() == 0) {
          ctx.error(kv.second, key, "expected a list of values");
          continue;
        }
        for (const auto& v : kv.second) {
          if (!v.IsScalar()) ctx.error(v, key, "expected a scalar value (a number, a rate, a duration, a word)");
          else axis.values.push_back(v.Scalar());
        }
        if (axis.key == "matrix" || axis.key.rfind("matrix.", 0) == 0)
          ctx.error(kv.first, key, "a matrix cannot vary itself");
        s.matrix.push_back(std::move(axis));
      }
    }
  }
  if (const auto ex = r.get("explore")) {
    MapReader er(ctx, ex, "explore");
    const auto faults = er.get("faults", true);
    er.finish();
    if (faults && (!faults.IsSequence() || faults.size() == 0 || faults.size() > kMaxExploreFaults)) {
      ctx.error(faults, "explore.faults",
                "expected a list of 1 to " + std::to_string(kMaxExploreFaults) +
                    " faults like {between: [1s, 4s], kill: green-1}");
    } else if (faults) {
      for (std::size_t i = 0; i < faults.size(); ++i) {
        ExploreFault f;
        if (auto step = readStep(ctx, faults[i], "explore.faults." + std::to_string(i), &f)) {
          f.step = std::move(*step);
          s.explore.push_back(std::move(f));
        }
      }
    }
  }
  {
    MapReader v(ctx, r.get("validity"), "validity");
    v.percent("min_send_rate", s.validity.min_rate_fraction);
    v.percent("max_late_sends", s.validity.max_late_fraction);
    v.finish();
  }
  r.finish();
  if (s.duration <= Duration::zero()) ctx.error(root["duration"], "duration", "must be above 0");
  if (ctx.errors.empty()) checkSemantics(ctx, root, s);
  LoadOutcome out;
  out.errors = std::move(ctx.errors);
  if (out.errors.empty()) out.scenario = std::move(s);
  return out;
}

}  // namespace

std::string Diagnostic::str() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ":" << line << ":" << column;
  os << ": ";
  if (!key.empty()) os << key << ": ";
  os << message;
  return os.str();
}

bool Bound::holds(double measured) const {
  switch (op) {
    case Compare::lt: return measured < value;
    case Compare::le: return measured <= value;
    case Compare::eq: return measured == value;
    case Compare::ge: return measured >= value;
    case Compare::gt: return measured > value;
  }
  return false;
}

std::string describeAction(const Action& action) {
  struct V {
    std::string operator()(const StartAction& a) const { return "start " + a.pool; }
    std::string operator()(const SwitchAction& a) const { return "switch " + a.pool; }
    std::string operator()(const SignalAction& a) const { return a.signal_name + " " + a.target; }
    std::string operator()(const StopAction& a) const { return "stop " + a.target; }
    std::string operator()(const FaultAction& a) const { return "fault " + a.target + " (" + a.text + ")"; }
    std::string operator()(const HealAction& a) const { return "heal " + a.target; }
    std::string operator()(const RollbackAction&) const { return "rollback"; }
    std::string operator()(const ScaleAction& a) const {
      return "scale " + a.pool + " to " + std::to_string(a.instances);
    }
  };
  return std::visit(V{}, action);
}

const ServiceGroup* Scenario::service(const std::string& pool) const {
  for (const auto& g : services)
    if (g.name == pool) return &g;
  return nullptr;
}

std::string suggestKey(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t bestDist = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::vector<std::size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] == c[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    if (prev[c.size()] < bestDist) bestDist = prev[c.size()], best = c;
  }
  return best;
}

LoadOutcome loadScenarioText(const std::string& text, const std::string& file_name,
                             const std::vector<std::string>& overrides) {
  return loadScenarioText(text, file_name, LoadOptions{overrides, 1.0});
}

LoadOutcome loadScenarioText(const std::string& text, const std::string& file_name, const LoadOptions& options) {
  const auto& overrides = options.overrides;
  Ctx ctx{file_name, {}};
  // kMinTimeScale, kMaxTimeScale (the message names them). At most 100 times shorter: below it a lesson's times fall under the
  // harness's own (a connect, a health check) and the run says only that it
  // did nothing, where validate had said ok.
  if (!(options.time_scale >= kMinTimeScale && options.time_scale <= kMaxTimeScale)) {
    ctx.errors.push_back(
        {"--time-scale", 0, 0, "", "must be between 0.01 and 100 (0.25: a quarter as long)"});
    return {std::nullopt, ctx.errors};
  }
  ctx.time_scale = options.time_scale;
  ctx.simulated = options.simulated;
  // One document: a second one (after `---` or `...`) would be silently
  // ignored. Found by its marker at column 0, not with YAML::LoadAll, which
  // loops without end on some malformed input (yaml-cpp 0.7; the fuzzer).
  if (const int line = secondDocumentLine(text); line > 0) {
    ctx.errors.push_back({file_name, line, 1, "---", "a scenario file holds one YAML document; this is a second one"});
    return {std::nullopt, ctx.errors};
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    ctx.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax: " + e.msg});
    return {std::nullopt, ctx.errors};
  }
  if (!root.IsMap()) {
    ctx.errors.push_back({file_name, 1, 1, "", "a scenario is a YAML mapping (name:, duration:, ...)"});
    return {std::nullopt, ctx.errors};
  }
  if (const auto tagged = foreignTag(root)) {
    ctx.errors.push_back({file_name, tagged->line + 1, tagged->column + 1, "", foreignTagProblem(*tagged)});
    return {std::nullopt, ctx.errors};
  }
  for (const auto& o : overrides) {
    const auto err = applyOverride(root, o);
    if (!err.empty()) ctx.errors.push_back({"--set", 0, 0, o.substr(0, o.find('=')), err});
  }
  if (!ctx.errors.empty()) return {std::nullopt, ctx.errors};
  try {
    auto out = loadFromNode(ctx, root);
    // An error in a value --set put there names the flag, not a line of the
    // file (the value has no place in it); so does an error in a list or map
    // the flag set a part of (explore.faults.0.between for ...between.0=-1s).
    for (auto& e : out.errors)
      for (const auto& o : overrides) {
        const std::string key = o.substr(0, o.find('='));
        if (e.key == key || e.key.starts_with(key + ".") || (!e.key.empty() && key.starts_with(e.key + "."))) {
          e.file = "--set " + o;
          e.line = e.column = 0;
        }
      }
    return out;
  } catch (const YAML::Exception& e) {
    ctx.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, "", e.msg});
    return {std::nullopt, ctx.errors};
  }
}

LoadOutcome loadScenarioFile(const std::string& path, const std::vector<std::string>& overrides) {
  return loadScenarioFile(path, LoadOptions{overrides, 1.0});
}

std::map<std::string, int> mostInstances(const Scenario& s) {
  std::map<std::string, int> most;
  for (const auto& g : s.services) most[g.name] = std::max(most[g.name], g.instances);
  const auto noteScale = [&](const Action& a) {
    if (const auto* sc = std::get_if<ScaleAction>(&a); sc && most.count(sc->pool))
      most[sc->pool] = std::max(most[sc->pool], sc->instances);
  };
  for (const auto& step : s.timeline) noteScale(step.action);
  for (const auto& f : s.explore) noteScale(f.step.action);
  return most;
}

std::string actionTarget(const Action& a) {
  if (const auto* sw = std::get_if<SwitchAction>(&a)) return sw->pool;
  if (const auto* sig = std::get_if<SignalAction>(&a)) return sig->target;
  if (const auto* st = std::get_if<StopAction>(&a)) return st->target;
  if (const auto* fa = std::get_if<FaultAction>(&a)) return fa->target;
  if (const auto* h = std::get_if<HealAction>(&a)) return h->target;
  if (const auto* sc = std::get_if<ScaleAction>(&a)) return sc->pool;
  return "";
}

std::string instanceTargetProblem(const std::map<std::string, int>& most, const std::string& target) {
  if (most.count(target)) return "";
  const auto dash = target.rfind('-');
  if (dash == std::string::npos) return "";
  const std::string pool = target.substr(0, dash);
  const auto it = most.find(pool);
  if (it == most.end()) return "";  // not a pool's instance at all: the caller's "no service named"
  const std::string n = target.substr(dash + 1);
  const bool number = !n.empty() && n.size() <= 6 && n[0] != '0' &&
                      std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (number && std::stoi(n) <= it->second) return "";
  return "no instance named '" + target + "': " + pool + "'s instances are " + pool + "-1" +
         (it->second > 1 ? " to " + pool + "-" + std::to_string(it->second) : std::string()) +
         " (instances, or the largest scale step)";
}

constexpr std::size_t kMaxScenarioBytes = 4u << 20;

LoadOutcome loadScenarioFile(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {std::nullopt, {{path, 0, 0, "", "a directory, not a scenario file"}}};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {std::nullopt, {{path, 0, 0, "", "cannot read the file"}}};
  // Read at most kMaxScenarioBytes (+1 to tell a larger file): a scenario is
  // a few KiB, and /dev/zero or a log given by mistake must not fill memory.
  std::string text(kMaxScenarioBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxScenarioBytes)
    return {std::nullopt, {{path, 0, 0, "", "larger than 4 MiB: not a scenario file"}}};
  return loadScenarioText(text, path, options);
}

}  // namespace cutover::scenario

namespace cutover::scenario {

std::optional<std::string> scheduleAsYaml(const std::string& path, const LoadOptions& options,
                                          const std::vector<std::pair<std::size_t, Duration>>& steps,
                                          std::uint64_t seed, const std::string& note, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return std::nullopt;
  }
  try {
    YAML::Node root = YAML::Load(in);
    for (const auto& o : options.overrides)
      if (const auto err = applyOverride(root, o); !err.empty()) {
        *error = err;
        return std::nullopt;
      }
    const YAML::Node faults = root["explore"]["faults"];
    YAML::Node timeline = root["timeline"];
    for (const auto& [index, at] : steps) {
      if (!faults.IsSequence() || index >= faults.size()) {
        *error = "explore.faults has no entry " + std::to_string(index);
        return std::nullopt;
      }
      YAML::Node step = YAML::Clone(faults[index]);
      step.remove("between");
      // In the file's own time: the run that reads it applies --time-scale again.
      const double ms = toMillis(at) / options.time_scale;
      const long long us = std::llround(ms * 1000.0);
      std::ostringstream text;
      if (us % 1'000'000 == 0) text << us / 1'000'000 << "s";
      else if (us % 1000 == 0) text << us / 1000 << "ms";
      else text << us << "us";
      YAML::Node timed;
      timed["at"] = text.str();
      for (const auto& kv : step) timed[kv.first] = kv.second;
      timeline.push_back(timed);
    }
    root.remove("explore");
    root["seed"] = seed;
    if (!note.empty()) root["description"] = note;
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str()) + "\n";
  } catch (const YAML::Exception& e) {
    *error = path + ": " + e.what();
    return std::nullopt;
  }
}

}  // namespace cutover::scenario
