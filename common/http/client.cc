#include "common/http/client.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/http/connection.h"
#include "common/http/proxy.h"
#include "common/http/response_reader.h"
#include "common/text.h"

namespace vpcri::http {
namespace {

using detail::Clock;
using detail::Connection;
using detail::Deadline;
using detail::ResponseReader;
using detail::TransportError;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxRedirectBody = 64 * 1024;  // drained to keep the connection; a longer one closes it

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  std::string port;
  std::string target;  // "/path?query"

  bool default_port() const { return port == (scheme == "https" ? "443" : "80"); }
  std::string authority() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return default_port() ? h : h + ":" + port;
  }
  std::string origin() const { return scheme + "://" + authority(); }
};

bool has_ctl_or_space(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

Url parse_url(const std::string& text) {
  auto bad = [&](const std::string& why) { return TransportError("bad URL \"" + text + "\": " + why); };
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) throw bad("no scheme");
  Url url;
  url.scheme = to_lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") throw bad("only http and https are supported");
  size_t authority_start = scheme_end + 3;
  size_t authority_end = text.find_first_of("/?#", authority_start);
  std::string authority = text.substr(authority_start, authority_end == std::string::npos ? std::string::npos
                                                                                         : authority_end - authority_start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);  // credentials: never used
  std::string port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string::npos) throw bad("unterminated IPv6 address");
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw bad("garbage after the IPv6 address");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty() || has_ctl_or_space(url.host)) throw bad("no valid host");
  if (port.empty()) {
    url.port = url.scheme == "https" ? "443" : "80";
  } else {
    if (!std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
        port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      throw bad("bad port");
    }
    url.port = std::to_string(std::stoi(port));
  }
  url.target = authority_end == std::string::npos ? "/" : text.substr(authority_end);
  url.target = url.target.substr(0, url.target.find('#'));
  if (url.target.empty() || url.target.front() != '/') url.target.insert(0, "/");
  if (has_ctl_or_space(url.target)) throw bad("spaces or control characters in the path");
  return url;
}

// RFC 3986 5.2.4: "/a/b/../c/./d" -> "/a/c/d" (the query is left alone).
std::string remove_dot_segments(const std::string& target) {
  size_t query = target.find('?');
  std::string path = target.substr(0, query), rest = query == std::string::npos ? "" : target.substr(query);
  std::vector<std::string> kept;
  size_t start = 1;  // path starts with '/'
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string segment = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    bool last = slash == std::string::npos;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      if (last) kept.emplace_back();  // "/a/.." -> "/"
    } else if (segment == ".") {
      if (last) kept.emplace_back();
    } else {
      kept.push_back(segment);
    }
    if (last) break;
    start = slash + 1;
  }
  std::string out;
  for (const auto& segment : kept) out += "/" + segment;
  return (out.empty() ? "/" : out) + rest;
}

// Where a Location header points, from the URL that answered with it (RFC 9110: a URI
// reference: absolute, scheme-relative, absolute path or relative path).
std::string resolve_location(const Url& base, const std::string& location) {
  size_t colon = location.find(':');
  size_t first_delimiter = location.find_first_of("/?#");
  if (colon != std::string::npos && (first_delimiter == std::string::npos || colon < first_delimiter)) return location;
  if (location.starts_with("//")) return base.scheme + ":" + location;
  if (location.starts_with("/")) return base.origin() + location;
  std::string path = base.target.substr(0, base.target.find('?'));
  if (location.starts_with("?")) return base.origin() + path + location;
  return base.origin() + path.substr(0, path.rfind('/') + 1) + location;
}

bool is_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct BodyTooLarge {};        // perform_buffered's limit
struct RedirectBodyTooLong {};  // kMaxRedirectBody

}  // namespace

std::string Head::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_authority(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t at = authority.rfind('@');
  return at == std::string::npos ? authority : authority.substr(at + 1);
}

struct Client::Impl {
  ClientOptions options;

  std::mutex mu;  // guards idle and tls
  struct Idle {
    std::string key;
    std::unique_ptr<Connection> connection;
  };
  std::vector<Idle> idle;  // oldest first
  std::shared_ptr<detail::TlsContext> tls;  // made on the first https request: a plain-HTTP client never loads CAs

  std::shared_ptr<detail::TlsContext> tls_context() {
    std::lock_guard lock(mu);
    if (!tls) tls = std::make_shared<detail::TlsContext>(options.ca_file);
    return tls;
  }

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::lock_guard lock(mu);
    for (auto it = idle.rbegin(); it != idle.rend(); ++it) {
      if (it->key != key) continue;
      auto connection = std::move(it->connection);
      idle.erase(std::next(it).base());
      if (connection->idle_and_open()) return connection;
      return nullptr;  // the server closed it; the caller opens a new one
    }
    return nullptr;
  }

  void put_idle(const std::string& key, std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mu);
    idle.push_back({key, std::move(connection)});
    if (idle.size() > options.max_idle_connections) idle.erase(idle.begin());
  }

  // A new connection to `url`'s server: directly, through an HTTP proxy (plain HTTP), or through a
  // CONNECT tunnel of one (HTTPS).
  std::unique_ptr<Connection> open(const Url& url, const std::optional<Proxy>& proxy, const Request& request,
                                   const Deadline& deadline) {
    if (!proxy) {
      auto connection = Connection::open(url.host, url.port, request.connect_timeout, deadline);
      if (url.scheme == "https") connection->start_tls(*tls_context(), url.host, request.connect_timeout, deadline);
      return connection;
    }
    std::unique_ptr<Connection> connection;
    try {
      connection = Connection::open(proxy->host, proxy->port, request.connect_timeout, deadline);
    } catch (const TransportError& e) {
      throw TransportError("proxy " + proxy->host + ":" + proxy->port + ": " + e.what(), e.os_errno);
    }
    if (url.scheme == "http") return connection;
    std::string hostport = (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" + url.port;
    std::string connect = "CONNECT " + hostport + " HTTP/1.1\r\nHost: " + hostport + "\r\n";
    if (!proxy->authorization.empty()) connect += "Proxy-Authorization: " + proxy->authorization + "\r\n";
    connect += "\r\n";
    Deadline tunnel = deadline;
    tunnel.stall = request.connect_timeout;
    connection->write_all(connect, tunnel);
    ResponseReader reader(/*head_request=*/true);  // a CONNECT answer has no body
    std::string pending;
    read_answer(*connection, reader, pending, tunnel, /*header_only=*/true);
    if (!pending.empty()) throw TransportError("proxy " + proxy->host + " sent bytes after its CONNECT answer");
    if (reader.head().status / 100 != 2) {
      throw TransportError("proxy " + proxy->host + ":" + proxy->port + " refused the tunnel to " + hostport + ": HTTP " +
                           std::to_string(reader.head().status));
    }
    connection->start_tls(*tls_context(), url.host, request.connect_timeout, deadline);
    return connection;
  }

  // Feeds `pending`, then the connection's bytes, to `reader` until it has the whole header
  // (`header_only`) or the whole answer; what follows stays in `pending`. At EOF the reader
  // decides: an EOF-delimited body ends there, anything else is cut short and throws.
  static void read_answer(Connection& connection, ResponseReader& reader, std::string& pending,
                          const Deadline& deadline, bool header_only) {
    auto complete = [&] { return header_only ? reader.header_done() : reader.done(); };
    std::string buffer(kReadChunk, '\0');
    for (;;) {
      while (!pending.empty() && !complete()) {
        size_t used = reader.feed(pending);
        pending.erase(0, used);
        if (used == 0) break;
      }
      if (complete()) return;
      size_t n = connection.read_some(buffer.data(), buffer.size(), deadline);
      if (n == 0) {
        reader.finish_at_eof();  // throws unless the answer ended with the connection
        return;
      }
      pending.append(buffer.data(), n);
    }
  }

  std::string serialize(const Request& request, const Url& url, bool absolute_form, const Proxy* proxy) const {
    bool sends_body = request.method != "GET" && request.method != "HEAD";
    std::string out = request.method + " " + (absolute_form ? url.origin() + url.target : url.target) + " HTTP/1.1\r\n";
    // A caller's own Host (a signature covers it) replaces ours.
    bool has_host = std::any_of(request.headers.begin(), request.headers.end(), [](const auto& h) { return iequals(h.first, "host"); });
    if (!has_host) out += "Host: " + url.authority() + "\r\n";
    bool has_user_agent = false;
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || has_ctl_or_space(name) || name.find(':') != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        throw TransportError("bad request header \"" + name + "\"");
      }
      has_user_agent = has_user_agent || iequals(name, "user-agent");
      out += name + ": " + value + "\r\n";
    }
    if (!has_user_agent && !options.user_agent.empty()) out += "User-Agent: " + options.user_agent + "\r\n";
    if (proxy != nullptr && absolute_form && !proxy->authorization.empty()) {
      out += "Proxy-Authorization: " + proxy->authorization + "\r\n";
    }
    if (sends_body) out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    out += "\r\n";
    if (sends_body) out += request.body;
    return out;
  }

  // One request on one connection; follows no redirect. `on_head` sees the final header and
  // returns where the body goes (nullptr: drained, the answer is a redirect about to be followed).
  // `received` gets the header as soon as it is complete (a failure after it keeps it).
  Head exchange(const Request& request, const Url& url, const Deadline& deadline,
                const std::function<std::function<void(std::string_view)>(const Head&)>& on_head, Head& received) {
    received = Head{};
    std::optional<Proxy> proxy;
    try {
      if (options.use_proxy) proxy = proxy_for(url.scheme, url.host);
    } catch (const Error& e) {
      throw TransportError(e.what());  // a proxy setting this client cannot use: no request is sent
    }
    bool absolute_form = proxy && url.scheme == "http";
    std::string key = absolute_form ? "proxy " + proxy->host + ":" + proxy->port
                                    : url.origin() + (proxy ? " via " + proxy->host + ":" + proxy->port : "");
    std::string wire = serialize(request, url, absolute_form, proxy ? &*proxy : nullptr);

    // A pooled connection the server closed meanwhile fails before its first answer byte: then,
    // and only then, the request is sent once more on a new connection.
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Connection> connection = attempt == 0 ? take_idle(key) : nullptr;
      bool reused = connection != nullptr;
      if (!connection) connection = open(url, proxy, request, deadline);
      auto reader = std::make_unique<ResponseReader>(request.method == "HEAD");
      std::string pending;
      bool answered = false;  // a whole header (an interim one too) arrived
      try {
        connection->write_all(wire, deadline);
        read_answer(*connection, *reader, pending, deadline, /*header_only=*/true);
        answered = true;
        while (reader->head().status / 100 == 1 && reader->head().status != 101) {  // interim: the answer follows
          reader = std::make_unique<ResponseReader>(request.method == "HEAD");
          read_answer(*connection, *reader, pending, deadline, /*header_only=*/true);
        }
      } catch (const TransportError&) {
        if (reused && !answered && pending.empty()) continue;
        throw;
      }
      received = reader->head();
      auto sink = on_head(reader->head());
      size_t drained = 0;
      reader->set_body_sink(sink ? sink : [&drained](std::string_view chunk) {
        drained += chunk.size();
        if (drained > kMaxRedirectBody) throw RedirectBodyTooLong{};
      });
      try {
        read_answer(*connection, *reader, pending, deadline, /*header_only=*/false);
      } catch (const RedirectBodyTooLong&) {
        return reader->head();  // not worth reading to keep the connection: it closes
      }
      if (reader->done() && reader->keep_alive() && pending.empty()) put_idle(key, std::move(connection));
      return reader->head();
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Client::~Client() = default;

Result Client::perform(const Request& original, const BodyHandler& on_body) {
  Deadline deadline;
  deadline.total = original.total_timeout;
  if (original.total_timeout.count() > 0) deadline.end = Clock::now() + original.total_timeout;
  deadline.stall = original.stall_timeout;

  Result result;
  Head received;
  try {
    Request request = original;
    Url url = parse_url(request.url);
    for (int redirects = 0;; ++redirects) {
      bool follow = false;
      std::string next;
      Head head = impl_->exchange(request, url, deadline, [&](const Head& h) -> std::function<void(std::string_view)> {
        std::string location = h.header("location");
        if (request.max_redirects > 0 && is_redirect(h.status) && !location.empty()) {
          follow = true;
          next = resolve_location(url, location);
          return nullptr;
        }
        return [&on_body, &h](std::string_view chunk) { on_body(h, chunk); };
      }, received);
      if (!follow) {
        result.head = std::move(head);
        return result;
      }
      if (redirects >= request.max_redirects) {
        throw TransportError("more than " + std::to_string(request.max_redirects) + " redirects");
      }
      Url next_url = parse_url(next);
      next_url.target = remove_dot_segments(next_url.target);
      if (next_url.origin() != url.origin()) {
        // Credentials are for the server they were given to (a registry's redirect to its
        // storage would otherwise hand that storage the registry's token).
        // A caller's Host names the old server too.
        std::erase_if(request.headers,
                      [](const auto& h) { return iequals(h.first, "authorization") || iequals(h.first, "host"); });
      }
      if (head.status == 303 || ((head.status == 301 || head.status == 302) && request.method == "POST")) {
        request.method = request.method == "HEAD" ? "HEAD" : "GET";
        request.body.clear();
      }
      url = std::move(next_url);
    }
  } catch (const TransportError& e) {
    result.head = std::move(received);
    result.error = e.what();
    result.os_errno = e.os_errno;
  }
  return result;
}

Client::Answer Client::perform_buffered(const Request& request, size_t max_body_bytes) {
  Answer answer;
  try {
    answer.result = perform(request, [&](const Head&, std::string_view chunk) {
      if (answer.body.size() + chunk.size() > max_body_bytes) throw BodyTooLarge{};
      answer.body.append(chunk);
    });
  } catch (const BodyTooLarge&) {
    answer.result = Result{};
    answer.body.clear();
    answer.result.error = "answer larger than " + std::to_string(max_body_bytes) + " bytes";
  }
  return answer;
}

}  // namespace vpcri::http
