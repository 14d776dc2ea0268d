#pragma once
// Closed-loop load as a pure model: N workers, each sends a request, waits for
// its outcome, thinks, and sends again (wrk's model, with think time).
//
// Theory of operation. Every worker is either ready (holding the instant it
// may send) or busy (one request in flight). At `start` every worker is ready.
//   - pollSend(now) hands out a worker whose ready instant is <= now, earliest
//     first, and marks it busy. Its send happens at `now`: latency in a closed
//     loop counts from the send (there is no schedule to fall behind).
//   - onDone(worker, now) ends the worker's request; it is ready again at
//     now + think, think being fixed or drawn from Exp(mean) with the Rng.
//   - nextDeadline() is the one timer a shell arms: the earliest ready instant.
// Bounds: no send at or after start + length, and at most max_requests sends;
// a worker whose next ready instant falls past the end retires.
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/core/time.hpp"

namespace cutover::loadgen {

struct ClosedLoopSpec {
  std::size_t workers = 1;
  Duration think{0};               // fixed think time, or its mean when exponential
  bool exponential_think = false;  // draw each think time from Exp(1/think)
  Duration length{0};              // sends only in [start, start + length)
  std::uint64_t max_requests = 10'000'000;
};

class ClosedLoop {
 public:
  static constexpr std::size_t kMaxWorkers = 1'000'000;

  ClosedLoop(const ClosedLoopSpec& spec, Instant start, Rng rng);

  struct Send {
    std::uint32_t worker = 0;
    Instant ready{};  // when the worker became ready (<= the poll's now)
  };
  // A worker ready at `now`, now busy; nullopt when none is ready or the
  // bounds are reached.
  std::optional<Send> pollSend(Instant now);
  // The busy `worker`'s request has its outcome at `now`; it starts thinking.
  void onDone(std::uint32_t worker, Instant now);

  // The earliest instant a ready worker may send; nullopt when no worker is
  // ready (all busy) or no send will happen any more.
  std::optional<Instant> nextDeadline() const;
  // No send will ever happen again (the count bound is reached, or nothing is
  // in flight and no ready worker can send before the end).
  bool sendingOver() const;

  std::uint64_t sent() const { return sent_; }
  std::size_t inFlight() const { return in_flight_; }
  std::size_t workers() const { return busy_.size(); }
  Instant end() const { return end_; }

 private:
  struct Ready {
    Instant at;
    std::uint32_t worker;
    bool operator>(const Ready& o) const { return at != o.at ? at > o.at : worker > o.worker; }
  };
  Duration drawThink();

  ClosedLoopSpec spec_;
  Instant end_;
  Rng rng_;
  std::vector<bool> busy_;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready_;
  std::uint64_t sent_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace cutover::loadgen
