#include "fake-services/lifecycle_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace cutover::service {

LifecycleWriter::~LifecycleWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool LifecycleWriter::open(const std::string& path, std::string_view instance, std::string_view version) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return false;
  write(formatHeader(instance, version, static_cast<long>(::getpid())));
  return true;
}

void LifecycleWriter::request(const RequestLifecycle& r) {
  if (fd_ >= 0) write(formatRequest(r));
}

void LifecycleWriter::event(Instant at, std::string name, std::string detail) {
  if (fd_ >= 0) write(formatEvent(LifecycleEvent{at, std::move(name), std::move(detail)}));
}

void LifecycleWriter::write(const std::string& line) {
  std::size_t done = 0;
  for (int tries = 0; done < line.size() && tries < 100; ++tries) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the service
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace cutover::service
