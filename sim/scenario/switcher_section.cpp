// The switcher section of a scenario (and of `cutover switcher --config`):
// kind, mode, timeouts and switcher::CoreOptions.
#include <string>
#include <vector>

#include "sim/scenario/yaml_reader.hpp"

namespace cutover::scenario::detail {
namespace {

// "> 5%" or "5%": the threshold above which a rollback trigger fires.
std::string stripAbove(std::string s) {
  if (s.rfind(">", 0) == 0) s.erase(0, 1);
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

void readRollbackTrigger(Ctx& ctx, const YAML::Node& node, const std::string& path,
                         std::vector<switcher::RollbackTrigger>& out) {
  using switcher::RollbackTrigger;
  RollbackTrigger t;
  MapReader r(ctx, node, path);
  int kinds = 0;
  if (const auto v = r.get("error_rate")) {
    ++kinds;
    t.kind = RollbackTrigger::Kind::error_rate;
    const auto p = v.IsScalar() ? parsePercent(stripAbove(v.Scalar())) : std::nullopt;
    if (!p) ctx.error(v, path + ".error_rate", "expected a percentage like \"> 5%\"");
    else t.error_rate = *p;
  }
  for (const auto& [key, q] : std::vector<std::pair<std::string, double>>{
           {"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}}) {
    if (const auto v = r.get(key)) {
      ++kinds;
      t.kind = RollbackTrigger::Kind::latency;
      t.percentile = q;
      t.min_requests = 1;
      const auto d = v.IsScalar() ? parseDuration(stripAbove(v.Scalar())) : std::nullopt;
      if (!d) ctx.error(v, path + "." + key, "expected a duration like \"> 100ms\"");
      else t.max_latency = ctx.scaled(*d);
    }
  }
  if (r.get("healthy_below")) {
    ++kinds;
    t.kind = RollbackTrigger::Kind::healthy_below;
    r.integer("healthy_below", t.healthy_below, 1, 4096);
  }
  r.duration("window", t.window);
  r.integer("min_requests", t.min_requests, 1, 1'000'000);
  r.finish();
  if (kinds != 1)
    ctx.error(node, path, "a rollback trigger has exactly one of error_rate, p50..p999, healthy_below");
  else
    out.push_back(t);
}

void readSwitcherCore(Ctx& ctx, MapReader& sw, switcher::CoreOptions& core) {
  sw.choice("policy", core.policy, {{"least_outstanding", switcher::Policy::least_outstanding},
                                    {"round_robin", switcher::Policy::round_robin}});
  sw.duration("drain_timeout", core.drain_timeout);
  sw.boolean("panic", core.panic);
  if (const auto rt = sw.get("retry")) {
    MapReader r(ctx, rt, "switcher.retry");
    r.boolean("enabled", core.retry.enabled);
    r.integer("attempts", core.retry.attempts, 0, 10);
    r.finish();
  }
  if (const auto hc = sw.get("health_check")) {
    core.health_check.enabled = true;
    MapReader h(ctx, hc, "switcher.health_check");
    h.string("path", core.health_check.path);
    h.duration("interval", core.health_check.interval);
    h.duration("timeout", core.health_check.timeout);
    h.duration("jitter", core.health_check.jitter);
    if (!core.health_check.path.starts_with("/"))
      ctx.error(h.get("path"), "switcher.health_check.path", "a path starts with '/'");
    for (const auto& [key, d] : {std::pair{"interval", core.health_check.interval},
                                 std::pair{"timeout", core.health_check.timeout}})
      if (d <= Duration::zero()) ctx.error(h.get(key), std::string("switcher.health_check.") + key, "must be above 0");
    h.integer("healthy_threshold", core.health_check.healthy_threshold, 1, 100);
    h.integer("unhealthy_threshold", core.health_check.unhealthy_threshold, 1, 100);
    h.finish();
  }
  {
    MapReader o(ctx, sw.get("outlier"), "switcher.outlier");
    o.integer("consecutive_5xx", core.outlier.consecutive_5xx, 0, 1000);
    o.duration("ejection", core.outlier.ejection);
    o.duration("max_ejection", core.outlier.max_ejection);
    if (core.outlier.max_ejection < core.outlier.ejection)
      ctx.error(o.get("max_ejection") ? o.get("max_ejection") : o.get("ejection"), "switcher.outlier.max_ejection",
                "must not be below ejection (" + formatDuration(core.outlier.ejection) + ")");
    double pct = core.outlier.max_ejection_percent / 100.0;
    o.percent("max_ejection_percent", pct);
    core.outlier.max_ejection_percent = pct * 100.0;
    o.finish();
  }
  if (const auto g = sw.get("switch")) {
    MapReader r(ctx, g, "switcher.switch");
    if (const auto v = r.get("require_healthy")) {
      if (v.IsScalar() && v.Scalar() == "all") {
        core.readiness.kind = switcher::ReadinessGate::Kind::all;
      } else {
        core.readiness.kind = switcher::ReadinessGate::Kind::at_least;
        r.integer("require_healthy", core.readiness.count, 0, 4096);
      }
    }
    r.duration("wait", core.readiness.wait);
    r.finish();
  }
  if (const auto rb = sw.get("rollback")) {
    MapReader r(ctx, rb, "switcher.rollback");
    if (const auto on = r.get("on", true)) {
      if (!on.IsSequence() || on.size() == 0) ctx.error(on, "switcher.rollback.on", "expected a list of triggers");
      else
        for (std::size_t i = 0; i < on.size(); ++i)
          readRollbackTrigger(ctx, on[i], "switcher.rollback.on." + std::to_string(i), core.rollback.on);
    }
    r.duration("bake", core.rollback.bake);
    r.duration("keep_previous_for", core.rollback.keep_previous_for);
    r.finish();
  }
}

}  // namespace

void readSwitcherSection(Ctx& ctx, MapReader& sw, SwitcherSpec& out) {
  sw.choice("kind", out.kind, {{"builtin", std::string("builtin")},
                               {"nginx", std::string("nginx")},
                               {"haproxy", std::string("haproxy")}});
  sw.choice("mode", out.mode, {{"l7", std::string("l7")}, {"l4", std::string("l4")}});
  out.core.mode = out.mode == "l4" ? switcher::Mode::l4 : switcher::Mode::l7;
  sw.duration("upstream_timeout", out.upstream_timeout);
  if (out.upstream_timeout <= Duration::zero())
    ctx.error(sw.get("upstream_timeout"), "switcher.upstream_timeout", "must be above 0 (every request would time out)");
  readSwitcherCore(ctx, sw, out.core);
}

}  // namespace cutover::scenario::detail
