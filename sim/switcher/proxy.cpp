// The switcher's live shell: Asio/Beast HTTP/1.1 reverse proxy, one I/O thread.
// Every decision is switcher::Core's; this file moves bytes and time.
//
// Per client connection one Session (shared_from_this), callback style
// (doX/onX pairs). A request's life:
//   doRead -> onRead -> Core::route -> (idle upstream | connect) -> write ->
//   read response -> Core::onRequestDone -> write to the client -> doRead.
// The whole upstream exchange is bounded by upstream_timeout; the connect by
// upstream_connect_timeout; the wait for a request by client_idle_timeout.
// A request sent on a reused idle connection that fails before any response
// byte is retried once on a fresh connection when its method is idempotent.
//
// One timer follows Core::nextDeadline(); after every call into the Core that
// may move it (a finished request, a health check result, add, switch,
// rollback, the timer itself) pump() re-arms it and carries out the Core's
// actions: a StartHealthCheck becomes a HealthProbe, a GET of the check path
// on its own connection, bounded by the check timeout, whose result goes back
// to Core::onHealthCheckResult. The Core gets each exchange's outcome and
// latency (route to response) for its rollback policy and outlier ejection.
#include "sim/switcher/proxy.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

#include "metrics/request_record.hpp"
#include "sim/core/clock.hpp"

namespace cutover::switcher {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 8 * 1024 * 1024;
constexpr std::size_t kMaxIdlePerBackend = 64;
constexpr auto kClientWriteTimeout = std::chrono::seconds(10);
constexpr auto kControlTimeout = std::chrono::seconds(5);
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
constexpr std::uint64_t kMaxProbeBodyBytes = 64 * 1024;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

std::chrono::steady_clock::time_point toSteady(Instant t) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
}

bool isIdempotent(http::verb v) {
  return v == http::verb::get || v == http::verb::head || v == http::verb::put ||
         v == http::verb::delete_ || v == http::verb::options || v == http::verb::trace;
}

// Hop-by-hop headers stay on their hop (RFC 9110 7.6.1).
template <class Message>
void stripHopByHop(Message& m) {
  for (const auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
                           http::field::te, http::field::trailer, http::field::upgrade})
    m.erase(field);
}

// An idle kept-alive connection is usable when the peer has neither closed it
// nor sent anything unexpected: a non-blocking peek finds nothing to read.
bool idleLooksAlive(tcp::socket& s) {
  char byte = 0;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct UpstreamConn {
  UpstreamConn(asio::io_context& ioc, std::uint16_t p) : stream(ioc), port(p) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::uint16_t port;
};
using UpstreamPtr = std::shared_ptr<UpstreamConn>;

struct AtomicStats {
  std::atomic<std::uint64_t> client_connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> switch_errors{0};
  std::atomic<std::uint64_t> upstream_connects{0};
  std::atomic<std::uint64_t> upstream_reuses{0};
  std::atomic<std::uint64_t> upstream_retries{0};
};

}  // namespace

class Proxy::Impl {
 public:
  class Session;

  class HealthProbe;

  explicit Impl(ProxyOptions options)
      : options_(std::move(options)), core_(options_.core, Rng(options_.seed)), acceptor_(ioc_), drain_timer_(ioc_),
        accept_retry_timer_(ioc_),
        work_(asio::make_work_guard(ioc_)) {}
  ~Impl() { stop(); }

  bool start(std::string* error);
  void stop();
  std::uint16_t port() const { return port_; }

  // Runs f on the I/O thread (or here, when there is none) and returns its
  // result; nullopt when the I/O thread did not answer in time.
  template <class F>
  auto call(F f) -> std::optional<decltype(f())> {
    using R = decltype(f());
    if (!io_running_.load()) return f();
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    auto result = task->get_future();
    asio::post(ioc_, [task] { (*task)(); });
    if (result.wait_for(kControlTimeout) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  bool removeBackend(const std::string& instance);
  SwitchResult switchTo(const std::string& pool);
  ProxyStats stats() const;

  // Declared before ioc_: pending handlers destroyed with ioc_ still find them.
  ProxyOptions options_;
  Core core_;
  AtomicStats stats_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::unordered_map<HealthProbe*, std::weak_ptr<HealthProbe>> probes_;
  std::optional<Instant> armed_;  // the deadline drain_timer_ waits for
  bool stopping_ = false;  // I/O thread only
  ProxyObserver* observer_ = nullptr;  // set before start()

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer drain_timer_;
  asio::steady_timer accept_retry_timer_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unordered_map<std::uint16_t, std::vector<UpstreamPtr>> idle_;
  std::uint16_t port_ = 0;
  std::atomic<bool> io_running_{false};
  std::thread thread_;
  std::future<void> thread_done_;

  void doAccept();
  void onAccept(error_code ec, tcp::socket socket);
  void armDrainTimer();
  void pump();
  UpstreamPtr takeIdle(std::uint16_t port);
  void returnIdle(UpstreamPtr conn);
  void closeIdle(std::uint16_t port);
  void shutdownAll();
  void closeProbes();
};

// ---- Session -------------------------------------------------------------------

class Proxy::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& hub, tcp::socket socket) : hub_(hub), client_(std::move(socket)) {}
  ~Session() {
    if (routed_) {
      hub_.core_.onRequestDone(route_.backend, monoNow(), Upstream::cancelled);
      hub_.pump();
    }
    hub_.sessions_.erase(this);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    hub_.sessions_[this] = weak_from_this();
    doRead();
  }

  void close() {
    error_code ec;
    client_.socket().close(ec);
    if (upstream_) upstream_->stream.socket().close(ec);
  }

 private:
  void doRead();
  void onRead(error_code ec, std::size_t);
  void connectFresh();
  void onConnect(error_code ec);
  void sendUpstream();
  void onUpstreamWrite(error_code ec, std::size_t);
  void onUpstreamRead(error_code ec, std::size_t);
  void upstreamFailed(error_code ec);
  void finishExchange(Upstream outcome);
  void respondError(http::status status, std::string_view reason, Upstream outcome);
  void writeClient();
  void onClientWrite(error_code ec, std::size_t);
  void closeUpstream();

  Impl& hub_;
  beast::tcp_stream client_;
  beast::flat_buffer client_buf_;
  std::optional<http::request_parser<http::string_body>> req_parser_;
  Request upreq_;
  bool client_keep_alive_ = true;
  Route route_;
  bool routed_ = false;  // route_ holds an in-flight count in the Core
  Instant routed_at_{};
  UpstreamPtr upstream_;
  bool reused_ = false;
  bool retried_ = false;
  Instant deadline_{};
  std::optional<http::response_parser<http::string_body>> res_parser_;
  Response res_;
};

void Proxy::Impl::Session::doRead() {
  req_parser_.emplace();
  req_parser_->header_limit(kMaxHeaderBytes);
  req_parser_->body_limit(kMaxBodyBytes);
  client_.expires_after(hub_.options_.client_idle_timeout);
  http::async_read(client_, client_buf_, *req_parser_,
                   beast::bind_front_handler(&Session::onRead, shared_from_this()));
}

void Proxy::Impl::Session::onRead(error_code ec, std::size_t) {
  if (ec || hub_.stopping_) {
    // end_of_stream between requests, idle timeout, a malformed or oversized
    // request, or shutdown: close the client connection.
    close();
    return;
  }
  ++hub_.stats_.requests;
  upreq_ = req_parser_->release();
  client_keep_alive_ = upreq_.keep_alive();
  stripHopByHop(upreq_);
  upreq_.version(11);
  const Instant now = monoNow();
  route_ = hub_.core_.route(now);
  if (!route_) {
    hub_.pump();  // a switcher error may have rolled the switch back
    respondError(http::status::service_unavailable, routeErrorName(route_.error), Upstream::cancelled);
    return;
  }
  routed_ = true;
  routed_at_ = now;
  deadline_ = now + hub_.options_.upstream_timeout;
  retried_ = false;
  upstream_ = hub_.takeIdle(route_.port);
  reused_ = upstream_ != nullptr;
  if (reused_) {
    ++hub_.stats_.upstream_reuses;
    sendUpstream();
  } else {
    connectFresh();
  }
}

void Proxy::Impl::Session::connectFresh() {
  ++hub_.stats_.upstream_connects;
  upstream_ = std::make_shared<UpstreamConn>(hub_.ioc_, route_.port);
  const Duration remaining = deadline_ - monoNow();
  upstream_->stream.expires_after(std::max(Duration{0}, std::min(hub_.options_.upstream_connect_timeout, remaining)));
  const tcp::endpoint ep(asio::ip::address_v4::loopback(), route_.port);
  upstream_->stream.async_connect(ep, beast::bind_front_handler(&Session::onConnect, shared_from_this()));
}

void Proxy::Impl::Session::onConnect(error_code ec) {
  if (hub_.stopping_) return finishExchange(Upstream::cancelled);
  if (ec) {
    closeUpstream();
    const bool timed_out = ec == beast::error::timeout;
    respondError(http::status::bad_gateway, timed_out ? "upstream_connect_timeout" : "upstream_connect_failed",
                 Upstream::connect_failed);
    return;
  }
  upstream_->stream.socket().set_option(tcp::no_delay(true), ec);
  sendUpstream();
}

void Proxy::Impl::Session::sendUpstream() {
  res_parser_.reset();
  upstream_->stream.expires_at(toSteady(deadline_));
  http::async_write(upstream_->stream, upreq_,
                    beast::bind_front_handler(&Session::onUpstreamWrite, shared_from_this()));
}

void Proxy::Impl::Session::onUpstreamWrite(error_code ec, std::size_t) {
  if (ec) return upstreamFailed(ec);
  res_parser_.emplace();
  res_parser_->header_limit(kMaxHeaderBytes);
  res_parser_->body_limit(kMaxBodyBytes);
  if (upreq_.method() == http::verb::head) res_parser_->skip(true);
  http::async_read(upstream_->stream, upstream_->buffer, *res_parser_,
                   beast::bind_front_handler(&Session::onUpstreamRead, shared_from_this()));
}

void Proxy::Impl::Session::onUpstreamRead(error_code ec, std::size_t) {
  if (ec) return upstreamFailed(ec);
  res_ = res_parser_->release();
  res_parser_.reset();
  // Reuse the connection only when the upstream keeps it and left no extra bytes.
  if (res_.keep_alive() && upstream_->buffer.size() == 0 && !hub_.stopping_) {
    hub_.returnIdle(std::move(upstream_));
    upstream_.reset();
  } else {
    closeUpstream();
  }
  finishExchange(res_.result_int() >= 500 ? Upstream::server_error : Upstream::response);
  stripHopByHop(res_);  // the service's own headers (version, instance, request id) stay
  res_.keep_alive(client_keep_alive_);
  writeClient();
}

void Proxy::Impl::Session::upstreamFailed(error_code ec) {
  const bool got_bytes = (res_parser_ && res_parser_->got_some()) || (upstream_ && upstream_->buffer.size() > 0);
  closeUpstream();
  if (hub_.stopping_) return finishExchange(Upstream::cancelled);
  const bool timed_out = ec == beast::error::timeout;
  if (reused_ && !retried_ && !got_bytes && !timed_out && isIdempotent(upreq_.method()) &&
      monoNow() < deadline_) {
    // The classic race: the server closed the idle connection as we sent.
    retried_ = true;
    reused_ = false;
    ++hub_.stats_.upstream_retries;
    connectFresh();
    return;
  }
  if (timed_out) return respondError(http::status::gateway_timeout, "upstream_timeout", Upstream::timeout);
  const bool parse_error = ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
  const bool reset = got_bytes || ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  const std::string_view reason = parse_error ? "upstream_bad_response"
                                  : reset     ? "upstream_reset"
                                              : "upstream_closed";  // clean close, no byte
  respondError(http::status::bad_gateway, reason, Upstream::reset);
}

void Proxy::Impl::Session::finishExchange(Upstream outcome) {
  if (!routed_) return;
  routed_ = false;
  const Instant now = monoNow();
  hub_.core_.onRequestDone(route_.backend, now, outcome, now - routed_at_);
  hub_.pump();
}

void Proxy::Impl::Session::respondError(http::status status, std::string_view reason, Upstream outcome) {
  finishExchange(outcome);
  ++hub_.stats_.switch_errors;
  res_ = Response{status, 11};
  res_.set(http::field::content_type, "text/plain");
  res_.set(kHeaderSwitcherError, reason);
  // The backend it tried, so a client can attribute the failure to it.
  if (route_) {
    if (const auto b = hub_.core_.backend(route_.backend)) res_.set(kHeaderSwitcherBackend, b->instance);
  }
  res_.body() = std::string(reason) + "\n";
  res_.prepare_payload();
  res_.keep_alive(client_keep_alive_);
  writeClient();
}

void Proxy::Impl::Session::writeClient() {
  client_.expires_after(kClientWriteTimeout);
  http::async_write(client_, res_, beast::bind_front_handler(&Session::onClientWrite, shared_from_this()));
}

void Proxy::Impl::Session::onClientWrite(error_code ec, std::size_t) {
  if (ec || !client_keep_alive_ || hub_.stopping_) {
    error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  doRead();
}

void Proxy::Impl::Session::closeUpstream() {
  if (!upstream_) return;
  error_code ec;
  upstream_->stream.socket().close(ec);
  upstream_.reset();
}

// ---- HealthProbe: one active health check -------------------------------------------

class Proxy::Impl::HealthProbe : public std::enable_shared_from_this<HealthProbe> {
 public:
  HealthProbe(Impl& hub, StartHealthCheck check) : hub_(hub), check_(std::move(check)), stream_(hub.ioc_) {}
  ~HealthProbe() { hub_.probes_.erase(this); }
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  void start() {
    hub_.probes_[this] = weak_from_this();
    const auto& hc = hub_.options_.core.health_check;
    req_ = Request{http::verb::get, hc.path, 11};
    req_.set(http::field::host, "127.0.0.1");
    req_.set(http::field::user_agent, "cutover-switcher-health-check");
    req_.keep_alive(false);
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(kMaxProbeBodyBytes);
    stream_.expires_after(hc.timeout);  // the whole check: connect, write, read
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), check_.port);
    stream_.async_connect(ep, beast::bind_front_handler(&HealthProbe::onConnect, shared_from_this()));
  }

  void close() {
    error_code ec;
    stream_.socket().close(ec);
  }

 private:
  static std::string why(std::string_view step, const error_code& ec) {
    if (ec == beast::error::timeout) return "timeout";
    return std::string(step) + ": " + ec.message();
  }
  void onConnect(error_code ec) {
    if (ec) return finish(false, why("connect", ec));
    http::async_write(stream_, req_, beast::bind_front_handler(&HealthProbe::onWrite, shared_from_this()));
  }
  void onWrite(error_code ec, std::size_t) {
    if (ec) return finish(false, why("write", ec));
    http::async_read(stream_, buffer_, parser_, beast::bind_front_handler(&HealthProbe::onRead, shared_from_this()));
  }
  void onRead(error_code ec, std::size_t) {
    if (ec) return finish(false, why("read", ec));
    const unsigned status = parser_.get().result_int();
    finish(status >= 200 && status < 300, "status " + std::to_string(status));
  }
  void finish(bool passed, const std::string& detail) {
    close();
    if (hub_.stopping_) return;
    hub_.core_.onHealthCheckResult(check_.backend, check_.check, passed, monoNow(), detail);
    hub_.pump();
  }

  Impl& hub_;
  StartHealthCheck check_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Request req_;
  http::response_parser<http::string_body> parser_;
};

// Carries out the Core's actions and re-arms the timer.
void Proxy::Impl::pump() {
  if (stopping_) return;
  while (auto action = core_.pollAction()) {
    if (const auto* check = std::get_if<StartHealthCheck>(&*action))
      std::make_shared<HealthProbe>(*this, *check)->start();
  }
  armDrainTimer();
}

void Proxy::Impl::closeProbes() {
  std::vector<std::shared_ptr<HealthProbe>> live;
  for (auto& [raw, weak] : probes_)
    if (auto p = weak.lock()) live.push_back(std::move(p));
  for (auto& p : live) p->close();
}

// ---- Impl: accept, pool, timer ----------------------------------------------------

void Proxy::Impl::doAccept() {
  acceptor_.async_accept(ioc_, beast::bind_front_handler(&Impl::onAccept, this));
}

void Proxy::Impl::onAccept(error_code ec, tcp::socket socket) {
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

UpstreamPtr Proxy::Impl::takeIdle(std::uint16_t port) {
  const auto it = idle_.find(port);
  if (it == idle_.end()) return nullptr;
  auto& conns = it->second;
  while (!conns.empty()) {
    UpstreamPtr c = std::move(conns.back());
    conns.pop_back();
    if (idleLooksAlive(c->stream.socket())) return c;
    error_code ec;
    c->stream.socket().close(ec);
  }
  return nullptr;
}

void Proxy::Impl::returnIdle(UpstreamPtr conn) {
  auto& conns = idle_[conn->port];
  if (conns.size() >= kMaxIdlePerBackend) {
    error_code ec;
    conn->stream.socket().close(ec);
    return;
  }
  conn->stream.expires_never();
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
  auto fail = [error](const std::string& what, const error_code& ec) {
    if (error) *error = what + (ec ? ": " + ec.message() : "");
    return false;
  };
  if (io_running_.load() || stopping_) return fail("proxy already started", {});
  error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return fail("bad listen host " + options_.host, ec);
  if (!address.is_loopback()) return fail("listen host must be a loopback address: " + options_.host, {});
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on " + options_.host + ":" + std::to_string(options_.port), ec);
  port_ = acceptor_.local_endpoint(ec).port();
  doAccept();
  std::promise<void> done;
  thread_done_ = done.get_future();
  io_running_ = true;
  thread_ = std::thread([this, d = std::move(done)]() mutable {
    ioc_.run();
    d.set_value();
  });
  return true;
}

void Proxy::Impl::stop() {
  if (!io_running_.load()) {
    if (!stopping_) shutdownAll();
    return;
  }
  asio::post(ioc_, [this] { shutdownAll(); });
  if (thread_done_.wait_for(kStopGrace) != std::future_status::ready) ioc_.stop();  // close hard
  thread_.join();
  io_running_ = false;
  // Run what is left (aborted completions) here, then nothing is pending.
  shutdownAll();
  ioc_.restart();
  ioc_.poll();
}

bool Proxy::Impl::removeBackend(const std::string& instance) {
  const auto id = core_.findBackend(instance);
  if (!id) return false;
  const std::uint16_t port = core_.backend(*id)->port;
  const bool removed = core_.removeBackend(instance, monoNow());
  closeIdle(port);
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
  return s;
}

// ---- Proxy -----------------------------------------------------------------------

Proxy::Proxy(ProxyOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Proxy::~Proxy() = default;

void Proxy::setObserver(ProxyObserver* observer) { impl_->observer_ = observer; }
bool Proxy::start(std::string* error) { return impl_->start(error); }
void Proxy::stop() { impl_->stop(); }
std::uint16_t Proxy::port() const { return impl_->port(); }

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
  return r ? *r : SwitchResult{false, "switcher I/O thread did not answer"};
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
  return impl_->call([this] { return impl_->core_.takeEvents(); }).value_or(std::vector<Event>{});
}

ProxyStats Proxy::stats() const { return impl_->stats(); }

}  // namespace cutover::switcher
