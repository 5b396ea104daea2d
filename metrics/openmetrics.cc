#include "metrics/openmetrics.h"

namespace vpcri::metrics {
namespace {

constexpr std::string_view kHelp = "# HELP ";
constexpr std::string_view kType = "# TYPE ";
constexpr std::string_view kTotal = "_total";

// 0.0.4 leaves `"` in HELP as is; OpenMetrics escapes it like a label value.
std::string escape_quotes(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

bool accepts_openmetrics(std::string_view accept) {
  return accept.find("application/openmetrics-text") != std::string_view::npos;
}

std::string to_openmetrics(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  std::string_view help;  // the HELP text of the family whose TYPE line comes next
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.starts_with(kHelp)) {
      const size_t space = line.find(' ', kHelp.size());  // after the name
      help = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
      continue;
    }
    if (line.starts_with(kType)) {
      std::string_view rest = line.substr(kType.size());
      std::string_view name = rest.substr(0, rest.find(' '));
      std::string_view type = rest.substr(name.size() + 1);
      if (type == "counter") {
        if (name.ends_with(kTotal)) name.remove_suffix(kTotal.size());
        else type = "unknown";
      }
      out.append(kHelp).append(name).append(" ").append(escape_quotes(help)).append("\n");
      out.append(kType).append(name).append(" ").append(type).append("\n");
      continue;
    }
    out.append(line).append("\n");
  }
  out += "# EOF\n";
  return out;
}

}  // namespace vpcri::metrics
