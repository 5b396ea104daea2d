#include "common/trash.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <random>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

namespace vpcri {
namespace {

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(12, '0');
  for (auto& c : out) c = kHex[rng() % 16];
  return out;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno("open trash directory " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  return out;
}

}  // namespace

Trash::Trash(std::string dir, Remover remove) : dir_(std::move(dir)), remove_(std::move(remove)) {
  fs::mkdir_p(dir_, 0700);
  for (auto& name : names_in(dir_)) enqueue(dir_ + "/" + name);
}

Trash::~Trash() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Trash::throw_away(const std::string& path) {
  std::string moved = dir_ + "/" + base_name(path) + "." + random_suffix();
  if (::rename(path.c_str(), moved.c_str()) == 0) {
    enqueue(std::move(moved));
    return;
  }
  const int err = errno;
  struct stat st {};
  // A read-only filesystem says EROFS before ENOENT: a missing path is still nothing to do.
  if (err == ENOENT || (::lstat(path.c_str(), &st) != 0 && errno == ENOENT)) return;
  if (err != EXDEV) throw_errno("move " + path + " to the trash", err);
  remove_(path);
}

void Trash::enqueue(std::string path) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(path));
    if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  }
  changed_.notify_all();
}

void Trash::drain() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void Trash::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is done
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    try {
      remove_(path);
    } catch (const std::exception& e) {
      log::warn("cannot delete from the trash now; retried at the next start", {{"path", path}, {"error", e.what()}});
    }
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace vpcri
