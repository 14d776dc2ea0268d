// The switcher's live shell, continued: one active health check. The Core
// says when a check is due (StartHealthCheck); this GETs the check path on
// its own connection, bounded by the check timeout (connect, write and read
// together), and gives the result back to Core::onHealthCheckResult: passed
// when a 2xx answer came in time, else why not ("timeout", "connect: ...",
// "status 503").
#include "sim/switcher/proxy_impl.hpp"

namespace cutover::switcher {

using namespace proxy_detail;

Proxy::Impl::HealthProbe::HealthProbe(Impl& hub, StartHealthCheck check)
    : hub_(hub), check_(std::move(check)), stream_(hub.ioc_) {}

Proxy::Impl::HealthProbe::~HealthProbe() { hub_.probes_.erase(this); }

void Proxy::Impl::HealthProbe::start() {
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

void Proxy::Impl::HealthProbe::close() {
  error_code ec;
  stream_.socket().close(ec);
}

std::string Proxy::Impl::HealthProbe::why(std::string_view step, const error_code& ec) {
  if (ec == beast::error::timeout) return "timeout";
  return std::string(step) + ": " + ec.message();
}

void Proxy::Impl::HealthProbe::onConnect(error_code ec) {
  if (ec) return finish(false, why("connect", ec));
  http::async_write(stream_, req_, beast::bind_front_handler(&HealthProbe::onWrite, shared_from_this()));
}

void Proxy::Impl::HealthProbe::onWrite(error_code ec, std::size_t) {
  if (ec) return finish(false, why("write", ec));
  http::async_read(stream_, buffer_, parser_, beast::bind_front_handler(&HealthProbe::onRead, shared_from_this()));
}

void Proxy::Impl::HealthProbe::onRead(error_code ec, std::size_t) {
  if (ec) return finish(false, why("read", ec));
  const unsigned status = parser_.get().result_int();
  finish(status >= 200 && status < 300, "status " + std::to_string(status));
}

void Proxy::Impl::HealthProbe::finish(bool passed, const std::string& detail) {
  close();
  if (hub_.stopping_) return;
  hub_.core_.onHealthCheckResult(check_.backend, check_.check, passed, monoNow(), detail);
  hub_.pump();
}

// ---- Impl: the probes it owns ---------------------------------------------------------

void Proxy::Impl::startProbe(const StartHealthCheck& check) {
  std::make_shared<HealthProbe>(*this, check)->start();
}

void Proxy::Impl::closeProbes() {
  std::vector<std::shared_ptr<HealthProbe>> live;
  for (auto& [raw, weak] : probes_)
    if (auto p = weak.lock()) live.push_back(std::move(p));
  for (auto& p : live) p->close();
}

}  // namespace cutover::switcher
