#pragma once
// Internal to the switcher's Asio shells (proxy*.cpp, admin.cpp): what a
// loopback server with one I/O thread does the same way each time - bind
// and listen on a loopback address, run the io_context on its own thread,
// and stop in order. Includes Asio: never include it from a public header.
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <thread>

namespace cutover::switcher::io_detail {

// Opens, binds and listens `acceptor` on host:port, host a loopback address.
// "" on success, else why ("listen host must be a loopback address: ...").
inline std::string listenLoopback(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host,
                                  std::uint16_t port) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return "bad listen host " + host + " (a loopback address is required): " + ec.message();
  if (!address.is_loopback()) return "listen host must be a loopback address: " + host;
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  }
  return "";
}

// Runs an io_context on one thread.
class IoThread {
 public:
  bool running() const { return running_.load(); }

  void start(boost::asio::io_context& ioc) {
    std::promise<void> done;
    done_ = done.get_future();
    running_ = true;
    thread_ = std::thread([&ioc, d = std::move(done)]() mutable {
      ioc.run();
      d.set_value();
    });
  }

  // `shutdown` closes everything (acceptor, connections, work guard). It is
  // posted to the I/O thread; if run() has not returned within `grace`, the
  // io_context is stopped hard. After the join, `shutdown` runs once more
  // here and what is left (aborted completions) is polled, so nothing is
  // pending when this returns. Without a running thread it only runs
  // `shutdown` (when `already_down` is false).
  void stop(boost::asio::io_context& ioc, const std::function<void()>& shutdown, bool already_down,
            std::chrono::nanoseconds grace) {
    if (!running_.load()) {
      if (!already_down) shutdown();
      return;
    }
    boost::asio::post(ioc, shutdown);
    if (done_.wait_for(grace) != std::future_status::ready) ioc.stop();  // close hard
    thread_.join();
    running_ = false;
    shutdown();
    ioc.restart();
    ioc.poll();
  }

 private:
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::future<void> done_;
};

}  // namespace cutover::switcher::io_detail
