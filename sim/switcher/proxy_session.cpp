// The switcher's live shell, continued: one client connection (Session).
// Every decision is switcher::Core's; this file moves bytes.
//
// A request's life:
//   doRead -> onRead -> Core::route(now, connection id) -> (idle upstream |
//   connect) -> write -> read response -> Core::onRequestDone -> write to the
//   client -> observer's onExchange -> doRead.
// The whole upstream exchange is bounded by upstream_timeout; the connect by
// upstream_connect_timeout; the wait for a request by client_idle_timeout.
//
// Retries, at most one of each kind per request:
//   - stale idle connection: a request sent on a reused idle connection that
//     fails before any response byte is retried once on a fresh connection to
//     the same backend when its method is idempotent (the keep-alive race;
//     Core::mayRetryStale decides);
//   - another backend: a connect failure, or a reset before any response
//     byte, is retried on another backend of the same pool when
//     Core::mayRetry allows it (retry options, l7, and an idempotent method
//     unless the connect failed, so nothing was sent), up to
//     retry.attempts times. Both count in upstream_retries and in
//     ExchangeInfo::retries.
// Errors the switcher makes are answered with kHeaderSwitcherError: 503 when
// no backend could be routed (no_active_pool, no_backend), 502 for a stale
// l4 pin (pinned_backend_gone), a failed connect or a reset, 504 on timeout.
// In l4 mode the Core pins this connection to one backend; ~Session releases
// the pin (Core::closeConnection). The session then owns one upstream
// connection (no idle pool): kept between requests, watched while idle, and
// when the backend closes it (a draining server ending its keep-alive
// connections) the client's connection is closed at once, so the client
// reconnects, is pinned anew, and does not send into a dead path.
#include <algorithm>
#include <array>
#include <string>

#include "metrics/request_record.hpp"
#include "sim/switcher/proxy_impl.hpp"

namespace cutover::switcher {

using namespace proxy_detail;

namespace {

// Hop-by-hop headers stay on their hop (RFC 9110 7.6.1).
template <class Message>
void stripHopByHop(Message& m) {
  for (const auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
                           http::field::te, http::field::trailer, http::field::upgrade})
    m.erase(field);
}

// Messages are written by hand: the start line and fields into one string,
// then that string and the body in one gather write (one sendmsg). Beast's
// serializer, which walks a variant of buffer sequences on every write, was
// a tenth of the proxy's CPU under load (perf, tests/bench/proxy_wrk.sh).
// A body the parser de-chunked goes on with a Content-Length, as a buffering
// proxy (nginx) sends it; a response without a length gets one.
template <bool isRequest>
void frameBody(http::message<isRequest, http::string_body>& m, bool no_body) {
  if (no_body) return;
  if (m.chunked()) m.chunked(false);
  if (!m.has_content_length() && (!isRequest || !m.body().empty())) m.content_length(m.body().size());
}

bool responseHasNoBody(const Response& r, bool to_head) {
  const unsigned code = r.result_int();
  return to_head || code < 200 || code == 204 || code == 304;
}

template <bool isRequest>
void appendFields(std::string& out, const http::message<isRequest, http::string_body>& m) {
  for (const auto& f : m) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

void formatHead(std::string& out, const Request& r) {
  out.clear();
  out.append(r.method_string());
  out += ' ';
  out.append(r.target());
  out.append(" HTTP/1.1\r\n");
  appendFields(out, r);
}

void formatHead(std::string& out, const Response& r) {
  out.clear();
  out.append(r.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(r.result_int()));
  out += ' ';
  out.append(r.reason());
  out.append("\r\n");
  appendFields(out, r);
}

}  // namespace

Proxy::Impl::Session::Session(Impl& hub, Socket socket)
    : hub_(hub), id_(hub.next_connection_++), client_(std::move(socket)) {}

Proxy::Impl::Session::~Session() {
  const Instant now = monoNow();
  if (routed_) hub_.core_.onRequestDone(route_.backend, now, Upstream::cancelled);
  if (hub_.core_.options().mode == Mode::l4) hub_.core_.closeConnection(id_, now);
  hub_.pump();
  hub_.sessions_.erase(this);
}

void Proxy::Impl::Session::start() {
  hub_.sessions_[this] = weak_from_this();
  doRead();
}

void Proxy::Impl::Session::close() {
  error_code ec;
  client_.socket().close(ec);
  if (upstream_) upstream_->stream.socket().close(ec);
}

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
  if (upstream_) {  // l4: the idle watch ends, the kept path serves this request
    ++watch_generation_;
    error_code ignored;
    upstream_->stream.socket().cancel(ignored);
  }
  upreq_ = req_parser_->release();
  client_keep_alive_ = upreq_.keep_alive();
  stripHopByHop(upreq_);
  upreq_.version(11);
  const Instant now = monoNow();
  read_at_ = now;
  exchange_ = ExchangeInfo{};
  error_pool_.clear();
  stale_retried_ = false;
  other_retries_ = 0;
  route_ = hub_.core_.route(now, id_);
  if (!route_) {
    // The pool without a routable backend (Route::pool: read before the
    // answer's rollback sample could change the active pool).
    if (route_.error == RouteError::no_backend) error_pool_ = hub_.core_.poolName(route_.pool);
    hub_.pump();  // a switcher error may have rolled the switch back
    if (route_.error == RouteError::pinned_backend_gone)
      return respondError(http::status::bad_gateway, routeErrorName(route_.error), Upstream::cancelled, "no_backend");
    return respondError(http::status::service_unavailable, routeErrorName(route_.error), Upstream::cancelled,
                        "no_backend");
  }
  hub_.flushEvents();  // e.g. panic
  routed_ = true;
  deadline_ = now + hub_.options_.upstream_timeout;
  useBackend();
}

// Sends upreq_ to route_'s backend, on an idle connection when there is one.
void Proxy::Impl::Session::useBackend() {
  routed_at_ = monoNow();
  if (const auto b = hub_.core_.backend(route_.backend)) {
    exchange_.pool = b->pool;
    exchange_.instance = b->instance;
  }
  if (l4()) {
    // Its own path when it still leads to the pinned backend and looks open.
    if (upstream_ && (upstream_->port != route_.port || !idleLooksAlive(upstream_->stream.socket())))
      closeUpstream();
  } else {
    upstream_ = hub_.takeIdle(route_.port, routed_at_);
  }
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
    if (retryElsewhere(Upstream::connect_failed)) return;
    const bool timed_out = ec == beast::error::timeout;
    respondError(http::status::bad_gateway, timed_out ? "upstream_connect_timeout" : "upstream_connect_failed",
                 Upstream::connect_failed, "connect_failed");
    return;
  }
  upstream_->stream.socket().set_option(tcp::no_delay(true), ec);
  sendUpstream();
}

void Proxy::Impl::Session::sendUpstream() {
  res_parser_.reset();
  upstream_->stream.expires_at(toSteady(deadline_));
  frameBody(upreq_, false);
  formatHead(head_, upreq_);
  asio::async_write(upstream_->stream, std::array{asio::buffer(head_), asio::buffer(upreq_.body())},
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
  const bool upstreamKeeps = res_.keep_alive();
  // l4: the client's connection stands for one TCP path to its pinned
  // backend; when the backend ends it (Connection: close), the client's ends
  // too, and its next connection is pinned anew.
  if (hub_.core_.options().mode == Mode::l4 && !upstreamKeeps) client_keep_alive_ = false;
  // Reuse the connection only when the upstream keeps it and left no extra
  // bytes: l7 through the hub's idle pool, l4 as this session's own path.
  if (upstreamKeeps && upstream_->buffer.size() == 0 && !hub_.stopping_) {
    if (l4()) {
      upstream_->stream.expires_never();
    } else {
      hub_.returnIdle(std::move(upstream_), monoNow());
      upstream_.reset();
    }
  } else {
    closeUpstream();
  }
  finishExchange(res_.result_int() >= 500 ? Upstream::server_error : Upstream::response);
  stripHopByHop(res_);  // the service's own headers (version, instance, request id) stay
  res_.keep_alive(client_keep_alive_);
  exchange_.outcome = "ok";
  if (hub_.observer_) {
    const auto version = res_.find(kHeaderVersion);
    if (version != res_.end()) exchange_.version = std::string(version->value());
  }
  writeClient();
}

void Proxy::Impl::Session::upstreamFailed(error_code ec) {
  const bool got_bytes = (res_parser_ && res_parser_->got_some()) || (upstream_ && upstream_->buffer.size() > 0);
  closeUpstream();
  if (hub_.stopping_) return finishExchange(Upstream::cancelled);
  const bool timed_out = ec == beast::error::timeout;
  if (Core::mayRetryStale(upreq_.method_string(), {.reused = reused_,
                                                     .stale_retried = stale_retried_,
                                                     .got_bytes = got_bytes,
                                                     .timed_out = timed_out,
                                                     .past_deadline = monoNow() >= deadline_})) {
    // The classic race: the server closed the idle connection as we sent.
    stale_retried_ = true;
    reused_ = false;
    ++hub_.stats_.upstream_retries;
    ++exchange_.retries;
    connectFresh();
    return;
  }
  if (!got_bytes && !timed_out && retryElsewhere(Upstream::reset)) return;
  if (timed_out)
    return respondError(http::status::gateway_timeout, "upstream_timeout", Upstream::timeout, "timeout");
  const bool parse_error = ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
  const bool reset = got_bytes || ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  const std::string_view reason = parse_error ? "upstream_bad_response"
                                  : reset     ? "upstream_reset"
                                              : "upstream_closed";  // clean close, no byte
  respondError(http::status::bad_gateway, reason, Upstream::reset, "reset");
}

// The attempt on route_ failed before any response byte: when the Core allows
// it, report that attempt and send the request to another backend of the
// same pool. False when it does not (the caller answers the error).
bool Proxy::Impl::Session::retryElsewhere(Upstream failed) {
  const Instant now = monoNow();
  if (!routed_ || hub_.stopping_ || now >= deadline_) return false;
  if (!hub_.core_.mayRetry(upreq_.method_string(), other_retries_, failed != Upstream::connect_failed)) return false;
  const Route next = hub_.core_.routeRetry(now, route_.backend);
  if (!next) return false;
  hub_.core_.onRequestDone(route_.backend, now, failed, now - routed_at_);
  route_ = next;
  ++other_retries_;
  ++exchange_.retries;
  ++hub_.stats_.upstream_retries;
  hub_.pump();
  useBackend();
  return true;
}

void Proxy::Impl::Session::finishExchange(Upstream outcome) {
  if (!routed_) return;
  routed_ = false;
  const Instant now = monoNow();
  hub_.core_.onRequestDone(route_.backend, now, outcome, now - routed_at_);
  hub_.pump();
}

void Proxy::Impl::Session::respondError(http::status code, std::string_view reason, Upstream outcome,
                                        const char* exchange_outcome) {
  finishExchange(outcome);
  // l4: a failed path to the pinned backend ends the client's connection (as
  // a reset TCP path would); its next connection is pinned anew.
  if (hub_.core_.options().mode == Mode::l4) client_keep_alive_ = false;
  ++hub_.stats_.switch_errors;
  exchange_.outcome = exchange_outcome;
  res_ = Response{code, 11};
  res_.set(http::field::content_type, "text/plain");
  res_.set(kHeaderSwitcherError, reason);
  // The backend it tried, so a client can attribute the failure to it.
  if (!exchange_.instance.empty()) res_.set(kHeaderSwitcherBackend, exchange_.instance);
  const std::string& pool = exchange_.pool.empty() ? error_pool_ : exchange_.pool;
  if (!pool.empty()) res_.set(kHeaderSwitcherPool, pool);
  res_.body() = std::string(reason) + "\n";
  res_.prepare_payload();
  res_.keep_alive(client_keep_alive_);
  writeClient();
}

void Proxy::Impl::Session::writeClient() {
  client_.expires_after(kClientWriteTimeout);
  frameBody(res_, responseHasNoBody(res_, upreq_.method() == http::verb::head));
  formatHead(head_, res_);
  asio::async_write(client_, std::array{asio::buffer(head_), asio::buffer(res_.body())},
                    beast::bind_front_handler(&Session::onClientWrite, shared_from_this()));
}

void Proxy::Impl::Session::onClientWrite(error_code ec, std::size_t) {
  reportExchange();
  if (ec || !client_keep_alive_ || hub_.stopping_) {
    error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  doRead();
  if (upstream_) watchUpstream();  // l4: its kept path, idle now
}

// l4, between requests: wait (without reading) until the kept upstream
// connection is readable, which while idle means the backend closed it or
// broke the protocol.
void Proxy::Impl::Session::watchUpstream() {
  const std::uint64_t generation = ++watch_generation_;
  upstream_->stream.socket().async_wait(
      tcp::socket::wait_read, [self = shared_from_this(), generation](error_code ec) {
        self->onUpstreamIdleEvent(ec, generation);
      });
}

void Proxy::Impl::Session::onUpstreamIdleEvent(error_code ec, std::uint64_t generation) {
  if (ec || generation != watch_generation_ || !upstream_ || hub_.stopping_) return;
  // The backend ended the path while no request was on it: end the client's
  // connection too (its pending read ends, and with it this session).
  ++hub_.stats_.upstream_closed_idle;
  close();
}

// Once per response written (or whose write ended in an error), not during stop.
void Proxy::Impl::Session::reportExchange() {
  if (!hub_.observer_ || hub_.stopping_) return;
  exchange_.status = res_.result_int();
  exchange_.latency = monoNow() - read_at_;
  hub_.observer_->onExchange(exchange_);
}

void Proxy::Impl::Session::closeUpstream() {
  if (!upstream_) return;
  error_code ec;
  upstream_->stream.socket().close(ec);
  upstream_.reset();
}

}  // namespace cutover::switcher
