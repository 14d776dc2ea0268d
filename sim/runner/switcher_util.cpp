#include "sim/runner/switcher_util.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sim/core/clock.hpp"

namespace cutover::runner {
namespace {

int msLeft(Instant deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - monoNow()).count();
  return static_cast<int>(std::max<long long>(0, left));
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

std::optional<std::uint16_t> pickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  auto a = loopback(0);
  socklen_t len = sizeof a;
  std::optional<std::uint16_t> out;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    out = ntohs(a.sin_port);
  ::close(fd);
  return out;
}

bool tcpAccepts(std::uint16_t port, Duration timeout) {
  const auto deadline = monoNow() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  auto a = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, msLeft(deadline)) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  ::close(fd);
  return ok;
}

Result<bool> writeFileAtomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.flush();
    if (!f) return Error{"cannot write " + tmp};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Error{"cannot rename " + tmp + ": " + std::strerror(errno)};
  return true;
}

std::vector<pid_t> childPidsOf(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  constexpr int kMaxEntries = 1'000'000;
  int seen = 0;
  while (const dirent* e = ::readdir(d)) {
    if (++seen > kMaxEntries) break;
    const char* n = e->d_name;
    if (*n < '0' || *n > '9') continue;
    std::ifstream f(std::string("/proc/") + n + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so start after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0;
    const auto open = line.find('(');
    if (!comm.empty() && (open == std::string::npos || line.substr(open + 1, close - open - 1) != comm)) continue;
    if (rest >> state >> ppid && ppid == parent && state != 'Z') out.push_back(static_cast<pid_t>(std::atol(n)));
  }
  ::closedir(d);
  return out;
}

std::optional<std::string> unixCommand(const std::string& socket_path, const std::string& command, Duration timeout) {
  const auto deadline = monoNow() + timeout;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof a.sun_path) return std::nullopt;
  std::memcpy(a.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::string line = command + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    const auto n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  constexpr std::size_t kMaxAnswer = 1 << 20;
  while (out.size() < kMaxAnswer) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, msLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // timeout: return what came
    char buf[4096];
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace cutover::runner
