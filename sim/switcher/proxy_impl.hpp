#pragma once
// Internal to the proxy's translation units (proxy.cpp, proxy_session.cpp,
// proxy_health.cpp): Proxy::Impl and its per-connection objects. This header
// includes Boost.Asio/Beast; include it nowhere else (each Beast TU costs
// ~17 s of CPU to build).
//
// Theory of operation: see proxy.cpp (the hub: accept, timer, upstream pool,
// control), proxy_session.cpp (one client connection) and proxy_health.cpp
// (one active health check).
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/core/clock.hpp"
#include "sim/switcher/io_thread.hpp"
#include "sim/switcher/proxy.hpp"

namespace cutover::switcher {
namespace proxy_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;
// The proxy's sockets use the io_context's own executor type, not the
// type-erased any_io_executor: every async operation copies, moves and
// destroys its executor, and through type erasure that was a tenth of the
// proxy's user time under load (perf, tests/bench/proxy_wrk.sh).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;

inline constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;
inline constexpr std::uint64_t kMaxBodyBytes = 8 * 1024 * 1024;
inline constexpr std::size_t kMaxIdlePerBackend = 64;
// An idle upstream connection is checked for a close by its backend (a
// non-blocking MSG_PEEK) before reuse only when it has been idle this long.
// Under load connections come back within microseconds, and a syscall per
// request was a fifth of the proxy's syscalls; a close in that window is the
// keep-alive race the stale-connection retry already handles.
inline constexpr auto kIdleCheckAfter = std::chrono::milliseconds(1);
inline constexpr auto kClientWriteTimeout = std::chrono::seconds(10);
inline constexpr auto kControlTimeout = std::chrono::seconds(5);
inline constexpr auto kStopGrace = std::chrono::seconds(2);
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
inline constexpr std::uint64_t kMaxProbeBodyBytes = 64 * 1024;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline std::chrono::steady_clock::time_point toSteady(Instant t) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
}

struct UpstreamConn {
  UpstreamConn(asio::io_context& ioc, std::uint16_t p) : stream(ioc), port(p) {}
  Stream stream;
  beast::flat_buffer buffer;
  std::uint16_t port;
  Instant idle_since{};  // when it was last returned to the idle pool
};
using UpstreamPtr = std::shared_ptr<UpstreamConn>;

struct AtomicStats {
  std::atomic<std::uint64_t> client_connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> switch_errors{0};
  std::atomic<std::uint64_t> upstream_connects{0};
  std::atomic<std::uint64_t> upstream_reuses{0};
  std::atomic<std::uint64_t> upstream_retries{0};
  std::atomic<std::uint64_t> upstream_closed_idle{0};
};

// An idle kept-alive connection is usable when the peer has neither closed it
// nor sent anything unexpected: a non-blocking peek finds nothing to read.
bool idleLooksAlive(Socket& s);

}  // namespace proxy_detail

class Proxy::Impl {
 public:
  class Session;
  class HealthProbe;

  explicit Impl(ProxyOptions options);
  ~Impl() { stop(); }

  bool start(std::string* error);
  void stop();
  std::uint16_t port() const { return port_; }

  // Runs f on the I/O thread (or here, when there is none) and returns its
  // result; nullopt when the I/O thread did not answer in time.
  template <class F>
  auto call(F f) -> std::optional<decltype(f())> {
    using R = decltype(f());
    if (!io_.running()) return f();
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    auto result = task->get_future();
    proxy_detail::asio::post(ioc_, [task] { (*task)(); });
    if (result.wait_for(proxy_detail::kControlTimeout) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  bool removeBackend(const std::string& instance);
  SwitchResult switchTo(const std::string& pool);
  ProxyStats stats() const;
  // Moves the Core's events to the observer and to events_ (for takeEvents).
  void flushEvents();
  std::vector<Event> takeEvents();
  // Carries out the Core's actions, passes its events on, re-arms the timer.
  void pump();

  // Declared before ioc_: pending handlers destroyed with ioc_ still find them.
  ProxyOptions options_;
  Core core_;
  proxy_detail::AtomicStats stats_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::unordered_map<HealthProbe*, std::weak_ptr<HealthProbe>> probes_;
  std::optional<Instant> armed_;  // the deadline drain_timer_ waits for
  bool stopping_ = false;  // I/O thread only
  ProxyObserver* observer_ = nullptr;  // set before start()
  std::deque<Event> events_;  // taken from the Core, until takeEvents (bounded by core.max_events)
  std::uint64_t next_connection_ = 1;  // client connection ids, for l4 pinning

  proxy_detail::asio::io_context ioc_{1};
  proxy_detail::tcp::acceptor acceptor_;
  proxy_detail::asio::steady_timer drain_timer_;
  proxy_detail::asio::steady_timer accept_retry_timer_;
  proxy_detail::asio::executor_work_guard<proxy_detail::asio::io_context::executor_type> work_;
  std::unordered_map<std::uint16_t, std::vector<proxy_detail::UpstreamPtr>> idle_;
  std::uint16_t port_ = 0;
  io_detail::IoThread io_;

  void doAccept();
  void onAccept(proxy_detail::error_code ec, proxy_detail::Socket socket);
  void armDrainTimer();
  proxy_detail::UpstreamPtr takeIdle(std::uint16_t port, Instant now);
  void returnIdle(proxy_detail::UpstreamPtr conn, Instant now);
  void closeIdle(std::uint16_t port);
  void shutdownAll();
  void startProbe(const StartHealthCheck& check);
  void closeProbes();
};

// One client connection (shared_from_this; callback style, doX/onX pairs).
class Proxy::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& hub, proxy_detail::Socket socket);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  void close();

 private:
  using error_code = proxy_detail::error_code;
  using status = proxy_detail::http::status;

  void doRead();
  void onRead(error_code ec, std::size_t);
  void useBackend();
  void connectFresh();
  void onConnect(error_code ec);
  void sendUpstream();
  void onUpstreamWrite(error_code ec, std::size_t);
  void onUpstreamRead(error_code ec, std::size_t);
  void upstreamFailed(error_code ec);
  bool retryElsewhere(Upstream failed);
  void finishExchange(Upstream outcome);
  void respondError(status code, std::string_view reason, Upstream outcome, const char* exchange_outcome);
  void writeClient();
  void onClientWrite(error_code ec, std::size_t);
  void reportExchange();
  void closeUpstream();
  bool l4() const { return hub_.core_.options().mode == Mode::l4; }
  void watchUpstream();
  void onUpstreamIdleEvent(error_code ec, std::uint64_t generation);

  Impl& hub_;
  const std::uint64_t id_;  // the Core's connection id (l4 pinning)
  proxy_detail::Stream client_;
  proxy_detail::beast::flat_buffer client_buf_;
  std::optional<proxy_detail::http::request_parser<proxy_detail::http::string_body>> req_parser_;
  proxy_detail::Request upreq_;
  bool client_keep_alive_ = true;
  Route route_;
  bool routed_ = false;  // route_ holds an in-flight count in the Core
  Instant read_at_{};    // the request was read
  Instant routed_at_{};  // the current attempt was routed
  // l7: the attempt's connection, from and back to the hub's idle pool.
  // l4: this client connection's own path to its pinned backend, kept
  // between requests and never shared; when the backend closes it while no
  // request is on it, the client's connection is closed too (watchUpstream),
  // as a TCP-level balancer passes a FIN on.
  proxy_detail::UpstreamPtr upstream_;
  std::uint64_t watch_generation_ = 0;  // a watch of an older idle period is stale
  bool reused_ = false;
  bool stale_retried_ = false;        // the retry on a fresh connection after a stale idle one
  std::uint32_t other_retries_ = 0;   // retries on another backend (Core::mayRetry)
  Instant deadline_{};
  std::optional<proxy_detail::http::response_parser<proxy_detail::http::string_body>> res_parser_;
  proxy_detail::Response res_;
  std::string head_;  // the start line and fields of the message being written (writeMessage)
  ExchangeInfo exchange_;  // of the request being served, for the observer
  std::string error_pool_;  // no_backend: the pool without a routable backend (x-cutover-switcher-pool)
};

// One active health check: a GET of the check path on its own connection,
// bounded by the check timeout; the result goes to Core::onHealthCheckResult.
class Proxy::Impl::HealthProbe : public std::enable_shared_from_this<HealthProbe> {
 public:
  HealthProbe(Impl& hub, StartHealthCheck check);
  ~HealthProbe();
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  void start();
  void close();

 private:
  using error_code = proxy_detail::error_code;
  static std::string why(std::string_view step, const error_code& ec);
  void onConnect(error_code ec);
  void onWrite(error_code ec, std::size_t);
  void onRead(error_code ec, std::size_t);
  void finish(bool passed, const std::string& detail);

  Impl& hub_;
  StartHealthCheck check_;
  proxy_detail::beast::tcp_stream stream_;
  proxy_detail::beast::flat_buffer buffer_;
  proxy_detail::Request req_;
  proxy_detail::http::response_parser<proxy_detail::http::string_body> parser_;
};

}  // namespace cutover::switcher
