#include "common/http/test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/http_status.h"
#include "common/text.h"

extern char** environ;

namespace vpcri::http::test {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left(Clock::time_point deadline) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return d.count() < 0 ? 0ms : d;
}

}  // namespace

std::string ReceivedRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}

// ---- Connection ----

bool Connection::wait_readable(std::chrono::milliseconds timeout) {
  if (ssl_ && SSL_pending(ssl_) > 0) return true;
  pollfd fds[2] = {{fd_, POLLIN, 0}, {server_->stop_pipe_[0], POLLIN, 0}};
  auto deadline = Clock::now() + timeout;
  while (true) {
    int r = ::poll(fds, 2, static_cast<int>(left(deadline).count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (fds[1].revents) return false;
    return fds[0].revents != 0;
  }
}

long Connection::raw_read(char* buf, size_t size) {
  if (ssl_) {
    int n = SSL_read(ssl_, buf, static_cast<int>(size));
    if (n > 0) return n;
    int err = SSL_get_error(ssl_, n);
    ERR_clear_error();
    return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  while (true) {
    ssize_t n = ::recv(fd_, buf, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return static_cast<long>(n);
  }
}

long Connection::read_some(char* buf, size_t size, std::chrono::milliseconds timeout) {
  if (!buffer_.empty()) {
    size_t n = std::min(size, buffer_.size());
    std::memcpy(buf, buffer_.data(), n);
    buffer_.erase(0, n);
    return static_cast<long>(n);
  }
  if (!wait_readable(timeout)) return -1;
  return raw_read(buf, size);
}

std::optional<ReceivedRequest> Connection::read_request(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto fill = [&](auto done) {
    while (!done()) {
      if (!wait_readable(left(deadline))) return false;
      char buf[16384];
      long n = raw_read(buf, sizeof buf);
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  if (!fill([&] { return buffer_.find("\r\n\r\n") != std::string::npos; })) return std::nullopt;
  size_t end = buffer_.find("\r\n\r\n");
  ReceivedRequest req;
  req.connection = index_;
  req.head = buffer_.substr(0, end + 2);
  buffer_.erase(0, end + 4);

  std::istringstream lines(req.head);
  std::string line;
  std::getline(lines, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  {
    size_t a = line.find(' ');
    size_t b = line.rfind(' ');
    if (a == std::string::npos || b == a) return std::nullopt;
    req.method = line.substr(0, a);
    req.target = line.substr(a + 1, b - a - 1);
    req.version = line.substr(b + 1);
  }
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string name = line.substr(0, colon);
    std::string value = trim(std::string_view(line).substr(colon + 1));
    req.raw_headers.emplace_back(name, value);
    req.headers.emplace(to_lower(name), value);
  }

  if (to_lower(req.header("transfer-encoding")).find("chunked") != std::string::npos) {
    while (true) {
      if (!fill([&] { return buffer_.find("\r\n") != std::string::npos; })) return std::nullopt;
      size_t eol = buffer_.find("\r\n");
      size_t size = std::strtoul(buffer_.substr(0, eol).c_str(), nullptr, 16);
      buffer_.erase(0, eol + 2);
      if (size == 0) {
        // Trailers, then the blank line.
        while (true) {
          if (!fill([&] { return buffer_.find("\r\n") != std::string::npos; })) return std::nullopt;
          size_t e = buffer_.find("\r\n");
          buffer_.erase(0, e + 2);
          if (e == 0) break;
        }
        break;
      }
      if (!fill([&] { return buffer_.size() >= size + 2; })) return std::nullopt;
      req.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
    }
  } else if (auto cl = req.header("content-length"); !cl.empty()) {
    size_t size = std::strtoul(cl.c_str(), nullptr, 10);
    if (!fill([&] { return buffer_.size() >= size; })) return std::nullopt;
    req.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
  }
  last_method_ = req.method;
  server_->record(req);
  return req;
}

bool Connection::send(std::string_view data) {
  while (!data.empty()) {
    if (server_->stopping()) return false;
    long n;
    if (ssl_) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
    } else {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Connection::respond(int status, std::string_view body, std::string_view extra) {
  std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + http_reason_phrase(status) +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  answer += extra;
  answer += "\r\n";
  if (last_method_ != "HEAD") answer += body;
  return send(answer);
}

bool Connection::pause(std::chrono::milliseconds d) {
  pollfd pfd{server_->stop_pipe_[0], POLLIN, 0};
  auto deadline = Clock::now() + d;
  while (true) {
    int r = ::poll(&pfd, 1, static_cast<int>(left(deadline).count()));
    if (r < 0 && errno == EINTR) continue;
    return r == 0;
  }
}

bool Connection::wait_peer_close(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (!wait_readable(left(deadline))) return false;
    char buf[4096];
    long n = raw_read(buf, sizeof buf);
    if (n <= 0) return true;
  }
}

void Connection::close() {
  if (ssl_) {
    SSL_shutdown(ssl_);  // close_notify: an EOF-delimited body over TLS ends cleanly
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_RDWR);
}

// ---- LoopbackServer ----

LoopbackServer::LoopbackServer(Handler handler, Options options)
    : handler_(std::move(handler)), options_(std::move(options)) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  listener_ = ::socket(options_.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int r;
  if (options_.ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    r = ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    if (r == 0) r = ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin6_port);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    if (r == 0) r = ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  if (r != 0 || ::listen(listener_, 64) != 0) {
    int err = errno;
    ::close(listener_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    throw std::runtime_error(std::string("cannot listen on loopback: ") + std::strerror(err));
  }
  if (options_.tls) {
    ssl_ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_options(ssl_ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx_, options_.tls->cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl_ctx_, options_.tls->key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ssl_ctx_);
      ::close(listener_);
      ::close(stop_pipe_[0]);
      ::close(stop_pipe_[1]);
      throw std::runtime_error("cannot load the test certificate " + options_.tls->cert_file);
    }
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

LoopbackServer::~LoopbackServer() {
  stop();
  ::close(listener_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
}

std::string LoopbackServer::url(const std::string& path) const {
  return std::string(options_.tls ? "https://" : "http://") + authority() + path;
}

void LoopbackServer::stop() {
  if (stopping_.exchange(true)) {
    if (acceptor_.joinable()) acceptor_.join();
    return;
  }
  char byte = 1;
  (void)!::write(stop_pipe_[1], &byte, 1);
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void LoopbackServer::accept_loop() {
  // A peer that went away makes the server's writes fail with EPIPE, not kill the test: SIGPIPE
  // is blocked in the server's threads only (connection threads inherit this mask), so the
  // client under test gets no such protection from the test.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  while (!stopping_) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || fds[1].revents) break;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int index = ++accepts_;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        ::close(fd);
        break;
      }
      open_fds_.insert(fd);
    }
    threads_.emplace_back([this, fd, index] { run_connection(fd, index); });
  }
}

void LoopbackServer::run_connection(int fd, int index) {
  Connection c;
  c.server_ = this;
  c.fd_ = fd;
  c.index_ = index;
  bool ok = true;
  if (ssl_ctx_) {
    timeval tv{3, 0};  // a client that never finishes its handshake does not hold the thread
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c.ssl_ = SSL_new(ssl_ctx_);
    SSL_set_fd(c.ssl_, fd);
    if (SSL_accept(c.ssl_) != 1) {
      ERR_clear_error();
      ++tls_failures_;
      ok = false;
    }
    timeval zero{0, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
  }
  if (ok) {
    try {
      handler_(c);
    } catch (...) {
    }
    c.close();
  }
  if (c.ssl_) SSL_free(c.ssl_);
  {
    std::lock_guard lock(mutex_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    open_fds_.erase(fd);
    ++closed_connections_;
  }
  changed_.notify_all();
}

void LoopbackServer::record(const ReceivedRequest& request) {
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }
  changed_.notify_all();
}

std::vector<ReceivedRequest> LoopbackServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool LoopbackServer::wait_requests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool LoopbackServer::wait_closed_connections(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return closed_connections_ >= n; });
}

// ---- TestPki ----

TestPki::TestPki() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "vpcri-http-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  try {
    std::ofstream(dir_ + "/ca.cnf") << "[req]\ndistinguished_name = dn\nprompt = no\n"
                                       "[dn]\nCN = vpcri test CA\n"
                                       "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
                                       "keyUsage = critical,keyCertSign,cRLSign\n"
                                       "subjectKeyIdentifier = hash\n";
    ca_file_ = dir_ + "/ca.pem";
    ca_key_ = dir_ + "/ca.key";
    openssl({"req", "-x509", "-config", dir_ + "/ca.cnf", "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key_, "-out", ca_file_, "-days", "2"});
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

TestPki::Cert TestPki::issue(const std::string& name, const std::string& san, bool self_signed) {
  std::string base = dir_ + "/" + name;
  std::ofstream(base + ".cnf") << "[req]\ndistinguished_name = dn\nprompt = no\n"
                                  "[dn]\nCN = " << name << "\n"
                                  "[ext]\nbasicConstraints = CA:FALSE\n"
                                  "keyUsage = critical,digitalSignature\n"
                                  "extendedKeyUsage = serverAuth\n"
                                  "subjectAltName = " << san << "\n";
  Cert cert{base + ".pem", base + ".key"};
  if (self_signed) {
    openssl({"req", "-x509", "-config", base + ".cnf", "-extensions", "ext", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", cert.key_file, "-out", cert.cert_file, "-days", "2"});
  } else {
    openssl({"req", "-new", "-config", base + ".cnf", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", cert.key_file, "-out", base + ".csr"});
    openssl({"x509", "-req", "-in", base + ".csr", "-CA", ca_file_, "-CAkey", ca_key_, "-set_serial",
             std::to_string(++serial_), "-days", "2", "-extfile", base + ".cnf", "-extensions", "ext", "-out",
             cert.cert_file});
  }
  return cert;
}

void TestPki::openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::string log = dir_ + "/openssl.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  int err = posix_spawnp(&pid, "openssl", &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw std::runtime_error(std::string("cannot run openssl: ") + std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error("openssl " + args[0] + " failed: " + text.str());
  }
}

SharedPki::SharedPki()
    : ip(pki.issue("ip", "IP:127.0.0.1,IP:::1")),
      localhost(pki.issue("localhost", "DNS:localhost")),
      other(pki.issue("other", "IP:127.0.0.2,DNS:other.test")),
      selfsigned(pki.issue("selfsigned", "IP:127.0.0.1", true)) {}

SharedPki& shared_pki() {
  static SharedPki pki;
  return pki;
}

// ---- TestProxy ----

namespace {

int connect_loopback(const std::string& host, int port) {
  bool v6 = host == "::1";
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int r;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (r != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TestProxy::TestProxy(Options options) : options_(options) {
  server_ = std::make_unique<LoopbackServer>([this](Connection& c) {
    while (auto req = c.read_request()) {
      if (req->method != "CONNECT") {
        c.respond(200, "proxied " + req->method + " " + req->target);
        continue;
      }
      if (options_.connect_status != 200) {
        c.respond(options_.connect_status, "refused", "Connection: close\r\n");
        return;
      }
      std::string host;
      std::string port;
      const std::string& t = req->target;
      if (!t.empty() && t[0] == '[') {
        size_t close = t.find(']');
        host = t.substr(1, close - 1);
        port = t.substr(close + 2);
      } else {
        host = t.substr(0, t.rfind(':'));
        port = t.substr(t.rfind(':') + 1);
      }
      int up = -1;
      if (host == "127.0.0.1" || host == "::1") up = connect_loopback(host, std::atoi(port.c_str()));
      if (up < 0) {
        c.respond(502, "cannot connect", "Connection: close\r\n");
        return;
      }
      c.send("HTTP/1.1 200 Connection established\r\n\r\n");
      // Relay both ways until either side closes or the server stops.
      char buf[16384];
      bool open = true;
      while (open) {
        long n = c.read_some(buf, sizeof buf, 0ms);  // what was buffered with the CONNECT, if any
        if (n > 0) {
          if (::send(up, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
          continue;
        }
        pollfd fds[2] = {{c.fd(), POLLIN, 0}, {up, POLLIN, 0}};
        int r = ::poll(fds, 2, 100);
        if (c.server().stopping()) break;
        if (r <= 0) continue;
        if (fds[0].revents) {
          n = ::recv(c.fd(), buf, sizeof buf, 0);
          if (n <= 0 || ::send(up, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) open = false;
        }
        if (open && fds[1].revents) {
          n = ::recv(up, buf, sizeof buf, 0);
          if (n <= 0 || !c.send(std::string_view(buf, static_cast<size_t>(n)))) open = false;
        }
      }
      ::close(up);
      return;
    }
  });
}

// ---- environment ----

namespace {
const char* const kProxyVars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                  "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
}

ProxyEnv::ProxyEnv() {
  for (const char* name : kProxyVars) {
    const char* v = ::getenv(name);
    saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
    ::unsetenv(name);
  }
}

ProxyEnv::~ProxyEnv() {
  for (auto& [name, value] : saved_) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
}

void ProxyEnv::set(const std::string& name, const std::string& value) { ::setenv(name.c_str(), value.c_str(), 1); }

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string basic_auth(std::string_view in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                 static_cast<unsigned char>(in[i + 2]);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += '=';
  }
  return "Basic " + out;
}

}  // namespace vpcri::http::test
