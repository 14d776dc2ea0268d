#include "sim/runner/http_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "sim/core/clock.hpp"

namespace cutover::runner {
namespace {

int msLeft(Instant deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - monoNow()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

bool waitFd(int fd, short events, Instant deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, msLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

}  // namespace

std::optional<int> httpGetStatus(unsigned short port, const std::string& path, Duration timeout) {
  const auto deadline = monoNow() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::nullopt;
  std::optional<int> status;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  bool connected = rc == 0;
  if (!connected && errno == EINPROGRESS && waitFd(fd, POLLOUT, deadline)) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    connected = err == 0;
  }
  if (connected) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string head;
      char buf[512];
      while (head.find("\r\n") == std::string::npos && head.size() < 4096 && waitFd(fd, POLLIN, deadline)) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      // "HTTP/1.1 200 OK"
      if (head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12) status = std::atoi(head.c_str() + 9);
    }
  }
  ::close(fd);
  return status;
}

}  // namespace cutover::runner
