// Output for vpcrictl: aligned tables for people, JSON for scripts.
#pragma once

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

namespace vpcri::ctl {

enum class Format { table, json };

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Protobuf message as indented JSON with the CRI's field names (camelCase, like crictl).
std::string to_json(const google::protobuf::Message& message);

}  // namespace vpcri::ctl
