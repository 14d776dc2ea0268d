// The live shell of `cutover fake-service`: one io_context on one thread, an
// HTTP/1.1 keep-alive server on Beast, and the Behaviour model deciding every
// status, service time and lifecycle step. The shell only moves bytes and
// time (monoNow()) into the model and carries its actions out.
//
// Waits without an expiry, by design: the accept loop (ends when the
// listener closes), the signal wait and the control-channel read (end with
// the process). Every socket read and write has one.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <istream>
#include <memory>
#include <string>
#include <unordered_map>

#include "fake-services/behaviour.hpp"
#include "fake-services/fake_service.hpp"
#include "fake-services/lifecycle_writer.hpp"
#include "metrics/request_record.hpp"
#include "sim/core/clock.hpp"

namespace cutover::service {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kIdleTimeout = std::chrono::seconds(60);   // keep-alive and header read
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr std::uint64_t kBodyLimit = 1024 * 1024;
constexpr std::size_t kMaxConnections = 4096;
constexpr std::size_t kMaxControlLine = 1024;
constexpr std::size_t kMaxActionsPerPump = 64;
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
constexpr int kExitSetupFailed = 3;
// Introspection for tests and the runner, like /health never counted in flight:
// {"in_flight":N,"queued":N,"ready":B,"phase":"none|pre_stop|draining","signals":N,
//  "listener_open":B,"paused":B}. Answered even while paused.
constexpr std::string_view kStatePath = "/_cutover/state";

std::string_view phaseName(ShutdownPhase p) {
  switch (p) {
    case ShutdownPhase::none: return "none";
    case ShutdownPhase::pre_stop: return "pre_stop";
    case ShutdownPhase::draining: return "draining";
    case ShutdownPhase::exited: return "exited";
  }
  return "?";
}

void logLine(const std::string& text) {
  std::fprintf(stderr, "t=%lld %s\n", static_cast<long long>(toNanos(monoNow())), text.c_str());
  std::fflush(stderr);
}

bool writeAll(int fd, const std::string& s) {
  std::size_t done = 0;
  for (int tries = 0; done < s.size() && tries < 100; ++tries) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return done == s.size();
}

class Connection;

// Owns the io_context, the listener, the model and the registry of connections.
class Server {
 public:
  explicit Server(const FakeServiceOptions& options);
  int run();

  // Called by connections.
  RequestPlan planRequest(std::string_view path) {
    auto plan = behaviour_.planRequest(monoNow(), path);
    pump();  // capacity may close the listener
    return plan;
  }
  void requestFinished(std::uint64_t id);
  HealthAnswer health() const { return behaviour_.health(monoNow()); }
  bool paused() const { return behaviour_.paused(); }
  void park(std::weak_ptr<Connection> c) { parked_.push_back(std::move(c)); }
  void queue(std::uint64_t id, std::weak_ptr<Connection> c) { queued_.emplace(id, std::move(c)); }
  LifecycleWriter& lifecycle() { return lifecycle_; }
  bool closeConnections() const { return behaviour_.closeConnections(); }
  const FakeServiceOptions& options() const { return options_; }
  const std::string& body() const { return body_; }
  const std::string& versionHeader() const { return version_header_; }
  void forget(std::uint64_t id) { connections_.erase(id); }
  std::string stateJson() const {
    const auto b = [](bool v) { return v ? std::string("true") : std::string("false"); };
    return "{\"in_flight\":" + std::to_string(behaviour_.inFlight()) +
           ",\"queued\":" + std::to_string(behaviour_.queued()) + ",\"ready\":" + b(behaviour_.ready()) +
           ",\"phase\":\"" + std::string(phaseName(behaviour_.phase())) +
           "\",\"signals\":" + std::to_string(signals_seen_) + ",\"listener_open\":" +
           b(behaviour_.listenerOpen()) + ",\"paused\":" + b(behaviour_.paused()) + "}";
  }

 private:
  void pump();
  void apply(const Action& action);
  void armTimer();
  void openListener();
  void closeListener();
  void resumeParked();
  void startQueued(std::uint64_t id);
  void reportPort(std::uint16_t port);
  void doAccept();
  void onAccept(const error_code& ec, tcp::socket socket, std::uint64_t generation);
  void waitSignal();
  void readControl();
  void closeIdle();
  void exitNow(const Exit& exit);

  asio::io_context io_;  // first: destroyed last
  FakeServiceOptions options_;
  Behaviour behaviour_;
  std::string body_;
  std::string version_header_;
  asio::signal_set signals_;
  asio::steady_timer model_timer_;
  std::optional<Instant> armed_;
  asio::steady_timer accept_retry_;
  tcp::acceptor acceptor_;
  std::uint16_t bound_port_ = 0;      // once listening: reopen on this port
  std::uint64_t accept_generation_ = 0;
  LifecycleWriter lifecycle_;
  std::vector<std::weak_ptr<Connection>> parked_;  // responses held by a pause
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> queued_;
  asio::posix::stream_descriptor control_;
  asio::streambuf control_buf_{kMaxControlLine};
  // Owns every open connection: one may wait with no operation pending
  // (queued, hung, held by a pause). Connection::close() removes it; every
  // caller of close() holds its own shared_ptr.
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool exiting_ = false;
  std::uint64_t signals_seen_ = 0;
  int exit_code_ = kExitClean;
};

// One client connection, kept alive by shared_from_this while an operation is
// pending. busy_ from a request's first byte until its response is written.
// A request (not /health, not the state path) is planned by the model and
// counted in flight (planned_) until its end is written to the lifecycle log.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Server& server, std::uint64_t id)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server), id_(id) {}

  void start() { doRead(); }
  bool idle() const { return !busy_ && !(parser_ && parser_->got_some()) && buffer_.size() == 0; }
  bool inFlight() const { return planned_; }
  void close(bool reset);
  // The process exits: log the request in flight, then close.
  void closeForExit(bool reset);
  // A queued request enters service.
  void startService();
  // Writes what is due now (the pause fault holds it until resumed).
  void deliver();

 private:
  enum class Due { health, state, plan };
  void doRead();
  void onRead(const error_code& ec);
  void handleRequest();
  void handleHealth();
  void onServiceTime(const error_code& ec);
  void respond(unsigned status, bool close);
  void writeHead(unsigned status, std::size_t body_size, bool closing);
  void onWrite(const error_code& ec, bool close);
  void resetMidResponse();
  void finishRequest(RequestEnd end, std::optional<std::uint16_t> status);

  beast::tcp_stream stream_;
  asio::steady_timer timer_;  // service time, health delay
  beast::flat_buffer buffer_{kHeaderLimit + kBodyLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  std::string head_;     // the response head being written
  std::string body_;     // the body of a /health or state response
  std::uint16_t status_ = 0;
  std::string partial_;  // reset mid-response: what is sent before the RST
  RequestPlan plan_;
  Due due_ = Due::plan;
  std::uint16_t health_status_ = 200;
  RequestLifecycle record_;
  Server& server_;
  std::uint64_t id_;
  bool busy_ = false;
  bool planned_ = false;  // counted in flight by the model
  bool closed_ = false;
};

void Connection::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  auto& socket = stream_.socket();
  if (reset) {
    // SO_LINGER 0: close() sends RST, so the peer sees a reset, not a FIN.
    const ::linger lg{1, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else {
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
  timer_.cancel();
  socket.close(ec);
  server_.forget(id_);
}

void Connection::closeForExit(bool reset) {
  if (planned_ && !closed_) {
    record_.finished = monoNow();
    record_.end = reset ? RequestEnd::exit_reset : RequestEnd::exit_close;
    server_.lifecycle().request(record_);
  }
  close(reset);
}

// Logs the end of a planned request and tells the model it is no longer in
// flight. Last in a handler: the model may exit, which closes every connection.
void Connection::finishRequest(RequestEnd end, std::optional<std::uint16_t> status) {
  if (!planned_) return;
  planned_ = false;
  record_.finished = monoNow();
  record_.end = end;
  record_.status = status;
  server_.lifecycle().request(record_);
  server_.requestFinished(plan_.id);
}

void Connection::doRead() {
  busy_ = false;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(kBodyLimit);
  stream_.expires_after(kIdleTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const error_code& ec, std::size_t) { self->onRead(ec); });
}

void Connection::onRead(const error_code& ec) {
  if (closed_) return;
  if (ec) {  // EOF, timeout, reset, bad request, limits: nothing in flight here
    close(false);
    return;
  }
  busy_ = true;
  request_ = parser_->release();
  handleRequest();
}

void Connection::handleRequest() {
  const std::string_view target = request_.target();
  if (target == "/health" || target.starts_with("/health?")) return handleHealth();
  if (target == kStatePath) {
    due_ = Due::state;
    respond(200u, server_.closeConnections());
    return;
  }
  const Instant now = monoNow();
  plan_ = server_.planRequest(target);
  due_ = Due::plan;
  record_ = RequestLifecycle{};
  record_.connection = id_;
  record_.accepted = now;
  if (const auto it = request_.find(kHeaderRequestId); it != request_.end()) record_.request_id = it->value();
  switch (plan_.start) {
    case Start::reject:  // not in flight: answered at once and logged here
      record_.finished = now;
      record_.end = RequestEnd::rejected;
      record_.status = plan_.status;
      server_.lifecycle().request(record_);
      deliver();
      return;
    case Start::refuse:
      record_.finished = now;
      record_.end = RequestEnd::refused;
      server_.lifecycle().request(record_);
      close(true);
      return;
    case Start::queued:
      planned_ = true;
      server_.queue(plan_.id, weak_from_this());
      return;
    case Start::now:
      planned_ = true;
      startService();
      return;
  }
}

void Connection::handleHealth() {
  const HealthAnswer answer = server_.health();
  due_ = Due::health;
  health_status_ = answer.status;
  if (answer.delay.count() <= 0) return deliver();
  timer_.expires_after(answer.delay);
  timer_.async_wait([self = shared_from_this()](const error_code& e) {
    if (!e && !self->closed_) self->deliver();
  });
}

void Connection::startService() {
  if (closed_) return;
  record_.started = monoNow();
  if (!plan_.service_time) return;  // hang fault: never answer
  if (plan_.service_time->count() <= 0) return deliver();  // no timer round trip
  timer_.expires_after(*plan_.service_time);
  timer_.async_wait([self = shared_from_this()](const error_code& e) { self->onServiceTime(e); });
}

void Connection::onServiceTime(const error_code& ec) {
  if (ec || closed_) return;  // cancelled: the connection is being closed
  deliver();
}

void Connection::deliver() {
  if (closed_) return;
  if (server_.paused()) return server_.park(weak_from_this());
  if (due_ == Due::health) return respond(health_status_, server_.closeConnections());
  switch (plan_.ending) {
    case Ending::respond:
      // Decide "Connection: close" when the response is written, not when
      // planned: a request that arrived before the drain still closes.
      return respond(plan_.status, server_.closeConnections());
    case Ending::close:
      close(false);
      return finishRequest(RequestEnd::fault_close, std::nullopt);
    case Ending::reset:
      return resetMidResponse();
  }
}

// The response head, written by hand: the hot path of every request, and
// cheaper than Beast's fields and serializer (see tests/bench/fake_service_wrk.sh).
void Connection::writeHead(unsigned status, std::size_t body_size, bool closing) {
  const bool http10 = request_.version() == 10;
  head_.clear();
  head_ += http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head_ += std::to_string(status);
  head_ += ' ';
  head_ += http::obsolete_reason(static_cast<http::status>(status));
  head_ += "\r\nServer: cutover-fake-service\r\nContent-Type: text/plain\r\n";
  head_ += server_.versionHeader();  // "x-cutover-version: ..\r\nx-cutover-instance: ..\r\n"
  if (const auto it = request_.find(kHeaderRequestId); it != request_.end()) {
    head_ += kHeaderRequestId;
    head_ += ": ";
    head_ += it->value();
    head_ += "\r\n";
  }
  head_ += "Content-Length: ";
  head_ += std::to_string(body_size);
  head_ += "\r\n";
  if (closing) head_ += "Connection: close\r\n";
  else if (http10) head_ += "Connection: keep-alive\r\n";
  head_ += "\r\n";
}

void Connection::resetMidResponse() {
  const std::string& body = server_.body();
  writeHead(plan_.status, body.size(), false);
  partial_ = head_ + body.substr(0, body.size() / 2);
  stream_.expires_after(kWriteTimeout);
  asio::async_write(stream_, asio::buffer(partial_), [self = shared_from_this()](const error_code&, std::size_t) {
    if (self->closed_) return;
    self->close(true);
    self->finishRequest(RequestEnd::fault_reset, self->plan_.status);
  });
}

void Connection::respond(unsigned status, bool close) {
  status_ = static_cast<std::uint16_t>(status);
  const std::string* body = &body_;
  switch (due_) {
    case Due::state: body_ = server_.stateJson(); break;
    case Due::health: body_ = status == 200 ? "ok" : "not ready"; break;
    case Due::plan: body = &server_.body(); break;
  }
  const bool closing = close || !request_.keep_alive();
  writeHead(status, body->size(), closing);
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(*body)};
  stream_.expires_after(kWriteTimeout);
  asio::async_write(stream_, buffers, [self = shared_from_this(), closing](const error_code& ec, std::size_t) {
    self->onWrite(ec, closing);
  });
}

void Connection::onWrite(const error_code& ec, bool close_after) {
  if (closed_) return;
  const auto status = status_;
  if (ec || close_after) close(false);
  else doRead();
  // Last: this may make the model exit, which closes every connection.
  if (ec) finishRequest(RequestEnd::client_gone, std::nullopt);
  else finishRequest(RequestEnd::completed, status);
}

Server::Server(const FakeServiceOptions& options)
    : options_(options),
      behaviour_(options.spec, Rng(options.seed), monoNow()),
      signals_(io_, SIGTERM, SIGINT),
      model_timer_(io_),
      accept_retry_(io_),
      acceptor_(io_),
      control_(io_) {
  version_header_ = std::string(kHeaderVersion) + ": " + options.spec.version + "\r\n" +
                    std::string(kHeaderInstance) + ": " + options.instance + "\r\n";
  body_.reserve(options.spec.response_bytes);
  for (std::size_t i = 0; i < options.spec.response_bytes; ++i) body_.push_back(i % 2 == 0 ? 'o' : 'k');
}

int Server::run() {
  logLine("start instance=" + options_.instance + " version=" + options_.spec.version +
          " pid=" + std::to_string(::getpid()));
  if (!options_.lifecycle_path.empty() &&
      !lifecycle_.open(options_.lifecycle_path, options_.instance, options_.spec.version)) {
    logLine("lifecycle log: cannot open " + options_.lifecycle_path);
    return kExitSetupFailed;
  }
  lifecycle_.event(monoNow(), "start", "pid=" + std::to_string(::getpid()));
  waitSignal();
  if (options_.control_fd >= 0) {
    error_code ec;
    control_.assign(options_.control_fd, ec);
    if (ec) logLine("control fd: " + ec.message());
    else readControl();
  }
  behaviour_.onTimeout(monoNow());
  pump();
  if (!exiting_) io_.run();
  return exit_code_;
}

void Server::requestFinished(std::uint64_t id) {
  behaviour_.handle(RequestFinished{id}, monoNow());
  pump();
}

void Server::pump() {
  for (std::size_t i = 0; i < kMaxActionsPerPump && !exiting_; ++i) {
    auto action = behaviour_.pollAction();
    if (!action) break;
    apply(*action);
  }
  if (!exiting_) armTimer();
}

void Server::armTimer() {
  const auto deadline = behaviour_.nextDeadline();
  if (deadline == armed_) return;
  armed_ = deadline;
  if (!deadline) {
    model_timer_.cancel();
    return;
  }
  model_timer_.expires_after(std::max(Duration{0}, *deadline - monoNow()));  // cancels a pending wait
  model_timer_.async_wait([this](const error_code& ec) {
    if (ec || exiting_) return;
    armed_.reset();
    behaviour_.onTimeout(monoNow());
    pump();
  });
}

void Server::apply(const Action& action) {
  if (const auto* note = std::get_if<Note>(&action)) {
    logLine(note->text);
  } else if (std::holds_alternative<OpenListener>(action)) {
    openListener();
  } else if (std::holds_alternative<BecomeReady>(action)) {
    logLine("ready");
    lifecycle_.event(monoNow(), "ready");
  } else if (std::holds_alternative<FailReadiness>(action)) {
    logLine("readiness failing");
    lifecycle_.event(monoNow(), "readiness_failing");
  } else if (std::holds_alternative<CloseListener>(action)) {
    closeListener();
  } else if (std::holds_alternative<CloseIdleConnections>(action)) {
    closeIdle();
  } else if (const auto* start = std::get_if<StartRequest>(&action)) {
    startQueued(start->id);
  } else if (std::holds_alternative<ResumePaused>(action)) {
    resumeParked();
  } else if (const auto* exit = std::get_if<Exit>(&action)) {
    exitNow(*exit);
  }
}

void Server::startQueued(std::uint64_t id) {
  const auto it = queued_.find(id);
  std::shared_ptr<Connection> c;
  if (it != queued_.end()) {
    c = it->second.lock();
    queued_.erase(it);
  }
  if (c) {
    c->startService();
  } else {  // its connection is gone: it leaves service at once
    behaviour_.handle(RequestFinished{id}, monoNow());
  }
}

void Server::resumeParked() {
  auto parked = std::move(parked_);
  parked_.clear();
  lifecycle_.event(monoNow(), "resumed", "held=" + std::to_string(parked.size()));
  for (const auto& weak : parked) {
    if (auto c = weak.lock()) c->deliver();
  }
}

void Server::openListener() {
  error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec || !address.is_loopback()) {
    logLine("refusing to listen on non-loopback host '" + options_.host + "'");
    return exitNow(Exit{kExitSetupFailed, false, "bad host"});
  }
  const bool reopen = bound_port_ != 0;
  const tcp::endpoint endpoint(address, reopen ? bound_port_ : options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    logLine("listen on " + options_.host + ":" + std::to_string(endpoint.port()) + " failed: " + ec.message());
    if (reopen) {  // someone took the port meanwhile: stay closed, keep serving
      error_code ignored;
      acceptor_.close(ignored);
      lifecycle_.event(monoNow(), "listener_reopen_failed", ec.message());
      return;
    }
    return exitNow(Exit{kExitSetupFailed, false, "listen failed"});
  }
  bound_port_ = acceptor_.local_endpoint(ec).port();
  logLine(std::string(reopen ? "listening again" : "listening") + " port=" + std::to_string(bound_port_));
  lifecycle_.event(monoNow(), reopen ? "listener_open" : "listening", "port=" + std::to_string(bound_port_));
  if (!reopen) reportPort(bound_port_);
  doAccept();
}

void Server::closeListener() {
  error_code ec;
  acceptor_.close(ec);
  accept_retry_.cancel();
  ++accept_generation_;
  logLine("listener closed");
  lifecycle_.event(monoNow(), "listener_closed");
}

void Server::reportPort(std::uint16_t port) {
  const std::string line = "port=" + std::to_string(port) + "\n";
  if (options_.ready_fd < 0) {
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  if (!writeAll(options_.ready_fd, line)) logLine("ready fd: write failed");
  ::close(options_.ready_fd);
}

void Server::doAccept() {
  acceptor_.async_accept(io_, [this, g = accept_generation_](const error_code& ec, tcp::socket socket) {
    onAccept(ec, std::move(socket), g);
  });
}

void Server::onAccept(const error_code& ec, tcp::socket socket, std::uint64_t generation) {
  // A handler of a listener closed since (and maybe reopened) must not accept.
  if (exiting_ || !acceptor_.is_open() || generation != accept_generation_) return;
  if (ec) {  // e.g. EMFILE: retry a little later rather than spin
    logLine("accept: " + ec.message());
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([this, generation](const error_code& e) {
      if (!e && !exiting_ && acceptor_.is_open() && generation == accept_generation_) doAccept();
    });
    return;
  }
  if (connections_.size() >= kMaxConnections) {
    error_code ignored;
    socket.close(ignored);
  } else {
    const auto id = next_id_++;
    auto connection = std::make_shared<Connection>(std::move(socket), *this, id);
    connections_.emplace(id, connection);
    connection->start();
  }
  doAccept();
}

void Server::waitSignal() {
  signals_.async_wait([this](const error_code& ec, int signo) {
    if (ec || exiting_) return;
    const char* name = signo == SIGINT ? "sigint" : "sigterm";
    logLine(name);
    lifecycle_.event(monoNow(), name);
    ++signals_seen_;
    behaviour_.handle(SignalReceived{signo == SIGINT ? Signal::interrupt : Signal::term}, monoNow());
    pump();
    if (!exiting_) waitSignal();
  });
}

void Server::readControl() {
  asio::async_read_until(control_, control_buf_, '\n', [this](const error_code& ec, std::size_t) {
    if (exiting_) return;
    if (ec) {
      logLine("control channel closed: " + ec.message());
      return;
    }
    std::istream in(&control_buf_);
    std::string line;
    std::getline(in, line);
    auto event = parseControlCommand(line);
    if (!event) {
      logLine(event.error().message);
    } else {
      logLine("control: " + line);
      lifecycle_.event(monoNow(), "control", line);
      behaviour_.handle(event.value(), monoNow());
      pump();
    }
    if (!exiting_) readControl();
  });
}

void Server::closeIdle() {
  std::size_t closed = 0;
  // Collect first: close() erases from the map.
  std::vector<std::shared_ptr<Connection>> idle;
  for (const auto& [id, c] : connections_) {
    if (c->idle()) idle.push_back(c);
  }
  for (const auto& c : idle) {
    c->close(false);
    ++closed;
  }
  logLine("closed idle connections n=" + std::to_string(closed));
}

void Server::exitNow(const Exit& exit) {
  exiting_ = true;
  exit_code_ = exit.code;
  std::vector<std::shared_ptr<Connection>> all;
  for (const auto& [id, c] : connections_) all.push_back(c);
  std::size_t reset = 0;
  for (const auto& c : all) {
    const bool rst = exit.reset_in_flight && c->inFlight();
    reset += rst ? 1 : 0;
    c->closeForExit(rst);
  }
  error_code ec;
  acceptor_.close(ec);
  const std::string detail = "code=" + std::to_string(exit.code) + " reason=" + exit.reason +
                             " reset=" + std::to_string(reset);
  logLine("exit " + detail);
  lifecycle_.event(monoNow(), "exit", detail);
  if (exit.crash) ::_exit(exit.code);  // abrupt: no destructors, no flushing
  io_.stop();
}

}  // namespace

int runFakeService(const FakeServiceOptions& options) {
  // A peer that goes away must not kill the process through SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  Server server(options);
  return server.run();
}

}  // namespace cutover::service
