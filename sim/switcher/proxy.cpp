// The switcher's live shell: Asio/Beast HTTP/1.1 reverse proxy, one I/O thread.
// Every decision is switcher::Core's; the shell moves bytes and time. This
// file is the hub (Proxy::Impl): accept, the upstream connection pool, the
// one timer, control from other threads, events. A client connection is a
// Session (proxy_session.cpp); an active health check a HealthProbe
// (proxy_health.cpp).
//
// One timer follows Core::nextDeadline(); after every call into the Core that
// may move it (a finished request, a health check result, add, remove,
// switch, rollback, the timer itself) pump() re-arms it, carries out the
// Core's actions (a StartHealthCheck becomes a HealthProbe) and takes the
// Core's events: each goes to the observer's onEvent and is kept (bounded by
// core.max_events) for takeEvents(). The Core gets each exchange's outcome
// and latency (route to response) for its rollback policy and outlier
// ejection.
#include "sim/switcher/proxy.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <iterator>
#include <variant>

#include "sim/switcher/proxy_impl.hpp"

namespace cutover::switcher {

using namespace proxy_detail;

bool proxy_detail::idleLooksAlive(Socket& s) {
  char byte = 0;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Proxy::Impl::Impl(ProxyOptions options)
    : options_(std::move(options)),
      core_(options_.core, Rng(options_.seed)),
      acceptor_(ioc_),
      drain_timer_(ioc_),
      accept_retry_timer_(ioc_),
      work_(asio::make_work_guard(ioc_)) {}

void Proxy::Impl::pump() {
  flushEvents();
  if (stopping_) return;
  while (auto action = core_.pollAction()) {
    if (const auto* check = std::get_if<StartHealthCheck>(&*action)) startProbe(*check);
  }
  armDrainTimer();
}

void Proxy::Impl::flushEvents() {
  while (auto event = core_.pollEvent()) {
    if (observer_ && !stopping_) observer_->onEvent(*event);
    if (events_.size() >= options_.core.max_events) events_.pop_front();
    events_.push_back(std::move(*event));
  }
}

std::vector<Event> Proxy::Impl::takeEvents() {
  flushEvents();
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

// ---- Impl: accept, pool, timer ----------------------------------------------------

void Proxy::Impl::doAccept() {
  acceptor_.async_accept(ioc_.get_executor(), beast::bind_front_handler(&Impl::onAccept, this));
}

void Proxy::Impl::onAccept(error_code ec, Socket socket) {
  if (stopping_ || !acceptor_.is_open()) return;
  if (ec) {
    // E.g. out of file descriptors: back off instead of spinning.
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](error_code wait_ec) {
      if (!wait_ec && !stopping_) doAccept();
    });
    return;
  }
  ++stats_.client_connections;
  if (sessions_.size() >= options_.max_client_connections) {
    socket.close(ec);  // over the bound: refuse by closing at once
  } else {
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(*this, std::move(socket))->start();
  }
  doAccept();
}

// The one timer: set to the Core's next deadline when that moved.
void Proxy::Impl::armDrainTimer() {
  if (stopping_) return;
  const auto next = core_.nextDeadline();
  if (next == armed_) return;
  armed_ = next;
  if (!next) {
    drain_timer_.cancel();
    return;
  }
  drain_timer_.expires_at(toSteady(*next));
  drain_timer_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    armed_.reset();
    core_.onTimeout(monoNow());
    pump();
  });
}

UpstreamPtr Proxy::Impl::takeIdle(std::uint16_t port, Instant now) {
  const auto it = idle_.find(port);
  if (it == idle_.end()) return nullptr;
  auto& conns = it->second;
  while (!conns.empty()) {
    UpstreamPtr c = std::move(conns.back());
    conns.pop_back();
    if (now - c->idle_since < kIdleCheckAfter || idleLooksAlive(c->stream.socket())) return c;
    error_code ec;
    c->stream.socket().close(ec);
  }
  return nullptr;
}

void Proxy::Impl::returnIdle(UpstreamPtr conn, Instant now) {
  auto& conns = idle_[conn->port];
  if (conns.size() >= kMaxIdlePerBackend) {
    error_code ec;
    conn->stream.socket().close(ec);
    return;
  }
  conn->stream.expires_never();
  conn->idle_since = now;
  conns.push_back(std::move(conn));
}

void Proxy::Impl::closeIdle(std::uint16_t port) {
  const auto it = idle_.find(port);
  if (it == idle_.end()) return;
  for (auto& c : it->second) {
    error_code ec;
    c->stream.socket().close(ec);
  }
  idle_.erase(it);
}

void Proxy::Impl::shutdownAll() {
  stopping_ = true;
  error_code ec;
  acceptor_.close(ec);
  drain_timer_.cancel();
  accept_retry_timer_.cancel();
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [raw, weak] : sessions_)
    if (auto s = weak.lock()) live.push_back(std::move(s));
  for (auto& s : live) s->close();
  closeProbes();
  while (!idle_.empty()) closeIdle(idle_.begin()->first);
  work_.reset();
}

// ---- Impl: lifecycle and control ---------------------------------------------------

bool Proxy::Impl::start(std::string* error) {
  if (io_.running() || stopping_) {
    if (error) *error = "proxy already started";
    return false;
  }
  if (auto why = io_detail::listenLoopback(acceptor_, options_.host, options_.port); !why.empty()) {
    if (error) *error = why;
    return false;
  }
  error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
  doAccept();
  io_.start(ioc_);
  return true;
}

void Proxy::Impl::stop() { io_.stop(ioc_, [this] { shutdownAll(); }, stopping_, kStopGrace); }

bool Proxy::Impl::removeBackend(const std::string& instance) {
  const auto id = core_.findBackend(instance);
  if (!id) return false;
  const std::uint16_t port = core_.backend(*id)->port;
  const bool removed = core_.removeBackend(instance, monoNow());
  closeIdle(port);
  pump();
  return removed;
}

SwitchResult Proxy::Impl::switchTo(const std::string& pool) {
  SwitchResult r = core_.switchTo(pool, monoNow());
  pump();
  return r;
}

ProxyStats Proxy::Impl::stats() const {
  ProxyStats s;
  s.client_connections = stats_.client_connections.load();
  s.requests = stats_.requests.load();
  s.switch_errors = stats_.switch_errors.load();
  s.upstream_connects = stats_.upstream_connects.load();
  s.upstream_reuses = stats_.upstream_reuses.load();
  s.upstream_retries = stats_.upstream_retries.load();
  s.upstream_closed_idle = stats_.upstream_closed_idle.load();
  return s;
}

// ---- Proxy -----------------------------------------------------------------------

Proxy::Proxy(ProxyOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Proxy::~Proxy() = default;

void Proxy::setObserver(ProxyObserver* observer) { impl_->observer_ = observer; }
bool Proxy::start(std::string* error) { return impl_->start(error); }
void Proxy::stop() { impl_->stop(); }
std::uint16_t Proxy::port() const { return impl_->port(); }

void Proxy::addPool(const std::string& pool, std::size_t expected) {
  (void)impl_->call([this, pool, expected] {
    impl_->core_.addPool(pool, expected);
    return true;
  });
}

void Proxy::addBackend(const std::string& pool, const std::string& instance, std::uint16_t port) {
  addBackend(pool, instance, port, impl_->options_.core.health_check.start_healthy);
}

void Proxy::addBackend(const std::string& pool, const std::string& instance, std::uint16_t port,
                       bool healthy) {
  (void)impl_->call([this, pool, instance, port, healthy] {
    const bool added = impl_->core_.addBackend(pool, instance, port, monoNow(), healthy);
    if (added) impl_->closeIdle(port);  // a port reused by a new process: drop old connections
    impl_->pump();
    return added;
  });
}

SwitchResult Proxy::rollback() {
  auto r = impl_->call([this] {
    SwitchResult result = impl_->core_.rollback(monoNow());
    impl_->pump();
    return result;
  });
  return r ? *r : SwitchResult{false, "switcher I/O thread did not answer", false};
}

std::vector<BackendView> Proxy::backends() const {
  return impl_->call([this] { return impl_->core_.backends(); }).value_or(std::vector<BackendView>{});
}

void Proxy::removeBackend(const std::string& instance) {
  (void)impl_->call([this, instance] { return impl_->removeBackend(instance); });
}

SwitchResult Proxy::switchTo(const std::string& pool) {
  auto r = impl_->call([this, pool] { return impl_->switchTo(pool); });
  return r ? *r : SwitchResult{false, "switcher I/O thread did not answer"};
}

std::string Proxy::activePool() const {
  return impl_->call([this] { return impl_->core_.activePool(); }).value_or("");
}

std::vector<Event> Proxy::takeEvents() {
  return impl_->call([this] { return impl_->takeEvents(); }).value_or(std::vector<Event>{});
}

ProxyStats Proxy::stats() const { return impl_->stats(); }

}  // namespace cutover::switcher
