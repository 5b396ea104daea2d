// Directory trees deleted off the caller's path: `throw_away` moves a tree into a trash directory
// on the same filesystem (one rename) and a worker thread deletes it. A removal RPC then costs a
// rename instead of an unlink per file and an rmdir per directory (rmdir is a journal commit on
// some filesystems: milliseconds each). What a crash leaves in the trash is deleted when the next
// Trash for that directory starts.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace vpcri {

class Trash {
 public:
  // Deletes one tree (a direct child of the trash directory) given its full path; throws on
  // failure (the tree stays in the trash, retried at the next start).
  using Remover = std::function<void(const std::string& path)>;

  // Creates `dir` (0700) when missing and queues whatever it already holds.
  Trash(std::string dir, Remover remove);
  ~Trash();  // finishes what is queued
  Trash(const Trash&) = delete;
  Trash& operator=(const Trash&) = delete;

  // Moves `path` (a directory or file) into the trash and queues its deletion; a missing `path`
  // is nothing to do. When it cannot be moved there (another filesystem), it is deleted now.
  void throw_away(const std::string& path);

  // Waits until everything queued so far is deleted (or failed and was logged).
  void drain();

  const std::string& dir() const { return dir_; }

 private:
  void enqueue(std::string path);
  void run();

  const std::string dir_;
  const Remover remove_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  bool busy_ = false;  // the worker is deleting an item taken off the queue
  bool stopping_ = false;
  std::thread worker_;  // started with the first item
};

}  // namespace vpcri
