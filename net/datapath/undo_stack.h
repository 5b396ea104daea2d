// Undo actions for a multi-step kernel setup: each step that succeeds pushes how to reverse it;
// if the setup throws before commit(), the destructor runs them newest first, so a failure
// half-way leaves nothing behind.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"

namespace vpcri::net {

class UndoStack {
 public:
  UndoStack() = default;
  UndoStack(const UndoStack&) = delete;
  UndoStack& operator=(const UndoStack&) = delete;
  ~UndoStack() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      try {
        it->second();
      } catch (const std::exception& e) {
        // Keep undoing the rest: one stuck object must not leak all the others.
        log::warn("rollback step failed", {{"step", it->first}, {"error", e.what()}});
      }
    }
  }

  void push(std::string description, std::function<void()> undo) {
    steps_.emplace_back(std::move(description), std::move(undo));
  }
  void commit() { steps_.clear(); }

 private:
  std::vector<std::pair<std::string, std::function<void()>>> steps_;
};

}  // namespace vpcri::net
