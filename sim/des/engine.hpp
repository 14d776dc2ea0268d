#pragma once
// The discrete-event engine behind des::simulate (internal to sim/des).
//
// Theory of operation
// -------------------
// One thread, one virtual clock (ns), one EventQueue ordered by (time, seq).
// The parts are the real models, driven by events:
//   clients    per load block: the Arrivals model, a pool of at most
//              `connections` keep-alive connections to the switcher, a FIFO
//              of requests waiting for one, a timeout per request
//              (intended + timeout) as the live client has.
//   switcher   the real switcher::Core: route() when a request reaches it,
//              onRequestDone() when the upstream exchange ends, its timer at
//              nextDeadline(), its StartHealthCheck actions answered by the
//              instance's Behaviour::health(); per backend a count of idle
//              keep-alive upstream connections; the live proxy's rules: a
//              fresh connect when none is idle, one retry on a fresh
//              connection when a reused one fails before any byte, then
//              retries on another backend of the pool (switcher.retry) when
//              an attempt fails before any byte, 502/503/504 produced by
//              the switcher itself, an upstream deadline.
//   services   one real service::Behaviour per instance (startup, capacity
//              and queueing, shutdown sequences, faults, health), its one
//              timer at nextDeadline(), its actions carried out (listener,
//              idle connections closed, exit with in-flight reset).
//   network    fixed delays: a connect, one hop per message. A process that
//              dies resets what it had in service; connects to it are refused.
//   timeline   the scenario's steps at t0 + at, as the live runner fires them.
// A request's path: Arrival -> (client connection) -> AtSwitcher -> route ->
// (ConnectResult) -> AtService -> planRequest -> ServiceDone / StartRequest /
// UpstreamTimeout -> AtSwitcherResponse -> onRequestDone -> AtClient.
// Events of an exchange carry its generation: an exchange cut short (a kill,
// a timeout) bumps it, so its pending events are skipped.
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fake-services/behaviour.hpp"
#include "sim/des/event_queue.hpp"
#include "sim/des/sim_runner.hpp"
#include "sim/scenario/timeline.hpp"
#include "sim/loadgen/arrivals.hpp"
#include "sim/loadgen/closed_loop.hpp"
#include "sim/switcher/core.hpp"

namespace cutover::des::detail {

enum Kind : std::uint8_t {
  kArrival,             // target: block (closed loop: gen is the block's timer generation)
  kClientTimeout,       // target: block (lazy: one armed per block, for its oldest request)
  kAtSwitcher,          // target: exchange
  kConnectResult,       // target: exchange
  kAtService,           // target: exchange
  kServiceDone,         // target: exchange
  kUpstreamTimeout,     // target: exchange
  kAtSwitcherResponse,  // target: exchange
  kAtClient,            // target: (block << 24) | connection slot, gen: connection id
  kInstanceTimer,       // target: instance, gen: timer generation
  kReadyDeadline,       // target: instance
  kReadyProbe,          // target: instance (its /health did not answer 200 when it became ready: ask again)
  kReadyAnswer,         // target: instance (its /health answered 200 after health.delay)
  kKillAt,              // target: instance
  kCoreTimer,           // gen: timer generation
  kHealthAtService,     // target: pending check
  kHealthDone,          // target: pending check
  kTimelineStep,        // target: step index
  kConditionCheck,      // nothing: a `when:` step arms or reaches its deadline
  kWake,                // nothing: lets the loop re-check its end condition
};

inline constexpr std::uint32_t kNone = 0xFFFFFFFFu;

struct ClientConn {
  std::uint32_t id = 0;      // RequestRecord::connection_id (unique in the run)
  std::uint32_t record = kNone;
  std::uint16_t reuse = 0;
  bool open = false;
  bool busy = false;
  // switcher.mode l4: the connection is pinned by the Core (key: id) to
  // instance `pinned`, and owns one upstream connection to it, open or not.
  std::uint32_t pinned = kNone;
  bool upstream_open = false;
  bool close_after = false;  // the switcher ends it after this response (l4)
};

struct Block {
  const scenario::LoadSpec* spec = nullptr;
  Rng connection_rng{0};  // mixed policy: which requests end their connection (fresh next time)
  std::unique_ptr<loadgen::Arrivals> arrivals;      // model: open
  std::unique_ptr<loadgen::ClosedLoop> closed;      // model: closed
  std::unordered_map<std::uint32_t, std::uint32_t> worker_of;  // closed: record -> worker
  std::optional<std::int64_t> closed_timer_at;      // closed: the pending kArrival
  std::uint32_t closed_timer_gen = 0;
  std::vector<RequestRecord> records;
  std::deque<std::uint32_t> waiting;     // records waiting for a connection
  std::vector<ClientConn> conns;         // slots; closed ones are reused
  std::vector<std::uint32_t> idle;       // open and idle connection slots
  std::vector<std::uint32_t> free_conns;
  std::size_t open = 0;
  std::size_t peak_open = 0;             // most connections open at once
  std::uint64_t next_request_id = 1;
  std::uint64_t outstanding = 0;         // launched, no outcome yet
  bool arrivals_done = false;
  double length_s = 0;
  EventQueue::Lane arrival_lane = EventQueue::kNoLane;
  std::uint32_t timeout_cursor = 0;      // records before it have an outcome or timed out
  bool timeout_armed = false;            // a kClientTimeout is pending for this block
};

// How the switcher sees the end of an upstream exchange (kAtSwitcherResponse).
enum class UpResult : std::uint8_t { response, no_bytes_reset, no_bytes_close, reset_after_bytes };

struct Exchange {
  std::uint32_t gen = 0;
  std::uint32_t record = kNone;
  std::uint16_t block = 0;
  std::uint32_t conn_slot = kNone;
  std::uint32_t conn_id = 0;
  std::uint32_t inst = kNone;
  switcher::BackendId backend = switcher::kNoBackend;
  std::int64_t routed = 0;
  std::int64_t deadline = 0;
  std::int64_t accepted = 0;      // the service read it (0: no service saw it)
  std::int64_t started = 0;       // its service time began (after a queue)
  std::int64_t service_time = -1; // ns; -1: hang
  std::uint64_t plan_id = 0;
  std::uint32_t pos = kNone;      // index in the instance's in_service list
  std::uint16_t status = 0;
  UpResult result = UpResult::response;
  bool reused = false;
  bool retried = false;            // the one retry on a fresh connection (a reused one failed)
  std::uint8_t other_retries = 0;  // retries on another backend (switcher.retry)
  bool close_conn = false;
  bool used = false;
  // The service's side of an exchange the switcher gave up on (504): the
  // service still holds it (a capacity slot, a graceful drain) until its
  // service time ends, or its exit for a hang, as the live fake service
  // does; then it is freed without a response.
  bool abandoned = false;
};

struct Inst {
  InstanceInfo info;
  const scenario::ServiceGroup* group = nullptr;
  std::unique_ptr<service::Behaviour> model;
  std::int64_t spawned = 0;
  std::optional<std::int64_t> ready_ns, exited_ns;
  bool alive = false;
  bool ready = false;
  bool failed = false;
  bool initial = false;              // started in setup (t = 0 steps)
  bool stopping = false;             // scaled down: out of the switcher, stop signal sent
  int number = 0;                    // the n of <pool>-<n>
  std::uint32_t timer_gen = 0;
  std::optional<std::int64_t> timer_at;
  std::uint32_t idle_upstream = 0;   // the switcher's idle keep-alive connections to it
  std::vector<std::uint32_t> in_service;  // exchanges it holds (in service or queued)
  std::unordered_map<std::uint64_t, std::uint32_t> queued;  // plan id -> exchange
  std::uint16_t name_instance = kNoName;
  std::uint16_t name_version = kNoName;
  std::uint16_t port = 0;
  switcher::BackendId backend = switcher::kNoBackend;
};

struct PendingCheck {
  switcher::BackendId backend = switcher::kNoBackend;
  std::uint64_t check = 0;
  std::uint32_t inst = kNone;
  std::int64_t started = 0;
  bool passed = false;
  std::string detail;
};

class Sim {
 public:
  Sim(const scenario::Scenario& s, const SimOptions& o);
  SimTrace run();

 private:
  // engine.cpp: loop, setup, timeline, stop
  template <class Pred> void loop(Pred done);
  void dispatch(const SimEvent& e);
  bool setup();
  void startLoads();
  void fireStep(const scenario::TimelineStep& step);
  void checkConditions();            // `when:` steps: fire the met ones, report the missed
  bool poolHealthy(const std::string& pool) const;
  void scale(const scenario::ScaleAction& a);
  void spawnInstance(const scenario::ServiceGroup& g, int number);
  void stopAll();
  void event(std::int64_t at, std::string source, std::string kind, std::string target, std::string detail = "");
  double since0(std::int64_t t) const { return static_cast<double>(t - t0_) / 1e9; }
  bool loadsDone() const;
  std::uint16_t nameId(const std::string& name);
  std::vector<std::uint32_t> targets(const std::string& target) const;

  // instances.cpp: services and the switcher core
  void startPool(const std::string& pool);
  void pumpInstance(std::uint32_t i);
  void armInstance(std::uint32_t i);
  void probeReady(std::uint32_t i);
  void markReady(std::uint32_t i);
  void exitInstance(std::uint32_t i, const std::string& exit, bool reset_in_flight);
  void kill(std::uint32_t i);
  void signal(std::uint32_t i, int signo, const std::string& name);
  void afterCore(bool rearm);
  bool takeCoreOutput();
  void startHealthCheck(const switcher::StartHealthCheck& c);
  void onHealthAtService(std::uint32_t pc);
  void onHealthDone(std::uint32_t pc);

  // requests.cpp: the request path
  void onArrival(std::uint16_t b);
  bool launch(std::uint16_t b);
  void pumpClosed(std::uint16_t b);
  void closedDone(std::uint16_t b, std::uint32_t rec);
  void dispatchRequest(std::uint16_t b, std::uint32_t rec);
  void openConn(std::uint16_t b, std::uint32_t rec);
  void sendOn(std::uint16_t b, std::uint32_t slot, std::uint32_t rec, std::int64_t at, bool fresh);
  void closeConn(std::uint16_t b, std::uint32_t slot);
  void feedWaiting(std::uint16_t b, std::optional<std::uint32_t> reusable);
  void armClientTimeout(std::uint16_t b);
  void onClientTimeouts(std::uint16_t b);
  void onClientTimeout(std::uint16_t b, std::uint32_t rec);
  void onAtSwitcher(std::uint32_t x);
  void useBackend(std::uint32_t x, switcher::BackendId backend);
  void upstreamSend(std::uint32_t x);
  void onConnectResult(std::uint32_t x);
  bool retryElsewhere(std::uint32_t x, switcher::Upstream failed);
  void onAtService(std::uint32_t x);
  void startService(std::uint32_t x);
  void onServiceDone(std::uint32_t x);
  void onUpstreamTimeout(std::uint32_t x);
  void onAtSwitcherResponse(std::uint32_t x);
  void upstreamDone(std::uint32_t x, switcher::Upstream u, std::uint16_t status, SwitcherReason reason,
                    const char* how);
  void toClient(std::uint32_t x, std::uint16_t status, Outcome outcome, SwitcherReason reason,
                std::uint16_t pool = kNoName);
  void onAtClient(std::uint16_t b, std::uint32_t slot, std::uint32_t conn_id);
  ClientConn* connOf(const Exchange& ex);      // its client connection while still open
  void closePinnedIdle(std::uint32_t inst);    // l4: the backend ended them, the switcher passes it on
  std::uint32_t allocExchange();
  void freeExchange(std::uint32_t x);
  void leaveService(std::uint32_t x);
  void logService(const Exchange& ex, std::int64_t finished, const char* how);

  const scenario::Scenario& sc_;
  SimOptions opt_;
  std::uint64_t seed_;
  EventQueue q_;
  EventQueue::Lane hop_lane_, connect_lane_, connect_hop_lane_;
  std::int64_t hop_ns_, connect_ns_;
  std::int64_t now_ = 0;
  std::int64_t t0_ = 0;
  switcher::Core core_;
  bool l4_ = false;                  // switcher.mode l4: client connections pinned (see requests.cpp)
  bool core_hot_ = false;            // per-request calls may move the Core's deadline
  std::uint32_t core_gen_ = 0;
  std::optional<std::int64_t> core_at_;
  std::vector<Inst> insts_;
  std::vector<std::uint32_t> inst_of_backend_;
  std::vector<Block> blocks_;
  std::vector<Exchange> ex_;
  std::vector<std::uint32_t> free_ex_;
  std::vector<PendingCheck> checks_;
  std::vector<std::uint32_t> free_checks_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::uint16_t> name_index_;
  std::vector<TimedEvent> events_;   // t_s holds absolute seconds until run() ends
  std::vector<std::int64_t> event_ns_;
  std::vector<ServiceRequestLog> logs_;
  std::vector<std::string> invalid_;
  std::string active_;
  std::optional<scenario::Timeline> conditions_;  // the `when:` steps (timed ones are queued)
  bool conditions_dirty_ = false;                 // a Core event may have met a condition
  std::string pending_switch_;                    // a switch waiting for the readiness gate
  std::uint32_t next_conn_id_ = 1;
  std::uint64_t steps_ = 0;
  std::uint64_t retries_ = 0;        // upstream attempts after the first (SimTrace::switcher_retries)
  std::size_t records_total_ = 0;
  bool stopping_ = false;            // the end-of-run stop: exits are "runner stopped"
  bool aborted_ = false;
  std::int64_t hard_end_ = 0;
};

}  // namespace cutover::des::detail
