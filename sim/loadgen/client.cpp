// The HTTP/1.1 load client (Asio + Beast; the one heavy TU of loadgen).
//
// Theory of operation. One io_context, run by the thread that calls run().
//  - Open loop: an arrival timer fires shortly (pacing_spin) before each
//    intended time from the Arrivals model, spins to it, and launches every
//    request that is due (a bounded batch per tick). A launched request gets
//    its RequestRecord at once; all its times count from the intended time, so
//    a slow server cannot slow the schedule down (no coordinated omission).
//  - Closed loop: the ClosedLoop model says which workers may send; every
//    outcome is fed back to it (onDone) and ready workers are launched at
//    once, or when the timer for the next ready worker (think time) fires.
//    A request's intended time is its launch time.
//  - Connection policy: each request is drawn (in request order, from a
//    seeded Rng) to go on a pooled keep-alive connection or on a fresh
//    one-shot connection ("Connection: close").
//  - A pooled request goes on an idle pooled connection, else on a new one
//    while fewer than `connections` are open; a fresh one opens a connection
//    while fewer than `connections` are open, closing an idle pooled one to
//    make room. Otherwise it waits in a bounded FIFO that feeds connections
//    as they free up. The FIFO has its own timer that times out requests
//    which waited past their deadline.
//  - A Connection carries one request at a time: write, then parse the
//    response with a body-discarding Beast parser. It keeps a read pending
//    even while idle, so a server that closes an idle connection is noticed
//    and the connection is not reused. One timer per connection holds the
//    deadline (intended + timeout) of the request it carries; on expiry the
//    request is a timeout and the connection is closed.
//  - Every request ends in exactly one outcome (Connection::fail/complete or
//    the FIFO timer); run() returns when the arrivals are over and every
//    launched request has one. requestStop() closes everything at once;
//    requests without an outcome are then left out of the result.
#include "sim/loadgen/client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/clock.hpp"
#include "sim/loadgen/connection.hpp"

namespace cutover::loadgen {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using detail::Connection;
using detail::ConnectionOwner;
using detail::kNone;
using detail::NameTable;
using detail::nowNs;
using detail::toSteady;

constexpr std::size_t kMaxQueued = std::size_t{1} << 20;  // requests waiting for a connection
constexpr std::size_t kMaxBatch = 4096;                    // launches per arrival-timer tick
// Marks a waiting request that wants a fresh connection (indexes stay far below).
constexpr std::size_t kFresh = std::size_t{1} << 63;
constexpr std::uint64_t kMaxSpinIterations = 10'000'000;    // bounds the pacing spin (time bounds it first)

std::size_t indexOf(std::size_t waiting_entry) { return waiting_entry & ~kFresh; }

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// This thread's CPU use so far.
ClientCpu threadCpu() {
  rusage u{};
  ClientCpu c;
  if (getrusage(RUSAGE_THREAD, &u) != 0) return c;
  c.user_s = static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6;
  c.system_s = static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
  return c;
}

// Timer slack of 1 ns for this thread while it runs the client (the default
// 50 us would be added to every arrival-timer wake-up); restored after.
class TightTimerSlack {
 public:
  TightTimerSlack() : previous_(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) { prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); }
  ~TightTimerSlack() {
    if (previous_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(previous_), 0, 0, 0);
  }
  TightTimerSlack(const TightTimerSlack&) = delete;
  TightTimerSlack& operator=(const TightTimerSlack&) = delete;

 private:
  int previous_;
};

std::optional<tcp::endpoint> loopbackEndpoint(const ClientOptions& o) {
  const std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec || !addr.is_v4() || (addr.to_v4().to_uint() >> 24) != 127 || o.port == 0) return std::nullopt;
  return tcp::endpoint(addr, o.port);
}

}  // namespace

class LoadClient::Impl final : public ConnectionOwner {
 public:
  Impl(ClientOptions options, std::unique_ptr<Arrivals> arrivals, std::unique_ptr<ClosedLoop> closed)
      : options_(std::move(options)),
        arrivals_(std::move(arrivals)),
        closed_(std::move(closed)),
        ioc_(1),
        arrival_timer_(ioc_),
        queue_timer_(ioc_),
        connection_rng_(options_.connection_seed) {
    CUTOVER_ASSERT((arrivals_ != nullptr) != (closed_ != nullptr));
    options_.connections = std::max<std::size_t>(options_.connections, 1);
    options_.pacing_spin = std::clamp(options_.pacing_spin, Duration{0}, Duration{std::chrono::milliseconds(1)});
    policy_ = options_.keepalive ? options_.connection_policy : ConnectionPolicy::new_per_request;
    fresh_fraction_ = std::isfinite(options_.fresh_fraction) ? std::clamp(options_.fresh_fraction, 0.0, 1.0) : 0.0;
    const std::string method = options_.method.empty() ? std::string("GET") : options_.method;
    const bool bodied = method == "POST" || method == "PUT" || method == "PATCH";
    request_prefix_ = method + " " + (options_.path.empty() ? std::string("/") : options_.path) +
                      " HTTP/1.1\r\nHost: " + options_.host + ":" + std::to_string(options_.port) + "\r\n" +
                      (bodied ? "Content-Length: 0\r\n" : "") + std::string(kHeaderRequestId) + ": ";
  }

  LoadResult run();
  void requestStop() {
    asio::post(ioc_, [this] { stop(); });
  }

  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> dropped{0};

  // ConnectionOwner
  RequestRecord& record(std::size_t index) override { return records_[index]; }
  NameTable& names() override { return names_; }
  const tcp::endpoint& endpoint() const override { return endpoint_; }
  Duration timeout() const override { return options_.timeout; }
  void formatRequest(std::size_t index, std::string& out, bool close) const override;
  void onRequestDone(Connection& c, std::size_t index, Outcome outcome, bool reusable) override;
  void onIdleClosed(Connection& c) override;

 private:
  void scheduleArrival();
  void onArrivalTimer();
  void spinUntil(Instant t) const;
  void pumpClosed();
  void launch(Instant intended, std::uint32_t worker = 0);
  bool drawFresh();
  void dispatch(std::size_t index, bool fresh);
  void openFor(std::size_t index, bool oneshot);
  void closeIdle(Connection& c);
  void enqueue(std::size_t index);
  std::size_t popWaiting();
  void armQueueTimer();
  void onQueueTimer();
  void finish(std::size_t index, Outcome outcome);
  void forget(Connection& c);
  void maybeShutdown();
  void closeAll();
  void stop();
  Instant deadlineOf(std::size_t index) const {
    return fromNanos(records_[index].intended_ns) + options_.timeout;
  }

  ClientOptions options_;
  std::unique_ptr<Arrivals> arrivals_;   // open loop, or
  std::unique_ptr<ClosedLoop> closed_;   // closed loop
  asio::io_context ioc_;
  asio::steady_timer arrival_timer_;
  asio::steady_timer queue_timer_;
  tcp::endpoint endpoint_;
  std::string request_prefix_;
  Rng connection_rng_;
  ConnectionPolicy policy_ = ConnectionPolicy::keepalive;
  double fresh_fraction_ = 0.0;
  std::unordered_map<std::size_t, std::uint32_t> worker_of_;  // closed loop: record index -> worker
  std::optional<Instant> closed_timer_at_;                     // closed loop: the pending timer wait

  std::vector<RequestRecord> records_;
  NameTable names_;
  std::vector<std::shared_ptr<Connection>> open_;  // every open connection
  std::vector<Connection*> idle_;                  // open, nothing in flight
  std::deque<std::size_t> waiting_;                // due, no connection yet (index, | kFresh)

  std::optional<Instant> next_;
  std::uint64_t launched_ = 0;
  std::uint64_t finished_ = 0;
  std::uint64_t next_request_id_ = 1;
  std::uint32_t next_connection_id_ = 1;
  std::size_t peak_connections_ = 0;
  std::int64_t last_done_ns_ = 0;
  bool arrivals_over_ = false;
  bool queue_timer_armed_ = false;
  bool stopped_ = false;
  bool ran_ = false;
};

LoadResult LoadClient::Impl::run() {
  CUTOVER_ASSERT(!ran_);
  ran_ = true;
  LoadResult result;
  const auto endpoint = loopbackEndpoint(options_);
  if (!endpoint) {
    result.error = "load target must be 127.0.0.0/8 with a port, got '" + options_.host + ":" +
                   std::to_string(options_.port) + "'";
    return result;
  }
  endpoint_ = *endpoint;
  const TightTimerSlack slack;
  const ClientCpu cpu0 = threadCpu();
  const Instant wall0 = monoNow();
  // Reserving the expected count keeps memory at sizeof(RequestRecord) per
  // request; growth by doubling costs up to twice that.
  records_.reserve(std::min<std::size_t>(options_.max_requests, std::max<std::size_t>(options_.expected_requests, 4096)));
  if (closed_) {
    worker_of_.reserve(closed_->workers());
    result.started = closed_->nextDeadline().value_or(wall0);
  } else {
    if (options_.max_requests > 0) next_ = arrivals_->next();
    result.started = next_.value_or(wall0);
  }
  scheduleArrival();
  ioc_.run();
  if (stopped_)
    std::erase_if(records_, [](const RequestRecord& r) { return r.done_ns == 0; });
  result.intended = launched_;
  result.records = std::move(records_);
  result.names = names_.take();
  result.finished = last_done_ns_ != 0 ? fromNanos(last_done_ns_) : result.started;
  result.stopped = stopped_;
  result.closed_loop = closed_ != nullptr;
  result.peak_connections = peak_connections_;
  result.connections_opened = next_connection_id_ - 1;
  const ClientCpu cpu1 = threadCpu();
  result.cpu.user_s = cpu1.user_s - cpu0.user_s;
  result.cpu.system_s = cpu1.system_s - cpu0.system_s;
  result.cpu.wall_s = toSeconds(monoNow() - wall0);
  return result;
}

void LoadClient::Impl::formatRequest(std::size_t index, std::string& out, bool close) const {
  char digits[24];
  const auto res = std::to_chars(digits, digits + sizeof digits, records_[index].request_id);
  out.assign(request_prefix_);
  out.append(digits, res.ptr);
  out.append(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
}

void LoadClient::Impl::scheduleArrival() {
  if (stopped_) return;
  if (closed_) return pumpClosed();
  if (!next_) {
    arrivals_over_ = true;
    return maybeShutdown();
  }
  arrival_timer_.expires_at(toSteady(*next_ - options_.pacing_spin));
  arrival_timer_.async_wait([this](error_code ec) {
    if (!ec && !stopped_) onArrivalTimer();
  });
}

void LoadClient::Impl::onArrivalTimer() {
  if (next_) spinUntil(*next_);
  const Instant now = monoNow();
  for (std::size_t n = 0; n < kMaxBatch && next_ && *next_ <= now; ++n) {
    launch(*next_);
    next_ = launched_ < options_.max_requests ? arrivals_->next() : std::nullopt;
  }
  scheduleArrival();
}

// The timer fired at most pacing_spin before `t`: wait for it on the CPU.
void LoadClient::Impl::spinUntil(Instant t) const {
  if (options_.pacing_spin.count() <= 0) return;
  for (std::uint64_t i = 0; i < kMaxSpinIterations && monoNow() < t; ++i) cpuRelax();
}

// Closed loop: launches every worker that is ready now, then arms the timer
// for the next one (a completion calls this again).
void LoadClient::Impl::pumpClosed() {
  if (stopped_) return;
  const Instant now = monoNow();
  for (std::size_t n = 0; n < kMaxBatch && launched_ < options_.max_requests; ++n) {
    const auto send = closed_->pollSend(now);
    if (!send) break;
    launch(now, send->worker);
  }
  if (closed_->sendingOver() || launched_ >= options_.max_requests) {
    arrivals_over_ = true;
    return maybeShutdown();
  }
  const auto due = closed_->nextDeadline();
  if (!due || (closed_timer_at_ && *closed_timer_at_ <= *due)) return;
  closed_timer_at_ = *due;
  arrival_timer_.expires_at(toSteady(*due));
  arrival_timer_.async_wait([this](error_code ec) {
    if (ec || stopped_) return;  // aborted: re-armed for an earlier worker, or closed
    closed_timer_at_.reset();
    pumpClosed();
  });
}

void LoadClient::Impl::launch(Instant intended, std::uint32_t worker) {
  const std::size_t index = records_.size();
  RequestRecord rec;
  rec.intended_ns = toNanos(intended);
  rec.request_id = options_.first_request_id + next_request_id_++ - 1;
  records_.push_back(rec);
  ++launched_;
  if (closed_) worker_of_.emplace(index, worker);
  dispatch(index, drawFresh());
}

bool LoadClient::Impl::drawFresh() {
  switch (policy_) {
    case ConnectionPolicy::keepalive: return false;
    case ConnectionPolicy::new_per_request: return true;
    case ConnectionPolicy::mixed: return connection_rng_.uniform() < fresh_fraction_;
  }
  return false;
}

void LoadClient::Impl::dispatch(std::size_t index, bool fresh) {
  if (!fresh) {
    if (!idle_.empty()) {
      Connection* c = idle_.back();
      idle_.pop_back();
      return c->send(index);
    }
    if (open_.size() < options_.connections) return openFor(index, false);
    return enqueue(index);
  }
  if (open_.size() >= options_.connections && !idle_.empty()) closeIdle(*idle_.back());  // make room
  if (open_.size() < options_.connections) return openFor(index, true);
  enqueue(index | kFresh);
}

void LoadClient::Impl::openFor(std::size_t index, bool oneshot) {
  auto c = std::make_shared<Connection>(ioc_, *this, next_connection_id_++, oneshot);
  c->slot = open_.size();
  open_.push_back(c);
  CUTOVER_ASSERT(open_.size() <= options_.connections);
  peak_connections_ = std::max(peak_connections_, open_.size());
  c->connectFor(index);
}

// Closes a pooled connection with nothing in flight (to open a fresh one).
void LoadClient::Impl::closeIdle(Connection& c) {
  const auto keep = c.shared_from_this();
  c.close();
  forget(c);
}

void LoadClient::Impl::enqueue(std::size_t index) {
  if (waiting_.size() >= kMaxQueued) return finish(index, Outcome::timeout);  // overloaded client
  waiting_.push_back(index);
  armQueueTimer();
}

// The oldest waiting request still within its deadline (with its kFresh
// flag); the expired ones before it become timeouts.
std::size_t LoadClient::Impl::popWaiting() {
  const Instant now = monoNow();
  while (!waiting_.empty()) {
    const std::size_t entry = waiting_.front();
    waiting_.pop_front();
    if (deadlineOf(indexOf(entry)) > now) return entry;
    finish(indexOf(entry), Outcome::timeout);
  }
  return kNone;
}

void LoadClient::Impl::armQueueTimer() {
  if (queue_timer_armed_ || waiting_.empty()) return;
  queue_timer_armed_ = true;
  queue_timer_.expires_at(toSteady(deadlineOf(indexOf(waiting_.front()))));
  queue_timer_.async_wait([this](error_code ec) {
    queue_timer_armed_ = false;
    if (!ec && !stopped_) onQueueTimer();
  });
}

void LoadClient::Impl::onQueueTimer() {
  const Instant now = monoNow();
  while (!waiting_.empty() && deadlineOf(indexOf(waiting_.front())) <= now) {
    const std::size_t index = indexOf(waiting_.front());
    waiting_.pop_front();
    finish(index, Outcome::timeout);
  }
  armQueueTimer();
  if (closed_) pumpClosed();
  maybeShutdown();
}

void LoadClient::Impl::finish(std::size_t index, Outcome outcome) {
  auto& rec = records_[index];
  CUTOVER_ASSERT(rec.done_ns == 0);
  rec.outcome = outcome;
  rec.done_ns = nowNs();
  last_done_ns_ = std::max(last_done_ns_, rec.done_ns);
  ++finished_;
  completed.fetch_add(1, std::memory_order_relaxed);
  if (isDropped(outcome)) dropped.fetch_add(1, std::memory_order_relaxed);
  if (closed_) {
    const auto it = worker_of_.find(index);
    CUTOVER_ASSERT(it != worker_of_.end());
    closed_->onDone(it->second, fromNanos(rec.done_ns));
    worker_of_.erase(it);
  }
}

void LoadClient::Impl::onRequestDone(Connection& c, std::size_t index, Outcome outcome, bool reusable) {
  finish(index, outcome);
  if (reusable) {
    const std::size_t next = popWaiting();
    if (next == kNone) {
      idle_.push_back(&c);
    } else if ((next & kFresh) == 0) {
      c.send(next);
    } else {  // it wants a fresh connection: trade this one for it
      closeIdle(c);
      openFor(indexOf(next), true);
    }
  } else {
    forget(c);
    if (open_.size() < options_.connections) {
      const std::size_t next = popWaiting();
      if (next != kNone) openFor(indexOf(next), (next & kFresh) != 0);
    }
  }
  if (closed_) pumpClosed();
  maybeShutdown();
}

void LoadClient::Impl::onIdleClosed(Connection& c) {
  forget(c);
  maybeShutdown();
}

// Drops a closed connection from the lists (the caller's handler keeps it alive).
void LoadClient::Impl::forget(Connection& c) {
  if (const auto it = std::find(idle_.begin(), idle_.end(), &c); it != idle_.end()) {
    *it = idle_.back();
    idle_.pop_back();
  }
  const std::size_t slot = c.slot;
  CUTOVER_ASSERT(slot < open_.size() && open_[slot].get() == &c);
  open_[slot] = std::move(open_.back());
  open_[slot]->slot = slot;
  open_.pop_back();
  c.slot = kNone;
}

void LoadClient::Impl::maybeShutdown() {
  if (arrivals_over_ && finished_ == launched_) closeAll();
}

void LoadClient::Impl::closeAll() {
  arrival_timer_.cancel();
  queue_timer_.cancel();
  auto open = std::move(open_);
  open_.clear();
  idle_.clear();
  for (auto& c : open) c->close();
}

void LoadClient::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  arrivals_over_ = true;
  waiting_.clear();
  closeAll();
}

LoadClient::LoadClient(ClientOptions options, std::unique_ptr<Arrivals> arrivals)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(arrivals), nullptr)) {}
LoadClient::LoadClient(ClientOptions options, std::unique_ptr<ClosedLoop> closed)
    : impl_(std::make_unique<Impl>(std::move(options), nullptr, std::move(closed))) {}
LoadClient::~LoadClient() = default;

LoadResult LoadClient::run() { return impl_->run(); }
void LoadClient::requestStop() { impl_->requestStop(); }
std::uint64_t LoadClient::completed() const { return impl_->completed.load(std::memory_order_relaxed); }
std::uint64_t LoadClient::droppedSoFar() const { return impl_->dropped.load(std::memory_order_relaxed); }

}  // namespace cutover::loadgen
