// The open-loop HTTP/1.1 client (Asio + Beast; the one heavy TU of loadgen).
//
// Theory of operation. One io_context, run by the thread that calls run().
//  - An arrival timer fires at each intended time from the Arrivals model and
//    launches every request that is due (a bounded batch per tick). A launched
//    request gets its RequestRecord at once; all its times count from the
//    intended time, so a slow server cannot slow the schedule down (no
//    coordinated omission).
//  - A due request goes on an idle pooled connection, else on a new one while
//    fewer than `connections` are open, else into a bounded FIFO that feeds
//    connections as they free up. The FIFO has its own timer that times out
//    requests which waited past their deadline.
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

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
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
  Impl(ClientOptions options, std::unique_ptr<Arrivals> arrivals)
      : options_(std::move(options)),
        arrivals_(std::move(arrivals)),
        ioc_(1),
        arrival_timer_(ioc_),
        queue_timer_(ioc_) {
    options_.connections = std::max<std::size_t>(options_.connections, 1);
    request_prefix_ = "GET " + (options_.path.empty() ? std::string("/") : options_.path) +
                      " HTTP/1.1\r\nHost: " + options_.host + ":" + std::to_string(options_.port) + "\r\n" +
                      std::string(kHeaderRequestId) + ": ";
    request_suffix_ = options_.keepalive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
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
  bool keepalive() const override { return options_.keepalive; }
  void formatRequest(std::size_t index, std::string& out) const override;
  void onRequestDone(Connection& c, std::size_t index, Outcome outcome, bool reusable) override;
  void onIdleClosed(Connection& c) override;

 private:
  void scheduleArrival();
  void onArrivalTimer();
  void launch(Instant intended);
  void dispatch(std::size_t index);
  void openFor(std::size_t index);
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
  std::unique_ptr<Arrivals> arrivals_;
  asio::io_context ioc_;
  asio::steady_timer arrival_timer_;
  asio::steady_timer queue_timer_;
  tcp::endpoint endpoint_;
  std::string request_prefix_;
  std::string request_suffix_;

  std::vector<RequestRecord> records_;
  NameTable names_;
  std::vector<std::shared_ptr<Connection>> open_;  // every open connection
  std::vector<Connection*> idle_;                  // open, nothing in flight
  std::deque<std::size_t> waiting_;                // due, no connection yet

  std::optional<Instant> next_;
  std::uint64_t launched_ = 0;
  std::uint64_t finished_ = 0;
  std::uint64_t next_request_id_ = 1;
  std::uint32_t next_connection_id_ = 1;
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
  // Reserving the expected count keeps memory at sizeof(RequestRecord) per
  // request; growth by doubling costs up to twice that.
  records_.reserve(std::min<std::size_t>(options_.max_requests, std::max<std::size_t>(options_.expected_requests, 4096)));
  if (options_.max_requests > 0) next_ = arrivals_->next();
  result.started = next_.value_or(monoNow());
  scheduleArrival();
  ioc_.run();
  if (stopped_)
    std::erase_if(records_, [](const RequestRecord& r) { return r.done_ns == 0; });
  result.intended = launched_;
  result.records = std::move(records_);
  result.names = names_.take();
  result.finished = last_done_ns_ != 0 ? fromNanos(last_done_ns_) : result.started;
  result.stopped = stopped_;
  return result;
}

void LoadClient::Impl::formatRequest(std::size_t index, std::string& out) const {
  char digits[24];
  const auto res = std::to_chars(digits, digits + sizeof digits, records_[index].request_id);
  out.assign(request_prefix_);
  out.append(digits, res.ptr);
  out.append(request_suffix_);
}

void LoadClient::Impl::scheduleArrival() {
  if (stopped_) return;
  if (!next_) {
    arrivals_over_ = true;
    return maybeShutdown();
  }
  arrival_timer_.expires_at(toSteady(*next_));
  arrival_timer_.async_wait([this](error_code ec) {
    if (!ec && !stopped_) onArrivalTimer();
  });
}

void LoadClient::Impl::onArrivalTimer() {
  const Instant now = monoNow();
  for (std::size_t n = 0; n < kMaxBatch && next_ && *next_ <= now; ++n) {
    launch(*next_);
    next_ = launched_ < options_.max_requests ? arrivals_->next() : std::nullopt;
  }
  scheduleArrival();
}

void LoadClient::Impl::launch(Instant intended) {
  const std::size_t index = records_.size();
  RequestRecord rec;
  rec.intended_ns = toNanos(intended);
  rec.request_id = options_.first_request_id + next_request_id_++ - 1;
  records_.push_back(rec);
  ++launched_;
  dispatch(index);
}

void LoadClient::Impl::dispatch(std::size_t index) {
  if (!idle_.empty()) {
    Connection* c = idle_.back();
    idle_.pop_back();
    return c->send(index);
  }
  if (open_.size() < options_.connections) return openFor(index);
  enqueue(index);
}

void LoadClient::Impl::openFor(std::size_t index) {
  auto c = std::make_shared<Connection>(ioc_, *this, next_connection_id_++);
  c->slot = open_.size();
  open_.push_back(c);
  c->connectFor(index);
}

void LoadClient::Impl::enqueue(std::size_t index) {
  if (waiting_.size() >= kMaxQueued) return finish(index, Outcome::timeout);  // overloaded client
  waiting_.push_back(index);
  armQueueTimer();
}

// The oldest waiting request still within its deadline; the expired ones
// before it become timeouts.
std::size_t LoadClient::Impl::popWaiting() {
  const Instant now = monoNow();
  while (!waiting_.empty()) {
    const std::size_t index = waiting_.front();
    waiting_.pop_front();
    if (deadlineOf(index) > now) return index;
    finish(index, Outcome::timeout);
  }
  return kNone;
}

void LoadClient::Impl::armQueueTimer() {
  if (queue_timer_armed_ || waiting_.empty()) return;
  queue_timer_armed_ = true;
  queue_timer_.expires_at(toSteady(deadlineOf(waiting_.front())));
  queue_timer_.async_wait([this](error_code ec) {
    queue_timer_armed_ = false;
    if (!ec && !stopped_) onQueueTimer();
  });
}

void LoadClient::Impl::onQueueTimer() {
  const Instant now = monoNow();
  while (!waiting_.empty() && deadlineOf(waiting_.front()) <= now) {
    const std::size_t index = waiting_.front();
    waiting_.pop_front();
    finish(index, Outcome::timeout);
  }
  armQueueTimer();
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
}

void LoadClient::Impl::onRequestDone(Connection& c, std::size_t index, Outcome outcome, bool reusable) {
  finish(index, outcome);
  if (reusable) {
    const std::size_t next = popWaiting();
    if (next != kNone) c.send(next);
    else idle_.push_back(&c);
  } else {
    forget(c);
    if (open_.size() < options_.connections) {
      const std::size_t next = popWaiting();
      if (next != kNone) openFor(next);
    }
  }
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
    : impl_(std::make_unique<Impl>(std::move(options), std::move(arrivals))) {}
LoadClient::~LoadClient() = default;

LoadResult LoadClient::run() { return impl_->run(); }
void LoadClient::requestStop() { impl_->requestStop(); }
std::uint64_t LoadClient::completed() const { return impl_->completed.load(std::memory_order_relaxed); }
std::uint64_t LoadClient::droppedSoFar() const { return impl_->dropped.load(std::memory_order_relaxed); }

}  // namespace cutover::loadgen
