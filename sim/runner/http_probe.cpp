#include "sim/runner/http_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace cutover::runner {

HttpProbe::HttpProbe(unsigned short port, const std::string& path, Instant deadline)
    : deadline_(deadline),
      request_("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    finish();
    return;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) state_ = State::writing;
  else if (errno != EINPROGRESS) finish();  // refused at once (loopback usually says so here)
}

HttpProbe::~HttpProbe() {
  if (fd_ >= 0) ::close(fd_);
}

void HttpProbe::finish() {
  state_ = State::done;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

pollfd HttpProbe::waitFor() const {
  switch (state_) {
    case State::connecting:
    case State::writing: return {fd_, POLLOUT, 0};
    case State::reading: return {fd_, POLLIN, 0};
    case State::done: break;
  }
  return {-1, 0, 0};
}

bool HttpProbe::step(Instant now) {
  // Past its deadline it is over, whatever came meanwhile: an answer after
  // 200 ms is a failed probe (as the simulator's), even when the loop's wait
  // woke for it before the next pass.
  if (state_ != State::done && now >= deadline_) finish();
  if (state_ == State::connecting) {
    pollfd p = waitFor();
    if (::poll(&p, 1, 0) > 0) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) finish();
      else state_ = State::writing;
    }
  }
  if (state_ == State::writing) {
    const auto n = ::send(fd_, request_.data() + written_, request_.size() - written_, MSG_NOSIGNAL);
    if (n > 0) written_ += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) finish();
    if (written_ == request_.size()) state_ = State::reading;
  }
  while (state_ == State::reading) {
    char buf[512];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (n > 0) head_.append(buf, static_cast<std::size_t>(n));
    // "HTTP/1.1 200 OK\r\n": the status line is all a probe needs.
    const bool line = head_.find("\r\n") != std::string::npos;
    if (n <= 0 || line || head_.size() >= 4096) {
      if (line && head_.rfind("HTTP/1.", 0) == 0 && head_.size() >= 12) status_ = std::atoi(head_.c_str() + 9);
      finish();
    }
  }
  return done();
}

}  // namespace cutover::runner
