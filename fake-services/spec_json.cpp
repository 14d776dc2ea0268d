#include "fake-services/spec_json.hpp"

#include <array>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace cutover::service {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxResponseBytes = 64u * 1024u * 1024u;
constexpr std::size_t kMaxSamples = 1'000'000;
constexpr std::size_t kMaxInFlight = 1'000'000;
constexpr double kMaxWarmupFactor = 1000.0;

constexpr std::array<std::pair<LatencyDistribution, std::string_view>, 5> kDistributions = {{
    {LatencyDistribution::fixed, "fixed"},
    {LatencyDistribution::uniform, "uniform"},
    {LatencyDistribution::normal, "normal"},
    {LatencyDistribution::lognormal, "lognormal"},
    {LatencyDistribution::empirical, "empirical"},
}};
constexpr std::array<std::pair<OnSigterm, std::string_view>, 3> kOnSigterm = {{
    {OnSigterm::graceful, "graceful"},
    {OnSigterm::immediate, "immediate"},
    {OnSigterm::ignore, "ignore"},
}};

constexpr std::array<std::pair<Overflow, std::string_view>, 3> kOverflow = {{
    {Overflow::reject, "reject"},
    {Overflow::refuse, "refuse"},
    {Overflow::queue, "queue"},
}};
constexpr std::array<std::pair<HealthMode, std::string_view>, 4> kHealthModes = {{
    {HealthMode::healthy, "healthy"},
    {HealthMode::failing, "failing"},
    {HealthMode::flapping, "flapping"},
    {HealthMode::lying, "lying"},
}};

template <class E, std::size_t N>
std::string_view nameOf(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "?";
}

// Reads typed fields of one JSON object; the first error wins and names the
// key by its dotted path ("latency.p50"). Missing keys keep their defaults.
class Reader {
 public:
  Reader(const json& object, std::string prefix, std::optional<Error>& error)
      : object_(object), prefix_(std::move(prefix)), error_(error) {
    if (!object_.is_object() && !error_) {
      const std::string where = prefix_.empty() ? "" : " " + prefix_.substr(0, prefix_.size() - 1);
      error_ = Error{"spec" + where + ": expected an object"};
    }
  }

  void only(std::initializer_list<std::string_view> keys) {
    if (!object_.is_object()) return;
    for (const auto& [key, value] : object_.items()) {
      bool known = false;
      for (const auto k : keys) known = known || k == key;
      if (!known) fail(prefix_ + key, "unknown key");
    }
  }

  const json* find(std::string_view key) const {
    if (!object_.is_object()) return nullptr;
    const auto it = object_.find(std::string(key));
    return it == object_.end() ? nullptr : &*it;
  }

  void duration(std::string_view key, Duration& out) {
    if (const json* v = find(key)) {
      if (!v->is_number_integer() || v->get<std::int64_t>() < 0) {
        return fail(key, "expected a non-negative integer (nanoseconds)");
      }
      out = Duration{v->get<std::int64_t>()};
    }
  }

  void durations(std::string_view key, std::vector<Duration>& out) {
    if (const json* v = find(key)) {
      if (!v->is_array() || v->size() > kMaxSamples) return fail(key, "expected an array of nanoseconds");
      out.clear();
      for (const auto& e : *v) {
        if (!e.is_number_integer() || e.get<std::int64_t>() < 0) {
          return fail(key, "expected non-negative integers (nanoseconds)");
        }
        out.emplace_back(e.get<std::int64_t>());
      }
    }
  }

  void number(std::string_view key, double& out, double lo, double hi) {
    if (const json* v = find(key)) {
      if (!v->is_number() || !(v->get<double>() >= lo && v->get<double>() <= hi)) {
        return fail(key, "expected a number in [" + json(lo).dump() + ", " + json(hi).dump() + "]");
      }
      out = v->get<double>();
    }
  }

  template <class U>
  void unsignedInt(std::string_view key, U& out, std::uint64_t lo, std::uint64_t hi) {
    if (const json* v = find(key)) {
      const bool negative = v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0;
      if (!v->is_number_integer() || negative || v->get<std::uint64_t>() < lo || v->get<std::uint64_t>() > hi) {
        return fail(key, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      }
      out = static_cast<U>(v->get<std::uint64_t>());
    }
  }

  void boolean(std::string_view key, bool& out) {
    if (const json* v = find(key)) {
      if (!v->is_boolean()) return fail(key, "expected true or false");
      out = v->get<bool>();
    }
  }

  void string(std::string_view key, std::string& out) {
    if (const json* v = find(key)) {
      if (!v->is_string()) return fail(key, "expected a string");
      out = v->get<std::string>();
    }
  }

  template <class E, std::size_t N>
  void enumeration(std::string_view key, E& out, const std::array<std::pair<E, std::string_view>, N>& table) {
    if (const json* v = find(key)) {
      if (v->is_string()) {
        for (const auto& [value, name] : table) {
          if (name == v->get<std::string>()) {
            out = value;
            return;
          }
        }
      }
      std::string names;
      for (const auto& [value, name] : table) names += (names.empty() ? "" : ", ") + std::string(name);
      fail(key, "expected one of " + names);
    }
  }

  void fail(std::string_view key, const std::string& what) {
    if (!error_) error_ = Error{"spec " + prefix_ + std::string(key) + ": " + what};
  }

 private:
  const json& object_;
  std::string prefix_;
  std::optional<Error>& error_;
};

json toJsonDurations(const std::vector<Duration>& ds) {
  json a = json::array();
  for (const auto d : ds) a.push_back(d.count());
  return a;
}

void readLatency(const json& j, LatencySpec& l, std::optional<Error>& error) {
  Reader r(j, "latency.", error);
  r.only({"distribution", "p50", "p99", "value", "min", "max", "samples"});
  r.enumeration("distribution", l.distribution, kDistributions);
  r.duration("p50", l.p50);
  r.duration("p99", l.p99);
  r.duration("value", l.value);
  r.duration("min", l.min);
  r.duration("max", l.max);
  r.durations("samples", l.samples);
}

json latencyJson(const LatencySpec& l) {
  return json{{"distribution", nameOf(kDistributions, l.distribution)},
              {"p50", l.p50.count()},
              {"p99", l.p99.count()},
              {"value", l.value.count()},
              {"min", l.min.count()},
              {"max", l.max.count()},
              {"samples", toJsonDurations(l.samples)}};
}

json pathsJson(const std::vector<PathOverride>& paths) {
  json a = json::array();
  for (const auto& p : paths) {
    json o{{"prefix", p.prefix}};
    if (p.latency) o["latency"] = latencyJson(*p.latency);
    if (p.error_rate) o["error_rate"] = *p.error_rate;
    if (p.error_status) o["error_status"] = *p.error_status;
    a.push_back(std::move(o));
  }
  return a;
}

void readPaths(const json& j, std::vector<PathOverride>& out, std::optional<Error>& error) {
  if (!j.is_array() || j.size() > kMaxPathOverrides) {
    if (!error) error = Error{"spec paths: expected an array of at most " + std::to_string(kMaxPathOverrides) + " objects"};
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < j.size(); ++i) {
    PathOverride p;
    Reader r(j[i], "paths." + std::to_string(i) + ".", error);
    r.only({"prefix", "latency", "error_rate", "error_status"});
    r.string("prefix", p.prefix);
    if (const json* l = r.find("latency")) {
      p.latency = LatencySpec{};
      readLatency(*l, *p.latency, error);
    }
    if (r.find("error_rate")) {
      double v = 0.0;
      r.number("error_rate", v, 0.0, 1.0);
      p.error_rate = v;
    }
    if (r.find("error_status")) {
      std::uint16_t v = 500;
      r.unsignedInt("error_status", v, 100, 599);
      p.error_status = v;
    }
    out.push_back(std::move(p));
  }
}

}  // namespace

json toJson(const BehaviourSpec& spec) {
  return json{
      {"version", spec.version},
      {"latency", latencyJson(spec.latency)},
      {"error_rate", spec.error_rate},
      {"error_status", spec.error_status},
      {"response_bytes", spec.response_bytes},
      {"startup",
       {{"listen_after", spec.startup.listen_after.count()},
        {"ready_after", spec.startup.ready_after.count()},
        {"warmup", spec.startup.warmup.count()},
        {"warmup_factor", spec.startup.warmup_factor}}},
      {"shutdown",
       {{"on_sigterm", nameOf(kOnSigterm, spec.shutdown.on_sigterm)},
        {"pre_stop_delay", spec.shutdown.pre_stop_delay.count()},
        {"drain_timeout", spec.shutdown.drain_timeout.count()},
        {"close_keepalive", spec.shutdown.close_keepalive}}},
      {"capacity",
       {{"max_in_flight", spec.capacity.max_in_flight},
        {"overflow", nameOf(kOverflow, spec.capacity.overflow)},
        {"queue_length", spec.capacity.queue_length},
        {"overflow_status", spec.capacity.overflow_status}}},
      {"health",
       {{"mode", nameOf(kHealthModes, spec.health.mode)},
        {"flap_period", spec.health.flap_period.count()},
        {"delay", spec.health.delay.count()}}},
      {"paths", pathsJson(spec.paths)},
  };
}

Result<BehaviourSpec> specFromJson(const json& j) {
  BehaviourSpec spec;
  std::optional<Error> error;
  Reader r(j, "", error);
  r.only({"version", "latency", "error_rate", "error_status", "response_bytes", "startup", "shutdown",
          "capacity", "health", "paths"});
  r.string("version", spec.version);
  r.number("error_rate", spec.error_rate, 0.0, 1.0);
  r.unsignedInt("error_status", spec.error_status, 100, 599);
  r.unsignedInt("response_bytes", spec.response_bytes, 0, kMaxResponseBytes);
  if (const json* l = r.find("latency")) readLatency(*l, spec.latency, error);
  if (const json* s = r.find("startup")) {
    Reader rs(*s, "startup.", error);
    rs.only({"listen_after", "ready_after", "warmup", "warmup_factor"});
    rs.duration("listen_after", spec.startup.listen_after);
    rs.duration("ready_after", spec.startup.ready_after);
    rs.duration("warmup", spec.startup.warmup);
    rs.number("warmup_factor", spec.startup.warmup_factor, 0.0, kMaxWarmupFactor);
  }
  if (const json* s = r.find("shutdown")) {
    Reader rs(*s, "shutdown.", error);
    rs.only({"on_sigterm", "pre_stop_delay", "drain_timeout", "close_keepalive"});
    rs.enumeration("on_sigterm", spec.shutdown.on_sigterm, kOnSigterm);
    rs.duration("pre_stop_delay", spec.shutdown.pre_stop_delay);
    rs.duration("drain_timeout", spec.shutdown.drain_timeout);
    rs.boolean("close_keepalive", spec.shutdown.close_keepalive);
  }
  if (const json* c = r.find("capacity")) {
    Reader rc(*c, "capacity.", error);
    rc.only({"max_in_flight", "overflow", "queue_length", "overflow_status"});
    rc.unsignedInt("max_in_flight", spec.capacity.max_in_flight, 0, kMaxInFlight);
    rc.enumeration("overflow", spec.capacity.overflow, kOverflow);
    rc.unsignedInt("queue_length", spec.capacity.queue_length, 0, kMaxQueueLength);
    rc.unsignedInt("overflow_status", spec.capacity.overflow_status, 100, 599);
  }
  if (const json* h = r.find("health")) {
    Reader rh(*h, "health.", error);
    rh.only({"mode", "flap_period", "delay"});
    rh.enumeration("mode", spec.health.mode, kHealthModes);
    rh.duration("flap_period", spec.health.flap_period);
    rh.duration("delay", spec.health.delay);
  }
  if (const json* p = r.find("paths")) readPaths(*p, spec.paths, error);
  if (error) return *error;
  return spec;
}

}  // namespace cutover::service
