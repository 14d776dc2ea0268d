#pragma once
// Writes the lifecycle log (lifecycle_log.hpp) of a live fake service: one
// write(2) per line on an O_APPEND file, unbuffered, so a SIGKILL loses no
// line already written. Disabled (every call a no-op) without a path.
#include <string>

#include "fake-services/lifecycle_log.hpp"

namespace cutover::service {

class LifecycleWriter {
 public:
  LifecycleWriter() = default;
  ~LifecycleWriter();
  LifecycleWriter(const LifecycleWriter&) = delete;
  LifecycleWriter& operator=(const LifecycleWriter&) = delete;

  // Opens (truncates) `path` and writes the header; false on failure.
  bool open(const std::string& path, std::string_view instance, std::string_view version);
  bool enabled() const { return fd_ >= 0; }
  void request(const RequestLifecycle& r);
  void event(Instant at, std::string name, std::string detail = {});

 private:
  void write(const std::string& line);
  int fd_ = -1;
};

}  // namespace cutover::service
