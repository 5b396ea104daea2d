#include "cri/ctl/cri_log.h"

namespace vpcri::ctl {

std::optional<LogLine> parse_log_line(std::string_view line) {
  LogLine out;
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  out.timestamp = std::string(line.substr(0, sp1));
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  std::string_view stream = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (stream == "stdout") {
    out.stream = Stream::out;
  } else if (stream == "stderr") {
    out.stream = Stream::err;
  } else {
    return std::nullopt;
  }
  // The tag ends at the next space; an empty message may also end the line right after it.
  auto sp3 = line.find(' ', sp2 + 1);
  std::string_view tags = line.substr(sp2 + 1, sp3 == std::string_view::npos ? std::string_view::npos : sp3 - sp2 - 1);
  std::string_view tag = tags.substr(0, tags.find(':'));
  if (tag == "P") {
    out.partial = true;
  } else if (tag != "F") {
    return std::nullopt;
  }
  if (sp3 != std::string_view::npos) out.message = std::string(line.substr(sp3 + 1));
  return out;
}

std::vector<LogEntry> LogReader::feed(std::string_view bytes) {
  std::vector<LogEntry> out;
  rest_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = rest_.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto line = parse_log_line(std::string_view(rest_).substr(start, nl - start));
    if (!line) {
      ++malformed_;
      continue;
    }
    auto& pending = pending_[line->stream == Stream::err ? 1U : 0U];
    if (!pending) pending = LogEntry{std::move(line->timestamp), line->stream, ""};
    pending->text += line->message;
    if (line->partial) continue;
    pending->text += '\n';
    out.push_back(std::move(*pending));
    pending.reset();
  }
  rest_.erase(0, start);
  return out;
}

}  // namespace vpcri::ctl
