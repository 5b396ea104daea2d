// Container log files in the CRI format, for `vpcrictl logs`. Each line of the file is
// "TIMESTAMP STREAM TAG MESSAGE": an RFC 3339 timestamp, "stdout" or "stderr", then "F" for the
// end of a line of output or "P" for a piece of a longer one (tags may carry more, ':'-separated).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpcri::ctl {

enum class Stream { out, err };

struct LogLine {
  std::string timestamp;
  Stream stream = Stream::out;
  bool partial = false;
  std::string message;
};

// One line of the file without its '\n'; nullopt when it is not in the CRI format.
std::optional<LogLine> parse_log_line(std::string_view line);

// One line of the container's output: the pieces joined, with the first piece's timestamp and
// the '\n' the runtime took off.
struct LogEntry {
  std::string timestamp;
  Stream stream = Stream::out;
  std::string text;
};

// Turns the file's bytes, fed as they are read, into whole lines of output. Pieces of stdout and
// stderr are joined separately, so they may interleave.
class LogReader {
 public:
  // Entries completed by `bytes`; an unfinished file line waits for the next feed.
  std::vector<LogEntry> feed(std::string_view bytes);
  // File lines skipped because they were not in the CRI format.
  size_t malformed() const { return malformed_; }

 private:
  std::string rest_;  // an unfinished file line
  std::array<std::optional<LogEntry>, 2> pending_;  // a partial line per stream
  size_t malformed_ = 0;
};

}  // namespace vpcri::ctl
