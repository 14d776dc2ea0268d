#pragma once
// What the nginx and HAProxy drivers share: the backend table, the active
// and previous pool, switch/rollback bookkeeping and events, the child
// process. A subclass writes its config and makes a pool active (apply).
#include <sys/types.h>

#include <string>
#include <vector>

#include "sim/runner/supervisor.hpp"
#include "sim/runner/switcher_driver.hpp"

namespace cutover::runner {

class ExternalDriverBase : public SwitcherDriver {
 public:
  ExternalDriverBase(const scenario::Scenario& s, Supervisor& sup, const SwitcherDriverOptions& o);
  std::uint16_t port() const override { return port_; }
  pid_t pid() const override { return pid_; }
  switcher::SwitchResult switchTo(const std::string& pool) override;
  switcher::SwitchResult rollback() override;
  std::string activePool() const override { return active_; }
  std::vector<switcher::BackendView> backends() const override;
  std::vector<switcher::Event> takeEvents() override;
  bool onChildExit(const ChildExit& exit) override;
  void stop() override;

 protected:
  struct Backend {
    std::string pool, instance;
    std::uint16_t port = 0;
    int slot = 0;          // haproxy: the server-template slot (1-based)
    bool healthy = true;   // haproxy: its own check status
  };
  // Makes `pool` the one that gets new requests. False with a message on failure.
  virtual bool apply(const std::string& pool, std::string* error) = 0;
  // Spawns the process with argv, waits until `port_` accepts (bounded).
  bool spawnAndWait(const std::vector<std::string>& argv, std::string* error);
  void event(const std::string& kind, const std::string& pool, const std::string& detail = "");
  std::size_t poolSize(const std::string& pool) const;

  const scenario::Scenario& sc_;
  Supervisor& sup_;
  std::string dir_;  // run_dir/switcher
  SwitcherDriverOptions opt_;
  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
  bool exited_ = false;
  std::vector<Backend> backends_;
  std::string active_, previous_;
  std::vector<switcher::Event> events_;

 private:
  switcher::SwitchResult change(std::string pool, const char* kind);  // by value: rollback passes previous_
};

}  // namespace cutover::runner
