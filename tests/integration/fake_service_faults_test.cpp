// `cutover fake-service` as a real process: capacity, health modes, the
// run-time faults of the control channel and the lifecycle log.
#include <cstdio>

#include "fake-services/lifecycle_log.hpp"
#include "tests/integration/fake_service_support.hpp"

namespace cutover::service {
namespace {

using namespace fstest;

// The write end of a control pipe whose read end a child inherits.
class Control {
 public:
  Control() { ok_ = ::pipe2(fds_, O_CLOEXEC) == 0; }
  ~Control() {
    for (const int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;
  bool ok() const { return ok_; }
  int readEnd() const { return fds_[0]; }
  void parentSide() {  // after the fork: the parent keeps the write end only
    ::close(fds_[0]);
    fds_[0] = -1;
  }
  bool send(const std::string& command) {
    const std::string line = command + "\n";
    return ::write(fds_[1], line.data(), line.size()) == static_cast<ssize_t>(line.size());
  }

 private:
  int fds_[2] = {-1, -1};
  bool ok_ = false;
};

bool stateHas(std::uint16_t port, const std::string& text) {
  return state(port).find(text) != std::string::npos;
}

// Nothing arrives on fd within `window`: the only way to show an absence.
bool silentFor(int fd, std::chrono::milliseconds window) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(window.count())) == 0;
}

std::string tempPath(const std::string& name) {
  return ::testing::TempDir() + name + "-" + std::to_string(::getpid()) + ".log";
}

// --- capacity -----------------------------------------------------------------

TEST(FakeServiceCapacity, RejectAnswersOverflowStatusAtOnce) {
  BehaviourSpec spec = fixedLatency(2s);
  spec.capacity.max_in_flight = 1;
  spec.capacity.overflow = Overflow::reject;
  spec.capacity.overflow_status = 429;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "cap-1"));
  const auto busy = requestsInFlight(child.port(), 1);
  const auto t0 = Clock::now();
  const Response r = get(child.port(), "/");
  EXPECT_EQ(r.kind, Response::Kind::complete);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("x-cutover-instance"), "cap-1");
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(get(child.port(), "/health").status, 200);  // health is not capacity-limited
  closeAll(busy);
}

TEST(FakeServiceCapacity, QueueServesInOrderOneAtATime) {
  BehaviourSpec spec = fixedLatency(400ms);
  spec.capacity.max_in_flight = 1;
  spec.capacity.overflow = Overflow::queue;
  spec.capacity.queue_length = 1;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "cap-2"));
  const auto t0 = Clock::now();
  const auto fds = requestsInFlight(child.port(), 2);
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_TRUE(stateHas(child.port(), "\"queued\":1"));
  EXPECT_EQ(get(child.port(), "/").status, 503);  // the queue is full
  const Response first = readResponse(fds[0]);
  const Response second = readResponse(fds[1]);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_GE(Clock::now() - t0, 750ms);  // the second waited for the first
  closeAll(fds);
}

TEST(FakeServiceCapacity, RefuseClosesTheListenerWhileFull) {
  BehaviourSpec spec = fixedLatency(800ms);
  spec.capacity.max_in_flight = 1;
  spec.capacity.overflow = Overflow::refuse;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "cap-3"));
  const int keep = connectTo(child.port());  // an open keep-alive connection
  ASSERT_GE(keep, 0);
  // The state path cannot be asked once the listener closes: the closed
  // listener itself shows the request is in service.
  const int busy = connectTo(child.port());
  ASSERT_GE(busy, 0);
  ASSERT_TRUE(sendRequest(busy, "/", "busy"));
  EXPECT_TRUE(waitFor([&] { return !portAcceptsConnections(child.port()); }, 3s));
  ASSERT_TRUE(sendRequest(keep, "/"));  // over capacity on an old connection: reset
  EXPECT_EQ(readResponse(keep).kind, Response::Kind::reset);
  EXPECT_EQ(readResponse(busy).status, 200);
  EXPECT_TRUE(waitFor([&] { return portAcceptsConnections(child.port()); }, 3s));
  EXPECT_EQ(get(child.port(), "/").status, 200);
  ::close(keep);
  ::close(busy);
}

// --- health -------------------------------------------------------------------

TEST(FakeServiceHealth, FlappingAlternatesAndSlowHealthWaits) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.health.mode = HealthMode::flapping;
  spec.health.flap_period = 600ms;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "hl-1"));
  bool saw200 = false;
  bool saw503 = false;
  EXPECT_TRUE(waitFor([&] {
    const int s = get(child.port(), "/health").status;
    saw200 = saw200 || s == 200;
    saw503 = saw503 || s == 503;
    return saw200 && saw503;
  }, 5s));

  BehaviourSpec slow = fixedLatency(1ms);
  slow.health.delay = 400ms;
  Child slow_child;
  ASSERT_TRUE(slow_child.spawn(slow, "hl-2"));
  const auto t0 = Clock::now();
  EXPECT_EQ(get(slow_child.port(), "/health").status, 200);
  EXPECT_GE(Clock::now() - t0, 350ms);
  const auto t1 = Clock::now();
  EXPECT_EQ(get(slow_child.port(), "/").status, 200);
  EXPECT_LT(Clock::now() - t1, 350ms);  // only health is slow
}

TEST(FakeServiceHealth, LyingHealthSays200WhileRequestsFail) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.health.mode = HealthMode::lying;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "hl-3"));
  EXPECT_EQ(get(child.port(), "/health").status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(child.port(), "/").status, 500);
}

TEST(FakeServiceHealth, HealthFaultAtRunTime) {
  Control control;
  ASSERT_TRUE(control.ok());
  Child child;
  ASSERT_TRUE(child.spawn(fixedLatency(1ms), "hl-4", control.readEnd()));
  control.parentSide();
  EXPECT_EQ(get(child.port(), "/health").status, 200);
  ASSERT_TRUE(control.send("fault health=failing"));
  EXPECT_TRUE(waitFor([&] { return get(child.port(), "/health").status == 503; }, 3s));
  EXPECT_EQ(get(child.port(), "/").status, 200);
  ASSERT_TRUE(control.send("heal"));
  EXPECT_TRUE(waitFor([&] { return get(child.port(), "/health").status == 200; }, 3s));
}

// --- run-time faults ----------------------------------------------------------

class FakeServiceFault : public ::testing::Test {
 protected:
  void start(const BehaviourSpec& spec) {
    ASSERT_TRUE(control_.ok());
    ASSERT_TRUE(child_.spawn(spec, "ft-1", control_.readEnd()));
    control_.parentSide();
  }
  // Sends a fault and waits until the service has applied it (the state path
  // answers after the control line was handled, or the probe says so).
  void fault(const std::string& command, const std::function<bool()>& applied) {
    ASSERT_TRUE(control_.send(command));
    ASSERT_TRUE(waitFor(applied, 3s)) << command;
  }
  Control control_;
  Child child_;
};

TEST_F(FakeServiceFault, CloseWithoutResponse) {
  start(fixedLatency(1ms));
  ASSERT_TRUE(control_.send("fault close"));
  ASSERT_TRUE(waitFor([&] { return get(child_.port(), "/").kind == Response::Kind::closed; }, 3s));
  EXPECT_EQ(get(child_.port(), "/health").status, 200);  // health is unaffected
  ASSERT_TRUE(control_.send("heal"));
  EXPECT_TRUE(waitFor([&] { return get(child_.port(), "/").status == 200; }, 3s));
}

TEST_F(FakeServiceFault, ResetMidResponseSendsPartOfTheBodyThenRst) {
  BehaviourSpec spec = fixedLatency(1ms);
  spec.response_bytes = 64 * 1024;
  start(spec);
  ASSERT_TRUE(control_.send("fault reset"));
  ASSERT_TRUE(waitFor([&] {
    const int fd = connectTo(child_.port());
    if (fd < 0 || !sendRequest(fd, "/")) return false;
    // Read raw bytes until the reset: a head and some of the body come first.
    std::string got;
    bool reset = false;
    for (int i = 0; i < 1000 && !reset; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      char buf[8192];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.append(buf, static_cast<std::size_t>(n));
      else {
        reset = n < 0 && errno == ECONNRESET;
        break;
      }
    }
    ::close(fd);
    const auto head_end = got.find("\r\n\r\n");
    return reset && got.rfind("HTTP/1.1 200", 0) == 0 && head_end != std::string::npos &&
           got.size() - head_end - 4 < 64u * 1024u;
  }, 5s));
}

TEST_F(FakeServiceFault, RefuseNewConnectionsUntilHeal) {
  start(fixedLatency(1ms));
  const int keep = connectTo(child_.port());
  ASSERT_GE(keep, 0);
  ASSERT_TRUE(control_.send("fault refuse"));
  EXPECT_TRUE(waitFor([&] { return !portAcceptsConnections(child_.port()); }, 3s));
  ASSERT_TRUE(sendRequest(keep, "/"));  // an open connection is still served
  EXPECT_EQ(readResponse(keep).status, 200);
  ASSERT_TRUE(control_.send("heal"));
  EXPECT_TRUE(waitFor([&] { return portAcceptsConnections(child_.port()); }, 3s));
  EXPECT_EQ(get(child_.port(), "/").status, 200);
  ::close(keep);
}

TEST_F(FakeServiceFault, PauseAnswersNothingUntilHeal) {
  start(fixedLatency(1ms));
  ASSERT_TRUE(control_.send("fault pause"));
  ASSERT_TRUE(waitFor([&] { return stateHas(child_.port(), "\"paused\":true"); }, 3s));
  const int work = connectTo(child_.port());
  const int health = connectTo(child_.port());
  ASSERT_GE(work, 0);
  ASSERT_GE(health, 0);
  ASSERT_TRUE(sendRequest(work, "/", "held-1"));
  ASSERT_TRUE(sendRequest(health, "/health"));
  EXPECT_TRUE(silentFor(work, 400ms));
  EXPECT_TRUE(silentFor(health, 50ms));
  ASSERT_TRUE(control_.send("heal"));
  const Response r = readResponse(work);
  EXPECT_EQ(r.kind, Response::Kind::complete);
  EXPECT_EQ(r.header("x-request-id"), "held-1");
  EXPECT_EQ(readResponse(health).status, 200);
  ::close(work);
  ::close(health);
}

TEST_F(FakeServiceFault, HangKeepsTheRequestInFlightAndTheConnectionOpen) {
  start(fixedLatency(1ms));
  ASSERT_TRUE(control_.send("fault hang"));
  ASSERT_TRUE(waitFor([&] {  // probe until the fault is applied: a request that hangs
    const int fd = connectTo(child_.port());
    const bool hung = fd >= 0 && sendRequest(fd, "/") && silentFor(fd, 100ms);
    if (fd >= 0) ::close(fd);
    return hung;
  }, 3s));
  const int fd = connectTo(child_.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(sendRequest(fd, "/", "hung"));
  EXPECT_TRUE(silentFor(fd, 300ms));  // neither answered nor closed
  EXPECT_EQ(get(child_.port(), "/health").status, 200);
  ASSERT_TRUE(control_.send("heal"));
  EXPECT_TRUE(waitFor([&] { return get(child_.port(), "/").status == 200; }, 3s));
  EXPECT_TRUE(silentFor(fd, 50ms));  // heal does not release a hung request
  ::close(fd);
}

TEST(FakeServiceRequests, PathOverridesAndWarmup) {
  BehaviourSpec spec = fixedLatency(1ms);
  PathOverride slow;
  slow.prefix = "/slow";
  slow.latency = LatencySpec{};
  slow.latency->distribution = LatencyDistribution::fixed;
  slow.latency->value = 300ms;
  PathOverride broken;
  broken.prefix = "/broken";
  broken.error_rate = 1.0;
  broken.error_status = 502;
  spec.paths = {slow, broken};
  Child child;
  ASSERT_TRUE(child.spawn(spec, "pw-1"));
  auto t0 = Clock::now();
  EXPECT_EQ(get(child.port(), "/slow/x").status, 200);
  EXPECT_GE(Clock::now() - t0, 250ms);
  EXPECT_EQ(get(child.port(), "/broken").status, 502);
  t0 = Clock::now();
  EXPECT_EQ(get(child.port(), "/fast").status, 200);
  EXPECT_LT(Clock::now() - t0, 250ms);

  BehaviourSpec cold = fixedLatency(5ms);
  cold.startup.warmup = 60s;
  cold.startup.warmup_factor = 60.0;  // 300 ms while warming up
  Child cold_child;
  ASSERT_TRUE(cold_child.spawn(cold, "pw-2"));
  t0 = Clock::now();
  EXPECT_EQ(get(cold_child.port(), "/").status, 200);
  EXPECT_GE(Clock::now() - t0, 250ms);
}

TEST_F(FakeServiceFault, CrashExitsAbruptlyResettingInFlight) {
  start(fixedLatency(5s));
  const auto fds = requestsInFlight(child_.port(), 2);
  ASSERT_TRUE(control_.send("fault crash"));
  for (const int fd : fds) EXPECT_EQ(readResponse(fd).kind, Response::Kind::reset);
  closeAll(fds);
  const auto status = child_.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), kExitCrash);
}

// --- lifecycle log ------------------------------------------------------------

const RequestLifecycle* findRequest(const LifecycleLog& log, const std::string& id) {
  for (const auto& r : log.requests) {
    if (r.request_id == id) return &r;
  }
  return nullptr;
}

std::vector<std::string> eventNames(const LifecycleLog& log) {
  std::vector<std::string> out;
  for (const auto& e : log.events) out.push_back(e.name);
  return out;
}

TEST(FakeServiceLifecycle, GracefulDrainLogsEveryRequestAndEvent) {
  const std::string path = tempPath("lifecycle-graceful");
  BehaviourSpec spec = fixedLatency(300ms);
  Child child;
  ASSERT_TRUE(child.spawn(spec, "lc-1", -1, false, path));
  const int fd = connectTo(child.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(sendRequest(fd, "/a", "before"));
  EXPECT_EQ(readResponse(fd).status, 200);
  const auto fds = requestsInFlight(child.port(), 2);  // ids r0, r1
  const auto signalled = monoNow();
  child.signal(SIGTERM);
  for (const int f : fds) EXPECT_EQ(readResponse(f).status, 200);
  closeAll(fds);
  ::close(fd);
  const auto status = child.waitExit(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);

  const auto log = readLifecycleLog(path);
  std::remove(path.c_str());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log.value().instance, "lc-1");
  ASSERT_EQ(log.value().requests.size(), 3u);
  for (const std::string id : {"before", "r0", "r1"}) {
    const auto* r = findRequest(log.value(), id);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->end, RequestEnd::completed);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(r->started.has_value());
    EXPECT_LE(r->accepted, *r->started);
    EXPECT_GE(r->finished - *r->started, 250ms);
  }
  EXPECT_GT(findRequest(log.value(), "r0")->finished, signalled);  // same clock as ours
  const auto names = eventNames(log.value());
  for (const std::string want : {"start", "listening", "ready", "sigterm", "readiness_failing", "listener_closed", "exit"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  EXPECT_EQ(names.back(), "exit");
}

TEST(FakeServiceLifecycle, ImmediateExitLogsInFlightAsReset) {
  const std::string path = tempPath("lifecycle-immediate");
  BehaviourSpec spec = fixedLatency(5s);
  spec.shutdown.on_sigterm = OnSigterm::immediate;
  Child child;
  ASSERT_TRUE(child.spawn(spec, "lc-2", -1, false, path));
  const auto fds = requestsInFlight(child.port(), 2);
  child.signal(SIGTERM);
  for (const int f : fds) EXPECT_EQ(readResponse(f).kind, Response::Kind::reset);
  closeAll(fds);
  ASSERT_TRUE(child.waitExit(5s).has_value());
  const auto log = readLifecycleLog(path);
  std::remove(path.c_str());
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_EQ(log.value().requests.size(), 2u);
  for (const auto& r : log.value().requests) {
    EXPECT_EQ(r.end, RequestEnd::exit_reset);
    EXPECT_FALSE(r.status.has_value());
  }
  ASSERT_FALSE(log.value().events.empty());
  EXPECT_EQ(log.value().events.back().name, "exit");
}

}  // namespace
}  // namespace cutover::service
