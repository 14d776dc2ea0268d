// The admin API's Asio/Beast shell: one I/O thread, one Session per client
// connection (shared_from_this, doRead/onRead pairs like proxy.cpp). The
// logic is handleAdmin's (admin_handler.cpp); this file moves bytes.
//
// A request's life: doRead (expiry read_timeout, header and body limits) ->
// onRead -> handleAdmin -> write (expiry write_timeout) -> doRead, or close
// when the client asked to, after max_requests_per_connection, or after an
// error answer to a request that was not read whole (400, 413, 431).
// handleAdmin may block briefly on the proxy's I/O thread (Proxy::call is
// bounded at 5 s); the admin API is low traffic, one thread is enough.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "sim/switcher/admin.hpp"
#include "sim/switcher/io_thread.hpp"

namespace cutover::switcher {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

using Response = http::response<http::string_body>;

// All values of a field joined with ", " (as RFC 9110 5.3 combines them), so
// a second Host header cannot hide behind a first loopback one.
std::optional<std::string> joinedField(const http::fields& fields, http::field name) {
  std::optional<std::string> out;
  for (auto it = fields.find(name); it != fields.end() && it->name() == name; ++it) {
    if (out) *out += ", ";
    else out.emplace();
    *out += std::string(it->value());
  }
  return out;
}

}  // namespace

class AdminServer::Impl {
 public:
  class Session;

  Impl(AdminContext& context, AdminOptions options)
      : context_(context), options_(std::move(options)), acceptor_(ioc_), accept_retry_timer_(ioc_),
        work_(asio::make_work_guard(ioc_)) {}
  ~Impl() { stop(); }

  bool start(std::string* error);
  void stop();
  std::uint16_t port() const { return port_; }

  AdminContext& context_;
  AdminOptions options_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;  // I/O thread only
  bool stopping_ = false;                                          // I/O thread only

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::uint16_t port_ = 0;
  io_detail::IoThread io_;

 private:
  void doAccept();
  void onAccept(error_code ec, tcp::socket socket);
  void shutdownAll();
};

// ---- Session -------------------------------------------------------------------

class AdminServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& hub, tcp::socket socket) : hub_(hub), stream_(std::move(socket)) {}
  ~Session() { hub_.sessions_.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    hub_.sessions_[this] = weak_from_this();
    doRead();
  }
  void close() {
    error_code ec;
    stream_.socket().close(ec);
  }

 private:
  void doRead() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(hub_.options_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(hub_.options_.max_body_bytes);
    stream_.expires_after(hub_.options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::onRead, shared_from_this()));
  }

  void onRead(error_code ec, std::size_t) {
    if (hub_.stopping_) return close();
    if (ec) return onReadError(ec);
    const auto& req = parser_->get();
    AdminRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.host = joinedField(req, http::field::host);
    request.origin = joinedField(req, http::field::origin);
    request.body = req.body();
    const AdminResponse answer = handleAdmin(request, hub_.context_);
    ++served_;
    const bool keep = req.keep_alive() && served_ < hub_.options_.max_requests_per_connection;
    respond(answer, keep);
  }

  void onReadError(const error_code& ec) {
    // Parse errors of a request we read part of get an answer, then close;
    // a timeout, a clean end or a reset just close.
    if (ec == http::error::header_limit) return respond(errorAnswer(431, "request header too large"), false);
    if (ec == http::error::body_limit) return respond(errorAnswer(413, "request body too large"), false);
    if (ec.category() == beast::http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return respond(errorAnswer(400, "malformed request: " + ec.message()), false);
    close();
  }

  static AdminResponse errorAnswer(unsigned status, const std::string& message) {
    AdminResponse r;
    r.status = status;
    r.body = "{\"error\":\"" + message + "\"}\n";  // messages are ours: plain ASCII, no quotes
    return r;
  }

  void respond(const AdminResponse& answer, bool keep_alive) {
    keep_alive_ = keep_alive;
    res_ = Response{static_cast<http::status>(answer.status), 11};
    res_.set(http::field::server, "cutover-admin");
    res_.set(http::field::content_type, answer.content_type);
    res_.set(http::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : answer.headers) res_.set(name, value);
    res_.body() = answer.body;
    res_.prepare_payload();
    res_.keep_alive(keep_alive_);
    stream_.expires_after(hub_.options_.write_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::onWrite, shared_from_this()));
  }

  void onWrite(error_code ec, std::size_t) {
    if (ec || !keep_alive_ || hub_.stopping_) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return close();
    }
    doRead();
  }

  Impl& hub_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response res_;
  bool keep_alive_ = true;
  std::size_t served_ = 0;
};

// ---- Impl ------------------------------------------------------------------------

void AdminServer::Impl::doAccept() {
  acceptor_.async_accept(ioc_, beast::bind_front_handler(&Impl::onAccept, this));
}

void AdminServer::Impl::onAccept(error_code ec, tcp::socket socket) {
  if (stopping_ || !acceptor_.is_open()) return;
  if (ec) {
    accept_retry_timer_.expires_after(kAcceptRetryDelay);  // e.g. out of descriptors: back off
    accept_retry_timer_.async_wait([this](error_code wait_ec) {
      if (!wait_ec && !stopping_) doAccept();
    });
    return;
  }
  if (sessions_.size() >= options_.max_connections) {
    socket.close(ec);  // over the bound: refuse by closing at once
  } else {
    std::make_shared<Session>(*this, std::move(socket))->start();
  }
  doAccept();
}

void AdminServer::Impl::shutdownAll() {
  stopping_ = true;
  error_code ec;
  acceptor_.close(ec);
  accept_retry_timer_.cancel();
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [raw, weak] : sessions_)
    if (auto s = weak.lock()) live.push_back(std::move(s));
  for (auto& s : live) s->close();
  work_.reset();
}

bool AdminServer::Impl::start(std::string* error) {
  if (io_.running() || stopping_) {
    if (error) *error = "admin server already started";
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

void AdminServer::Impl::stop() { io_.stop(ioc_, [this] { shutdownAll(); }, stopping_, kStopGrace); }

// ---- AdminServer -------------------------------------------------------------------

AdminServer::AdminServer(Proxy& proxy, SwitcherMetrics& metrics, AdminOptions options)
    : owned_context_(std::make_unique<ProxyAdminContext>(proxy, metrics)),
      impl_(std::make_unique<Impl>(*owned_context_, std::move(options))) {}
AdminServer::AdminServer(AdminContext& context, AdminOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(options))) {}
AdminServer::~AdminServer() = default;

bool AdminServer::start(std::string* error) { return impl_->start(error); }
void AdminServer::stop() { impl_->stop(); }
std::uint16_t AdminServer::port() const { return impl_->port(); }

}  // namespace cutover::switcher
