#include "cri/server/reaper.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>

#include "common/error.h"
#include "common/log.h"

namespace vpcri::cri {

Reaper::Reaper() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_) throw_errno("epoll_create1");
  if (!wake_) throw_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) throw_errno("epoll_ctl");
  thread_ = std::thread([this] { run(); });
}

Reaper::~Reaper() {
  uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) log::error("cannot wake the reaper thread");
  thread_.join();
}

void Reaper::watch(const std::string& key, std::shared_ptr<runtime::MonitorHandle> monitor,
                   std::function<void()> on_exit) {
  const int fd = monitor->pidfd();
  watch_pidfd(key, Watch{std::move(monitor), fd, std::move(on_exit)});
}

void Reaper::watch(const std::string& key, std::shared_ptr<runtime::container::PauseProcess> pause,
                   std::function<void()> on_exit) {
  const int fd = pause->pidfd();
  watch_pidfd(key, Watch{std::move(pause), fd, std::move(on_exit)});
}

void Reaper::watch_pidfd(const std::string& key, Watch watch) {
  unwatch(key);
  std::lock_guard lock(mu_);
  const int fd = watch.pidfd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("watching the process of " + key);
  keys_[fd] = key;
  watches_[key] = std::move(watch);
}

void Reaper::unwatch(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = watches_.find(key);
  if (it == watches_.end()) return;
  const int fd = it->second.pidfd;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  keys_.erase(fd);
  watches_.erase(it);
}

void Reaper::run() {
  for (;;) {
    epoll_event events[16];
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("reaper: epoll_wait failed", {{"errno", std::to_string(errno)}});
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_.get()) return;
      Watch fired;
      std::string key;
      {
        std::lock_guard lock(mu_);
        auto k = keys_.find(events[i].data.fd);
        if (k == keys_.end()) continue;  // unwatched meanwhile
        key = k->second;
        auto w = watches_.find(key);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, events[i].data.fd, nullptr);
        keys_.erase(k);
        fired = std::move(w->second);
        watches_.erase(w);
      }
      try {
        fired.on_exit();
      } catch (const std::exception& e) {
        log::error("reaper: recording an exit failed", {{"id", key}, {"error", e.what()}});
      }
    }
  }
}

}  // namespace vpcri::cri
