#pragma once
// Internal to the load client: one pooled HTTP/1.1 connection and the pieces
// it uses (response parser, name table). Pulls in Asio and Beast, so only
// client.cpp, the module's one heavy TU, includes it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/request_record.hpp"
#include "sim/core/assert.hpp"
#include "sim/core/clock.hpp"
#include "sim/core/time.hpp"

namespace cutover::loadgen::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

inline constexpr std::size_t kReadChunk = 16 * 1024;
inline constexpr std::uint32_t kHeaderLimit = 16 * 1024;
inline constexpr std::uint64_t kBodyLimit = std::uint64_t{64} << 20;
inline constexpr std::size_t kMaxNameLength = 256;
inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

inline std::chrono::steady_clock::time_point toSteady(Instant t) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
}

inline std::int64_t nowNs() { return toNanos(monoNow()); }

// Interns header values into LoadResult::names without allocating on a hit.
class NameTable {
 public:
  std::uint16_t intern(std::string_view name) {
    if (name.size() > kMaxNameLength) name = name.substr(0, kMaxNameLength);
    if (const auto it = index_.find(name); it != index_.end()) return it->second;
    if (names_.size() >= kNoName) return kNoName;
    const auto id = static_cast<std::uint16_t>(names_.size());
    names_.emplace_back(name);
    index_.emplace(names_.back(), id);
    return id;
  }
  std::vector<std::string> take() { return std::move(names_); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::uint16_t, Hash, std::equal_to<>> index_;
};

// Reads what the client records from a response and discards the body.
class ResponseParser final : public http::basic_parser<false> {
 public:
  explicit ResponseParser(NameTable& names) : names_(names) {
    header_limit(kHeaderLimit);
    body_limit(kBodyLimit);
    eager(true);
  }
  std::uint16_t status = 0;
  std::uint16_t version = kNoName;
  std::uint16_t instance = kNoName;
  std::uint16_t pool = kNoName;
  bool switcher_error = false;
  SwitcherReason switcher_reason = SwitcherReason::none;

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int, error_code& ec) override {
    ec = http::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view, int, error_code&) override {
    status = static_cast<std::uint16_t>(code);
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, error_code&) override {
    if (beast::iequals(name, kHeaderVersion)) version = names_.intern(std::string_view(value.data(), value.size()));
    else if (beast::iequals(name, kHeaderInstance) || beast::iequals(name, kHeaderSwitcherBackend)) instance = names_.intern(std::string_view(value.data(), value.size()));
    else if (beast::iequals(name, kHeaderSwitcherPool)) pool = names_.intern(std::string_view(value.data(), value.size()));
    else if (beast::iequals(name, kHeaderSwitcherError)) {
      switcher_error = true;
      switcher_reason = switcherReasonFromName(std::string_view(value.data(), value.size()));
      if (switcher_reason == SwitcherReason::none) switcher_reason = SwitcherReason::other;
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  NameTable& names_;
};

inline Outcome outcomeOf(const ResponseParser& p) {
  if (p.status < 500) return Outcome::ok;
  return p.switcher_error ? Outcome::switch_error : Outcome::app_error;
}

class Connection;

// What a connection needs from the client that owns it.
class ConnectionOwner {
 public:
  virtual RequestRecord& record(std::size_t index) = 0;
  virtual NameTable& names() = 0;
  virtual const tcp::endpoint& endpoint() const = 0;
  virtual Duration timeout() const = 0;
  // Writes the request for record `index` into `out` (reusing its capacity),
  // with "Connection: close" when `close`.
  virtual void formatRequest(std::size_t index, std::string& out, bool close) const = 0;
  // The request has its outcome; the connection is idle again or closed.
  virtual void onRequestDone(Connection& c, std::size_t index, Outcome outcome, bool reusable) = 0;
  // The server closed an idle connection.
  virtual void onIdleClosed(Connection& c) = 0;

 protected:
  ~ConnectionOwner() = default;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { connecting, busy, idle, closed };

  // A one-shot connection carries one request ("Connection: close") and is
  // never reused.
  Connection(asio::io_context& ioc, ConnectionOwner& owner, std::uint32_t id, bool oneshot)
      : owner_(owner), socket_(ioc), timer_(ioc), id_(id), oneshot_(oneshot) {}

  std::size_t slot = kNone;  // position in the owner's list of open connections
  bool oneshot() const { return oneshot_; }

  void connectFor(std::size_t index) {
    begin(index);
    state_ = State::connecting;
    socket_.async_connect(owner_.endpoint(), [self = shared_from_this()](error_code ec) { self->onConnect(ec); });
  }

  void send(std::size_t index) {
    CUTOVER_ASSERT(state_ == State::idle);
    begin(index);
    write();
  }

  // Closes without recording anything (shutdown and stop).
  void close() {
    state_ = State::closed;
    request_ = kNone;
    error_code ec;
    socket_.close(ec);
    timer_.cancel();
  }

 private:
  void begin(std::size_t index) {
    request_ = index;
    ++generation_;
    got_first_byte_ = false;
    parser_.emplace(owner_.names());
    auto& rec = owner_.record(index);
    rec.connection_id = id_;
    rec.connection_reuse = reuse_;
    deadline_ = fromNanos(rec.intended_ns) + owner_.timeout();
    armTimer();
  }

  // One timer wait per connection, re-armed lazily: deadlines on a connection
  // never decrease (FIFO), so a wait set for an earlier request fires early,
  // sees the current deadline is later and waits again. This keeps timer
  // syscalls off the per-request path.
  void armTimer() {
    if (timer_armed_ && timer_at_ <= deadline_) return;
    timer_armed_ = true;
    timer_at_ = deadline_;
    timer_.expires_at(toSteady(deadline_));
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->onTimer(ec); });
  }

  void onTimer(error_code ec) {
    if (ec == asio::error::operation_aborted) return;  // re-armed or closed
    timer_armed_ = false;
    if (state_ == State::closed || request_ == kNone) return;
    if (monoNow() >= deadline_) return fail(Outcome::timeout);
    armTimer();
  }

  void onConnect(error_code ec) {
    if (state_ == State::closed) return;
    if (ec) return fail(ec == asio::error::connection_refused ? Outcome::refused : Outcome::reset);
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    state_ = State::idle;
    doRead();
    write();
  }

  void write() {
    state_ = State::busy;
    owner_.formatRequest(request_, request_text_, oneshot_);
    owner_.record(request_).sent_ns = nowNs();
    reuse_ = static_cast<std::uint16_t>(std::min<int>(reuse_ + 1, 0xFFFF));
    // Most requests fit the socket buffer at once: try a non-blocking write
    // first and only fall back to an async write for the rest. An error is
    // left for the async write to report: failing here, inside the owner's
    // call, would pull the connection out from under it.
    error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(request_text_), ec);
    if (ec) n = 0;
    if (n == request_text_.size()) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(request_text_.data() + n, request_text_.size() - n),
                      [self = shared_from_this(), gen = generation_](error_code wec, std::size_t) {
                        self->writing_ = false;
                        if (wec && gen == self->generation_ && self->state_ == State::busy) self->fail(Outcome::reset);
                      });
  }

  void doRead() {
    socket_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](error_code ec, std::size_t n) { self->onRead(ec, n); });
  }

  void onRead(error_code ec, std::size_t n) {
    if (state_ == State::closed) return;
    if (state_ != State::busy) {  // bytes or EOF while idle: the server is done with us
      close();
      return owner_.onIdleClosed(*this);
    }
    if (n > 0 && !got_first_byte_) {
      got_first_byte_ = true;
      owner_.record(request_).first_byte_ns = nowNs();
    }
    buffer_.commit(n);
    if (!parse()) return fail(Outcome::reset);
    if (!parser_->is_done() && ec == asio::error::eof && parser_->is_header_done()) {
      error_code eof_ec;
      parser_->put_eof(eof_ec);  // a body delimited by the end of the stream
      if (eof_ec || !parser_->is_done()) return fail(Outcome::reset);
    } else if (!parser_->is_done()) {
      if (ec) return fail(Outcome::reset);
      return doRead();
    }
    complete(ec.failed());
  }

  // Feeds buffered bytes to the parser; false on a malformed response.
  bool parse() {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) return true;
      if (ec) return false;
    }
    return true;
  }

  void complete(bool stream_ended) {
    const std::size_t index = request_;
    const Outcome outcome = outcomeOf(*parser_);
    auto& rec = owner_.record(index);
    rec.status = parser_->status;
    rec.version = parser_->version;
    rec.instance = parser_->instance;
    if (outcome == Outcome::switch_error) rec.switcher_reason = parser_->switcher_reason, rec.pool = parser_->pool;
    const bool reusable = !oneshot_ && !stream_ended && parser_->keep_alive() &&
                          buffer_.size() == 0 && !writing_;
    request_ = kNone;
    if (reusable) {
      state_ = State::idle;
      doRead();
    } else {
      close();
    }
    owner_.onRequestDone(*this, index, outcome, reusable);
  }

  void fail(Outcome outcome) {
    const std::size_t index = request_;
    close();
    owner_.onRequestDone(*this, index, outcome, false);
  }

  ConnectionOwner& owner_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<ResponseParser> parser_;
  std::string request_text_;
  std::uint32_t id_;
  bool oneshot_;
  std::uint16_t reuse_ = 0;  // requests sent on this connection so far
  State state_ = State::idle;
  std::size_t request_ = kNone;
  std::uint64_t generation_ = 0;
  bool got_first_byte_ = false;
  bool writing_ = false;
  Instant deadline_{};   // of the request in flight
  Instant timer_at_{};   // what the pending timer wait is set for
  bool timer_armed_ = false;
};

}  // namespace cutover::loadgen::detail
