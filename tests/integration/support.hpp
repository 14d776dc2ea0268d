#pragma once
// Helpers for integration tests: bounded waits on conditions, never bare sleeps.
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

namespace cutover::testing {

// Polls `condition` (every `poll`) until it holds or `timeout` passes.
// Returns whether it held.
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::chrono::milliseconds poll = std::chrono::milliseconds(5));

// True when a TCP listener on 127.0.0.1:port accepts a connection.
bool portAcceptsConnections(unsigned short port);
// True when 127.0.0.1:port can be bound by a new listener (nobody holds it).
bool portIsFree(unsigned short port);

// Path of the built `cutover` binary and of the source tree.
std::string cutoverBinary();
std::string sourceDir();

// ---- cutover as a child process ------------------------------------------------------

// A `cutover` child: its stderr read through a non-blocking pipe, its stdout
// thrown away.
struct CutoverChild {
  int pid = -1;
  int err_fd = -1;  // read end of the child's stderr
  std::string err;  // what was read so far

  void drain();  // reads what stderr has now
  // Reads stderr until `pattern` matched `count` times or `timeout` passed.
  bool readUntil(const std::regex& pattern, int count, std::chrono::milliseconds timeout);
};
// Under ThreadSanitizer a `run` gets --set validity.max_late_sends=100%: the
// load generator cannot keep its schedule there, and these tests are about
// what a run measures (only lateness is loosened, only there).
CutoverChild spawnCutover(std::vector<std::string> args);
// Exit code, 128+signal, or -1 when it did not exit within `timeout` (then
// killed). The CutoverChild overload keeps draining stderr while it waits.
int waitExit(int pid, std::chrono::milliseconds timeout);
int waitExit(CutoverChild& child, std::chrono::milliseconds timeout);
// `cutover ARGS` through the shell (stdout and stderr to /dev/null unless
// ARGS redirects them), bounded by `timeout`; its exit code (124: timed out).
int runCutoverShell(const std::string& args, std::chrono::seconds timeout = std::chrono::seconds(120));

// A whole `cutover run -q FILE --out DIR EXTRA...` (stderr kept, stdout
// thrown away), bounded by 90 s; report.json read back when there is one.
struct ScenarioRun {
  int code = -1;
  std::string err;
  nlohmann::json report;
};
// The run is repeated (at most 3 runs) while the only reason it was invalid
// is the load generator falling behind its schedule: the machine is shared,
// and these tests are about what a run measures. Under ThreadSanitizer the
// run gets --set validity.max_late_sends=100% instead.
// `attempts` 1: a test whose run is meant to be held back (by its own
// load.connections, say) runs once.
ScenarioRun runScenario(const std::string& file, const std::filesystem::path& dir,
                        const std::vector<std::string>& extra = {}, int attempts = 3);
// Exit 3 with "load generator fell behind" as its only invalid reason.
bool onlyLate(const ScenarioRun& run);

// ---- files -----------------------------------------------------------------------------

// A fresh directory under the system temp dir: cutover-<prefix>-<name>-<pid>.
std::filesystem::path tempDir(const std::string& prefix, const std::string& name);
std::string slurp(const std::filesystem::path& path);
nlohmann::json readJson(const std::filesystem::path& path);

}  // namespace cutover::testing

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace cutover::testing {

// A tiny blocking HTTP/1.1 server on 127.0.0.1 (POSIX sockets, a thread per
// connection) whose every answer is chosen per request by the test: a real
// misbehaving upstream for proxy and client tests (no Asio, cheap to build).
struct TinyRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
};

enum class TinyAction {
  respond,                // send the reply
  close_before_response,  // close the connection cleanly (FIN) without a byte
  reset,                  // close with RST (SO_LINGER 0) without a byte
  partial_then_reset,     // send the head and half the body, then RST
  hang,                   // never answer; keep the connection open until stop()
};

struct TinyReply {
  TinyAction action = TinyAction::respond;
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // "Connection: close" and close after the reply
  std::chrono::milliseconds delay{0};
};

class TinyHttpServer {
 public:
  using Handler = std::function<TinyReply(const TinyRequest&)>;
  explicit TinyHttpServer(Handler handler);
  ~TinyHttpServer();
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;

  unsigned short port() const { return port_; }
  std::size_t requests() const { return requests_.load(); }
  std::size_t connections() const { return connections_.load(); }
  // From now on, as a draining server: every kept-alive connection is closed
  // (FIN) as soon as no request is on it, now or after its next reply.
  void closeIdle() { close_idle_ = true; }
  void stop();

 private:
  void acceptLoop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> close_idle_{false};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> connections_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

}  // namespace cutover::testing
