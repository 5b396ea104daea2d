// One thread that watches the monitors of running containers and the pods' pause through their pidfds
// (epoll) and, when one ends, calls back so the record gets the exit status at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.h"
#include "runtime/container/pause_process.h"
#include "runtime/monitor/monitor.h"

namespace vpcri::cri {

class Reaper {
 public:
  Reaper();
  ~Reaper();  // stops the thread; callbacks not run yet are dropped
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Calls `on_exit` (on the reaper thread) once the monitor has exited. `key` names the watch
  // (an object id); watching a key again replaces the previous watch.
  void watch(const std::string& key, std::shared_ptr<runtime::MonitorHandle> monitor, std::function<void()> on_exit);
  // The same for a pod's pause (no monitor): `on_exit` once pause has ended.
  void watch(const std::string& key, std::shared_ptr<runtime::container::PauseProcess> pause, std::function<void()> on_exit);
  void unwatch(const std::string& key);

 private:
  struct Watch {
    std::shared_ptr<const void> process;  // keeps the pidfd open while watched
    int pidfd = -1;
    std::function<void()> on_exit;
  };
  void watch_pidfd(const std::string& key, Watch watch);
  void run();

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  std::mutex mu_;
  std::map<int, std::string> keys_;  // pidfd -> key
  std::map<std::string, Watch> watches_;
  std::thread thread_;
};

}  // namespace vpcri::cri
