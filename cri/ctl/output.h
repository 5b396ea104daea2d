// Output for vpcrictl: aligned tables for people, JSON for scripts.
#pragma once

#include <google/protobuf/map.h>
#include <google/protobuf/message.h>

#include <cstdint>
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

// Like crictl's inspect commands: {"status": STATUS, KEY: VALUE...} with each verbose info value
// parsed as JSON where it is JSON (kept as a string otherwise), indented.
std::string status_with_info(const google::protobuf::Message& status,
                             const google::protobuf::Map<std::string, std::string>& info);

// The first 13 characters of an id (a "sha256:" prefix dropped), like crictl; all of it with no_trunc.
std::string truncate_id(const std::string& id, bool no_trunc);

// How long ago `then_ns` was at `now_ns` (both ns since the epoch), like crictl's CREATED column:
// "Less than a second ago", "5 seconds ago", "About a minute ago", "3 hours ago", "2 weeks ago".
std::string relative_time(int64_t then_ns, int64_t now_ns);

// CPU use between two samples of cumulative CPU time (ns, taken at *_at_ns), as a percentage of
// one core like crictl's stats: "12.34"; "-" when the samples are not in order.
std::string cpu_percent(uint64_t before_ns, int64_t before_at_ns, uint64_t after_ns, int64_t after_at_ns);

}  // namespace vpcri::ctl
