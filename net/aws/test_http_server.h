// Test support: a real HTTP/1.1 server on 127.0.0.1 in the test process. One thread answers one
// connection at a time with whatever the test's handler returns, and records every request, so
// a test can assert exactly what a client sent. Each answer closes its connection.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "net/aws/http_transport.h"

namespace vpcri::net::aws::test {

struct RecordedRequest {
  std::string method;
  std::string target;                          // "/path?query"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const;
  // The body as application/x-www-form-urlencoded, decoded.
  std::map<std::string, std::string> form() const;
};

struct CannedResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang_up = false;  // close the connection without answering: a transport failure
};

class TestHttpServer {
 public:
  using Handler = std::function<CannedResponse(const RecordedRequest&)>;
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"
  std::vector<RecordedRequest> requests() const;
  void set_handler(Handler handler);

 private:
  void serve();
  void handle(int connection);

  UniqueFd listener_;
  UniqueFd stop_read_, stop_write_;
  int port_ = 0;
  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

HttpRequest make_request(std::string method, std::string url, std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {});

// "a%20b+c" → "a b c" (form decoding).
std::string form_decode(const std::string& text);

}  // namespace vpcri::net::aws::test
