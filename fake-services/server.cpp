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
#include <boost/asio/streambuf.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <istream>
#include <memory>
#include <string>
#include <unordered_map>

#include "fake-services/behaviour.hpp"
#include "fake-services/fake_service.hpp"
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
// {"in_flight":N,"ready":B,"phase":"none|pre_stop|draining","signals":N}.
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
  RequestPlan planRequest() { return behaviour_.planRequest(monoNow()); }
  void requestFinished();
  bool ready() const { return behaviour_.ready(); }
  bool closeConnections() const { return behaviour_.closeConnections(); }
  const FakeServiceOptions& options() const { return options_; }
  const std::string& body() const { return body_; }
  void forget(std::uint64_t id) { connections_.erase(id); }
  std::string stateJson() const {
    return "{\"in_flight\":" + std::to_string(behaviour_.inFlight()) +
           ",\"ready\":" + (behaviour_.ready() ? "true" : "false") + ",\"phase\":\"" +
           std::string(phaseName(behaviour_.phase())) + "\",\"signals\":" + std::to_string(signals_seen_) + "}";
  }

 private:
  void pump();
  void apply(const Action& action);
  void armTimer();
  void openListener();
  void reportPort(std::uint16_t port);
  void doAccept();
  void onAccept(const error_code& ec, tcp::socket socket);
  void waitSignal();
  void readControl();
  void closeIdle();
  void exitNow(const Exit& exit);

  asio::io_context io_;  // first: destroyed last
  FakeServiceOptions options_;
  Behaviour behaviour_;
  std::string body_;
  asio::signal_set signals_;
  asio::steady_timer model_timer_;
  std::optional<Instant> armed_;
  asio::steady_timer accept_retry_;
  tcp::acceptor acceptor_;
  asio::posix::stream_descriptor control_;
  asio::streambuf control_buf_{kMaxControlLine};
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool exiting_ = false;
  std::uint64_t signals_seen_ = 0;
  int exit_code_ = kExitClean;
};

// One client connection, kept alive by shared_from_this while an operation is
// pending. busy_ from a request's first byte until its response is written.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Server& server, std::uint64_t id)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server), id_(id) {}

  void start() { doRead(); }
  bool idle() const { return !busy_ && !(parser_ && parser_->got_some()) && buffer_.size() == 0; }
  bool inFlight() const { return planned_; }
  void close(bool reset);

 private:
  void doRead();
  void onRead(const error_code& ec);
  void handleRequest();
  void onServiceTime(const error_code& ec);
  void respond(unsigned status, bool close);
  void onWrite(const error_code& ec, bool close);

  beast::tcp_stream stream_;
  asio::steady_timer timer_;  // service time
  beast::flat_buffer buffer_{kHeaderLimit + kBodyLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  RequestPlan plan_;
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
  if (target == "/health" || target.starts_with("/health?")) {
    respond(server_.ready() ? 200u : 503u, server_.closeConnections());
    return;
  }
  if (target == kStatePath) {
    respond(200u, server_.closeConnections());
    return;
  }
  plan_ = server_.planRequest();
  planned_ = true;
  if (!plan_.service_time) return;  // hang fault: never answer
  timer_.expires_after(*plan_.service_time);
  timer_.async_wait([self = shared_from_this()](const error_code& e) { self->onServiceTime(e); });
}

void Connection::onServiceTime(const error_code& ec) {
  if (ec || closed_) return;  // cancelled: the connection is being closed
  // Decide "Connection: close" when the response is written, not when planned:
  // a request that arrived before the drain still closes its connection.
  respond(plan_.status, server_.closeConnections());
}

void Connection::respond(unsigned status, bool close) {
  const bool introspection = !planned_;  // /health or the state path
  response_ = {};
  response_.version(request_.version());
  response_.result(status);
  response_.set(http::field::server, "cutover-fake-service");
  response_.set(http::field::content_type, "text/plain");
  response_.set(kHeaderVersion, server_.options().spec.version);
  response_.set(kHeaderInstance, server_.options().instance);
  if (const auto it = request_.find(kHeaderRequestId); it != request_.end()) {
    response_.set(kHeaderRequestId, it->value());
  }
  if (introspection && request_.target() == kStatePath) response_.body() = server_.stateJson();
  else if (introspection) response_.body() = status == 200 ? "ok" : "not ready";
  else response_.body() = server_.body();
  const bool closing = close || !request_.keep_alive();
  response_.keep_alive(!closing);
  response_.prepare_payload();
  stream_.expires_after(kWriteTimeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), closing](const error_code& ec, std::size_t) {
                      self->onWrite(ec, closing);
                    });
}

void Connection::onWrite(const error_code& ec, bool close_after) {
  if (closed_) return;
  const bool was_planned = planned_;
  planned_ = false;
  if (ec || close_after) close(false);
  else doRead();
  // Last: this may make the model exit, which closes every connection.
  if (was_planned) server_.requestFinished();
}

Server::Server(const FakeServiceOptions& options)
    : options_(options),
      behaviour_(options.spec, Rng(options.seed), monoNow()),
      signals_(io_, SIGTERM, SIGINT),
      model_timer_(io_),
      accept_retry_(io_),
      acceptor_(io_),
      control_(io_) {
  body_.reserve(options.spec.response_bytes);
  for (std::size_t i = 0; i < options.spec.response_bytes; ++i) body_.push_back(i % 2 == 0 ? 'o' : 'k');
}

int Server::run() {
  logLine("start instance=" + options_.instance + " version=" + options_.spec.version +
          " pid=" + std::to_string(::getpid()));
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

void Server::requestFinished() {
  behaviour_.handle(RequestFinished{}, monoNow());
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
  } else if (std::holds_alternative<FailReadiness>(action)) {
    logLine("readiness failing");
  } else if (std::holds_alternative<CloseListener>(action)) {
    error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    logLine("listener closed");
  } else if (std::holds_alternative<CloseIdleConnections>(action)) {
    closeIdle();
  } else if (const auto* exit = std::get_if<Exit>(&action)) {
    exitNow(*exit);
  }
}

void Server::openListener() {
  error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec || !address.is_loopback()) {
    logLine("refusing to listen on non-loopback host '" + options_.host + "'");
    return exitNow(Exit{kExitSetupFailed, false, "bad host"});
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    logLine("listen on " + options_.host + ":" + std::to_string(options_.port) + " failed: " + ec.message());
    return exitNow(Exit{kExitSetupFailed, false, "listen failed"});
  }
  const auto port = acceptor_.local_endpoint(ec).port();
  logLine("listening port=" + std::to_string(port));
  reportPort(port);
  doAccept();
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
  acceptor_.async_accept(io_, [this](const error_code& ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void Server::onAccept(const error_code& ec, tcp::socket socket) {
  if (exiting_ || !acceptor_.is_open()) return;
  if (ec) {  // e.g. EMFILE: retry a little later rather than spin
    logLine("accept: " + ec.message());
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([this](const error_code& e) {
      if (!e && !exiting_ && acceptor_.is_open()) doAccept();
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
    logLine(signo == SIGINT ? "sigint" : "sigterm");
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
  for (const auto& [id, weak] : connections_) {
    if (auto c = weak.lock(); c && c->idle()) idle.push_back(std::move(c));
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
  for (const auto& [id, weak] : connections_) {
    if (auto c = weak.lock()) all.push_back(std::move(c));
  }
  std::size_t reset = 0;
  for (const auto& c : all) {
    const bool rst = exit.reset_in_flight && c->inFlight();
    reset += rst ? 1 : 0;
    c->close(rst);
  }
  error_code ec;
  acceptor_.close(ec);
  logLine("exit code=" + std::to_string(exit.code) + " reason=" + exit.reason +
          " reset=" + std::to_string(reset));
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
