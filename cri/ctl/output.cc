#include "cri/ctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

namespace vpcri::ctl {

void Table::print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << line << "\n";
  }
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{\"error\": \"cannot render response as JSON\"}\n";
  return out;
}

std::string status_with_info(const google::protobuf::Message& status,
                             const google::protobuf::Map<std::string, std::string>& info) {
  nlohmann::ordered_json out;
  out["status"] = nlohmann::ordered_json::parse(to_json(status));
  std::map<std::string, std::string> sorted(info.begin(), info.end());
  for (const auto& [key, value] : sorted) {
    auto parsed = nlohmann::ordered_json::parse(value, nullptr, false);
    out[key] = parsed.is_discarded() ? nlohmann::ordered_json(value) : parsed;
  }
  return out.dump(2) + "\n";
}

std::string truncate_id(const std::string& id, bool no_trunc) {
  if (no_trunc) return id;
  std::string hex = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return hex.substr(0, 13);
}

std::string relative_time(int64_t then_ns, int64_t now_ns) {
  // go-units' HumanDuration, which crictl uses.
  const int64_t seconds = (now_ns - then_ns) / 1000000000;
  const int64_t minutes = seconds / 60;
  const int64_t hours = (seconds + 1800) / 3600;  // rounded, as HumanDuration does
  std::string d;
  if (seconds < 1) {
    d = "Less than a second";
  } else if (seconds == 1) {
    d = "1 second";
  } else if (seconds < 60) {
    d = std::to_string(seconds) + " seconds";
  } else if (minutes == 1) {
    d = "About a minute";
  } else if (minutes < 60) {
    d = std::to_string(minutes) + " minutes";
  } else if (hours == 1) {
    d = "About an hour";
  } else if (hours < 48) {
    d = std::to_string(hours) + " hours";
  } else if (hours < 24 * 7 * 2) {
    d = std::to_string(hours / 24) + " days";
  } else if (hours < 24 * 30 * 2) {
    d = std::to_string(hours / 24 / 7) + " weeks";
  } else if (hours < 24 * 365 * 2) {
    d = std::to_string(hours / 24 / 30) + " months";
  } else {
    d = std::to_string(seconds / 3600 / 24 / 365) + " years";
  }
  return d + " ago";
}

std::string cpu_percent(uint64_t before_ns, int64_t before_at_ns, uint64_t after_ns, int64_t after_at_ns) {
  if (after_at_ns <= before_at_ns || after_ns < before_ns) return "-";
  double percent = static_cast<double>(after_ns - before_ns) / static_cast<double>(after_at_ns - before_at_ns) * 100;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", percent);
  return buf;
}

}  // namespace vpcri::ctl
