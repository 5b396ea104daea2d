#include "cri/streaming/http.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/http_status.h"

namespace vpcri::streaming::http {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// Splits the head into its first line and its header fields.
Message parse_fields(std::string_view head, std::string& first_line) {
  Message m;
  size_t at = head.find("\r\n");
  if (at == std::string_view::npos) throw HttpError{400, "malformed request: no line end"};
  first_line = head.substr(0, at);
  at += 2;
  while (at < head.size()) {
    size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) throw HttpError{400, "malformed header line"};
    m.headers.emplace_back(lower(std::string(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return m;
}

}  // namespace

std::vector<std::string> Message::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (n != name) continue;
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      std::string item = trim(std::string_view(v).substr(start, comma - start));
      if (!item.empty()) out.push_back(item);
      start = comma + 1;
    }
  }
  return out;
}

std::string Message::value(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

std::string read_head(int fd, std::chrono::milliseconds timeout, std::string& rest) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string buf;
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (std::min(end, buf.size()) > kMaxHead) throw HttpError{431, "request header fields too large"};
    if (end != std::string::npos) {
      rest = buf.substr(end + 4);
      buf.resize(end + 4);
      return buf;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw HttpError{408, "request head not received in time"};
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // timeout: checked above
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) throw HttpError{400, "connection closed before the end of the request head"};
    buf.append(chunk, static_cast<size_t>(n));
  }
}

Message parse_request(std::string_view head) {
  std::string line;
  Message m = parse_fields(head, line);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) throw HttpError{400, "malformed request line"};
  m.method = line.substr(0, sp1);
  m.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (line.compare(sp2 + 1, std::string::npos, "HTTP/1.1") != 0 && line.compare(sp2 + 1, std::string::npos, "HTTP/1.0") != 0) {
    throw HttpError{400, "unsupported HTTP version"};
  }
  return m;
}

Message parse_response(std::string_view head) {
  std::string line;
  Message m = parse_fields(head, line);
  if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) throw HttpError{400, "malformed status line: " + line};
  size_t sp = line.find(' ');
  try {
    m.status = std::stoi(line.substr(sp + 1, 3));
  } catch (...) {
    throw HttpError{400, "malformed status line: " + line};
  }
  return m;
}

const char* reason_phrase(int status) { return http_reason_phrase(status); }

std::string response(int status, const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [n, v] : headers) out += n + ": " + v + "\r\n";
  if (status != 101) {
    out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n";
  }
  out += "\r\n";
  out.append(body);
  return out;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void shutdown_and_drain(int fd, std::chrono::milliseconds linger) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + linger;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
  }
}

}  // namespace vpcri::streaming::http
