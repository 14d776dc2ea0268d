// des::simulate / runSim: the engine, then the measuring the live runner does
// after its run (scenario::measureRun: summary, validity, measures, drop causes).
#include "sim/des/sim_runner.hpp"

#include "sim/des/engine.hpp"
#include "sim/scenario/run_support.hpp"

namespace cutover::des {

SimTrace simulate(const scenario::Scenario& scenario, const SimOptions& options) {
  detail::Sim sim(scenario, options);
  return sim.run();
}

RunResult measureTrace(const scenario::Scenario& sc, SimTrace trace, std::uint64_t seed) {
  RunResult r;
  r.scenario = sc.name;
  r.scenario_file = sc.file;
  r.mode = "sim";
  r.seed = seed;
  r.duration_s = toSeconds(sc.duration);
  r.time_scale = sc.time_scale;
  r.final_active = trace.final_active;
  r.instances = trace.instances;
  // The load generator's connections (its CPU cost is the live client's
  // own: nothing to say in virtual time, so 0).
  r.load_generator.peak_connections = trace.peak_connections;
  r.load_generator.connections_opened = trace.connections_opened;
  std::vector<std::string> invalid = trace.invalid;
  scenario::RunTrace t;
  t.records = std::move(trace.records);
  t.names = std::move(trace.names);
  t.events = std::move(trace.events);
  t.service_log = std::move(trace.service_log);
  t.t0_ns = trace.t0_ns;
  t.intended = trace.intended;
  t.load_length_s = trace.load_length_s;
  t.check_load = invalid.empty();
  t.simulated = true;
  t.switcher_retries = trace.switcher_retries;
  scenario::measureRun(sc, t, r, invalid);
  r.events = std::move(t.events);
  r.verdict.valid = invalid.empty();
  r.verdict.invalid_reasons = std::move(invalid);
  return r;
}

RunResult runSim(const scenario::Scenario& scenario, const SimOptions& options) {
  const std::uint64_t seed = options.seed.value_or(scenario.seed);
  return measureTrace(scenario, simulate(scenario, options), seed);
}

}  // namespace cutover::des
