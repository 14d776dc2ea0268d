#pragma once
// StopSchedule: when the live runner sends SIGKILL. Pure model: no clock, no
// signals; the runner passes `now` and carries the kills out.
//
// Theory of operation
// -------------------
// An instance told to stop (its stop signal sent, by a `stop:` step or a
// scale down) is *stopping* until it exits. Until then the end of its grace
// period is a deadline: when it comes, the runner sends SIGKILL, once. An
// instance that exits drops its deadline, so the runner's loop, which sleeps
// until nextDeadline(), never wakes for a kill that is not coming (a past
// deadline left behind made that loop spin to the end of the run). A second
// stop of a stopping instance keeps the first deadline: the grace period
// runs from the first signal, as a pod's does.
#include <cstddef>
#include <optional>
#include <vector>

#include "sim/core/time.hpp"

namespace cutover::runner {

class StopSchedule {
 public:
  // Instance `i` got its stop signal at some now; SIGKILL at `kill_at`.
  void stop(std::size_t i, Instant kill_at) {
    Entry& e = at(i);
    if (e.exited) return;
    if (!e.stopping) {
      e.stopping = true;
      e.kill_at = kill_at;
    }
  }

  // Instance `i` is gone (reaped): nothing is due for it any more.
  void exited(std::size_t i) {
    Entry& e = at(i);
    e.exited = true;
    e.stopping = false;
    e.kill_at.reset();
  }

  // Its stop signal was sent and it has not exited yet (killed or not).
  bool stopping(std::size_t i) const { return i < entries_.size() && entries_[i].stopping; }

  // The earliest SIGKILL still to send.
  std::optional<Instant> nextDeadline() const {
    std::optional<Instant> next;
    for (const auto& e : entries_)
      if (e.kill_at && (!next || *e.kill_at < *next)) next = e.kill_at;
    return next;
  }

  // The instances to SIGKILL now, in instance order; each is answered once.
  std::vector<std::size_t> takeDue(Instant now) {
    std::vector<std::size_t> due;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      Entry& e = entries_[i];
      if (e.kill_at && now >= *e.kill_at) {
        e.kill_at.reset();
        due.push_back(i);
      }
    }
    return due;
  }

 private:
  struct Entry {
    bool stopping = false;
    bool exited = false;
    std::optional<Instant> kill_at;  // set while a SIGKILL is still to come
  };
  Entry& at(std::size_t i) {
    if (i >= entries_.size()) entries_.resize(i + 1);
    return entries_[i];
  }
  std::vector<Entry> entries_;
};

}  // namespace cutover::runner
