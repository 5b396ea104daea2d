// The HTTP/1.1 part of the streaming protocols: one request head in, one response out, then the
// connection is upgraded (or closed). Just enough HTTP for that, with hard size limits.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vpcri::streaming::http {

struct Message {
  std::string method;  // request: "GET", "POST"; response: ""
  std::string target;  // request: "/exec/TOKEN"
  int status = 0;      // response: 101, 404, ...
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, in order
  // Every value of `name` (lowercase), comma-separated lists split and trimmed.
  std::vector<std::string> values(std::string_view name) const;
  std::string value(std::string_view name) const;  // the first value, "" if absent
};

// Thrown for a request we answer with an HTTP error.
struct HttpError {
  int status;
  std::string body;
};

constexpr size_t kMaxHead = 16 * 1024;

// Reads up to the end of the head ("\r\n\r\n") from a socket within `timeout`. Bytes read past it
// are returned in `rest`. Throws HttpError 431 past kMaxHead, 408 on timeout, 400 on EOF.
std::string read_head(int fd, std::chrono::milliseconds timeout, std::string& rest);
// Throws HttpError 400 on a malformed head.
Message parse_request(std::string_view head);
Message parse_response(std::string_view head);

const char* reason_phrase(int status);
// A whole response; a body gets Content-Type text/plain and Content-Length.
std::string response(int status, const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body);

// Writes all of `bytes` (blocking socket; gives up on error or send timeout). False on failure.
bool write_all(int fd, std::string_view bytes);

// Half-closes the socket, then reads and drops what the peer still sends until it closes or
// `linger` passes: closing with unread bytes would reset the connection and the peer could lose
// what we sent last (an error response, the final frames).
void shutdown_and_drain(int fd, std::chrono::milliseconds linger);

}  // namespace vpcri::streaming::http
