#include "runtime/registry/http.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>

#include "common/curl_easy.h"
#include "common/error.h"
#include "common/text.h"

namespace vpcri::runtime::registry::http {
namespace {

using curl::set;

// Reused easy handles keep their connection cache (and TLS sessions) warm across pulls.
curl::HandlePool& pool() {
  static curl::HandlePool instance(8);
  return instance;
}

struct Transfer {
  const BodyHandler* on_body = nullptr;
  Head head;
  std::exception_ptr failure;  // thrown by on_body; rethrown once curl has returned
  // Stall detection. curl's own LOW_SPEED check averages over a ~5 s window, so a burst
  // followed by silence is noticed late; this measures the silence itself.
  std::chrono::milliseconds stall_limit{0};
  curl_off_t last_received = -1;
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
  bool stalled = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (redirect hop, 100-continue or the final one): forget the previous one.
    transfer->head = Head{};
    size_t space = line.find(' ');
    if (space != std::string_view::npos) transfer->head.status = std::strtol(line.data() + space + 1, nullptr, 10);
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->head.headers.emplace(to_lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return line.size();
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->head.status >= 300 && transfer->head.status < 400 && !transfer->head.header("location").empty()) {
    return bytes;  // body of a redirect being followed
  }
  try {
    (*transfer->on_body)(transfer->head, std::string_view(data, bytes));
  } catch (...) {
    transfer->failure = std::current_exception();
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t received, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (received != transfer->last_received) {
    transfer->last_received = received;
    transfer->last_progress = now;
    return 0;
  }
  if (now - transfer->last_progress < transfer->stall_limit) return 0;
  transfer->stalled = true;
  return 1;  // aborts with CURLE_ABORTED_BY_CALLBACK
}

}  // namespace

std::string Head::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Result perform(const Request& request, const BodyHandler& on_body) {
  curl::PooledHandle pooled(pool());
  CURL* h = pooled.get();
  Transfer transfer;
  transfer.on_body = &on_body;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl::HeaderList headers;
  for (const auto& line : request.headers) headers.add(line);

  set(h, CURLOPT_URL, request.url.c_str());
  set(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we are multi-threaded
  set(h, CURLOPT_USERAGENT, "vpcri");
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  set(h, CURLOPT_MAXREDIRS, 10L);
  set(h, CURLOPT_TCP_KEEPALIVE, 1L);
  set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  if (request.total_timeout.count() > 0) set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  if (request.low_speed_time.count() > 0) {
    transfer.stall_limit = request.low_speed_time;
    set(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    set(h, CURLOPT_XFERINFODATA, &transfer);
    set(h, CURLOPT_NOPROGRESS, 0L);
  }
  std::string range;
  if (request.range_from >= 0) {
    range = std::to_string(request.range_from) + "-";
    set(h, CURLOPT_RANGE, range.c_str());
  }
  if (request.method == "HEAD") {
    set(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    set(h, CURLOPT_POSTFIELDS, request.body.c_str());
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    set(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  set(h, CURLOPT_HTTPHEADER, headers.get());
  set(h, CURLOPT_HEADERFUNCTION, &on_header);
  set(h, CURLOPT_HEADERDATA, &transfer);
  set(h, CURLOPT_WRITEFUNCTION, &on_write);
  set(h, CURLOPT_WRITEDATA, &transfer);
  set(h, CURLOPT_ERRORBUFFER, error_buffer);

  CURLcode code = curl_easy_perform(h);
  if (transfer.failure) std::rethrow_exception(transfer.failure);

  Result result;
  result.head = std::move(transfer.head);
  result.curl_code = code;
  if (code != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    result.os_errno = static_cast<int>(os_errno);
    if (transfer.stalled) {
      result.error = "no data received for " + std::to_string(request.low_speed_time.count()) + " ms";
    } else if (os_errno != 0 &&
               (code == CURLE_COULDNT_CONNECT || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR)) {
      result.error = std::strerror(result.os_errno);
    } else if (error_buffer[0] != '\0') {
      result.error = error_buffer;
    } else {
      result.error = curl_easy_strerror(code);
    }
  }
  return result;
}

std::string host_of(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t at = authority.rfind('@');
  return at == std::string::npos ? authority : authority.substr(at + 1);
}

std::string url_encode(std::string_view text) { return percent_encode(text); }

}  // namespace vpcri::runtime::registry::http
