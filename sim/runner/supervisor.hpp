#pragma once
// The process supervisor: spawns the run's child processes and guarantees
// that none outlives the runner.
//
// Each child is put in a process group of its own (so the terminal's Ctrl-C
// reaches only the runner, which then stops the run in order, and a signal to
// the group also reaches anything the child spawned) and gets
// PR_SET_PDEATHSIG = SIGKILL, so if the runner dies in any way, even by
// SIGKILL, the kernel kills the child. Children are spawned from the thread
// that lives for the whole run (PDEATHSIG follows the spawning thread).
// The destructor kills and reaps whatever is left.
//
// PDEATHSIG reaches the direct child only. A process the child spawned (a
// `command:` service run through `sh -c`) stays in the child's process group,
// and the guardian kills it: a small process forked at the first spawn that
// outlives the runner by design. The runner tells it each group it makes;
// when its socket to the runner ends (the runner exited or died, even by
// SIGKILL) it SIGKILLs every group still listed, then exits. A reaped child's group is
// forgotten once it is empty (its number may then be reused).
#include <poll.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/result.hpp"
#include "sim/core/time.hpp"

namespace cutover::runner {

struct ChildExit {
  pid_t pid = 0;
  std::string name;
  bool signaled = false;  // killed by a signal (then `code` is the signal)
  int code = 0;           // exit code or signal number
  Instant at{};
  bool killed_after_grace = false;  // terminateAll sent SIGKILL: it outlived the grace period
};

class Supervisor {
 public:
  Supervisor() = default;
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts argv[0] (an absolute path) with stdout and stderr appended to
  // log_path. When ready_fd_out is given, the child's fd 3 is the write end of
  // a pipe whose read end (close-on-exec, non-blocking) is returned there.
  // When control_fd_out is given, the child's fd 4 is the read end of a pipe
  // whose write end (close-on-exec, non-blocking) is returned there.
  Result<pid_t> spawn(const std::string& name, const std::vector<std::string>& argv,
                      const std::string& log_path, int* ready_fd_out = nullptr, int* control_fd_out = nullptr);

  // Sends `sig` to the child's process group. False if it is gone.
  bool signal(pid_t pid, int sig);
  // Reaps children that exited since the last call (never blocks).
  std::vector<ChildExit> reap();
  // SIGTERM to every live child, up to `grace` for them to exit, then SIGKILL;
  // returns the exits seen.
  std::vector<ChildExit> terminateAll(Duration grace);
  // The same, with the first signal per child from `stop_signal` (SIGTERM
  // for children it does not know) and each child's own grace period from
  // `grace_of`: a child is SIGKILLed when its own grace ends, not the
  // longest one.
  std::vector<ChildExit> terminateAll(const std::function<int(pid_t)>& stop_signal,
                                      const std::function<Duration(pid_t)>& grace_of);
  std::vector<pid_t> alive() const;
  // Sleeps until `deadline`, or less: it returns as soon as a live child has
  // exited (it is then reaped by the next reap()), so a run loop sees an exit
  // when it happens, not on its next tick. Each child's pidfd is polled; where
  // one could not be opened (a kernel before 5.3) the sleep runs to the deadline.
  // `also`: more descriptors whose readiness ends the wait (a probe's socket).
  void waitUntil(Instant deadline, std::vector<pollfd> also = {}) const;
  // The guardian (see guard()): its pid (-1 before the first spawn), and how
  // many times one died before the run's end (killed on its own) and reap()
  // started another, which was told every group still listed.
  pid_t guardianPid() const { return guardian_; }
  int guardianRestarts() const { return guardian_restarts_; }

 private:
  struct Child {
    pid_t pid;
    std::string name;
    bool alive = true;
    int pidfd = -1;  // readable once the child has exited; closed when reaped
  };
  void reaped(Child& c);
  void guard(pid_t group, bool add);  // tells the guardian (started on first use)
  void forgetEmptied();
  std::vector<pid_t> emptying_;       // reaped children's groups the guardian still lists
  std::vector<Child> children_;
  int guardian_fd_ = -1;  // the runner's end of the socket to the guardian
  pid_t guardian_ = -1;
  int guardian_restarts_ = 0;
};

// Reads "port=<P>\n" from a ready pipe within `timeout`. nullopt on timeout,
// EOF (the child died first) or garbage. `line` keeps what was read so far
// across calls: a child may write its line in pieces.
std::optional<unsigned short> readReadyPort(int fd, Duration timeout, std::string& line);

}  // namespace cutover::runner
