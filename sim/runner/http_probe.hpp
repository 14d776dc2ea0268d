#pragma once
// An HTTP/1.1 GET on 127.0.0.1 that never blocks, for the runner's readiness
// probes (POSIX sockets; control traffic, never counted as load).
//
// The runner's loop drives it: step() takes it as far as it can go now
// (connect, write the request, read the status line) and returns at once;
// waitFor() is what to poll for before the next step. A probe that waited
// (up to 200 ms) held up the whole loop and made timed steps late.
#include <poll.h>

#include <optional>
#include <string>

#include "sim/core/time.hpp"

namespace cutover::runner {

class HttpProbe {
 public:
  // Starts the GET (a non-blocking connect); it fails at `deadline`.
  HttpProbe(unsigned short port, const std::string& path, Instant deadline);
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Advances without blocking; true once the probe is over (answered,
  // refused, reset or past its deadline).
  bool step(Instant now);
  bool done() const { return state_ == State::done; }
  // The response's status; nullopt while not done, or when no complete
  // status line came (refused, reset, timeout).
  std::optional<int> status() const { return status_; }
  // What to poll for until the next step (fd -1 when done).
  pollfd waitFor() const;

 private:
  enum class State { connecting, writing, reading, done };
  void finish();

  int fd_ = -1;
  State state_ = State::connecting;
  Instant deadline_;
  std::string request_;
  std::size_t written_ = 0;
  std::string head_;
  std::optional<int> status_;
};

}  // namespace cutover::runner
