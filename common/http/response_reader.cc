#include "common/http/response_reader.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>

#include "common/http/connection.h"
#include "common/text.h"

namespace vpcri::http::detail {

namespace beast = boost::beast;
using beast::string_view;
using boost::system::error_code;

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;  // registries send a few hundred bytes

class ResponseReader::Parser : public beast::http::basic_parser<false> {
 public:
  explicit Parser(ResponseReader& owner) : owner_(owner) {
    // Blobs are as large as they are; the caller limits what it keeps. Not boost::none: Boost
    // 1.74 compares a Content-Length against an empty limit as if it were exceeded.
    body_limit(std::numeric_limits<std::uint64_t>::max());
    header_limit(kMaxHeaderBytes);
  }

  std::exception_ptr sink_failure;

 private:
  void on_request_impl(beast::http::verb, string_view, string_view, int, error_code&) override {}

  void on_response_impl(int code, string_view, int, error_code&) override { owner_.head_.status = code; }

  void on_field_impl(beast::http::field, string_view name, string_view value, error_code&) override {
    owner_.head_.headers.emplace(to_lower(std::string_view(name.data(), name.size())),
                                 trim(std::string_view(value.data(), value.size())));
  }

  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}

  size_t on_body_impl(string_view body, error_code& ec) override { return deliver(body, ec); }

  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override { return deliver(body, ec); }

  void on_finish_impl(error_code&) override {}

  size_t deliver(string_view body, error_code& ec) {
    if (!owner_.sink_ || body.empty()) return body.size();
    try {
      owner_.sink_(std::string_view(body.data(), body.size()));
    } catch (...) {
      // Beast is not told about exceptions: it stops on an error code, and feed() rethrows.
      sink_failure = std::current_exception();
      ec = beast::http::error::bad_alloc;  // any error stops the parse; the exception is what counts
      return 0;
    }
    return body.size();
  }

  ResponseReader& owner_;
};

ResponseReader::ResponseReader(bool head_request) : parser_(std::make_unique<Parser>(*this)) {
  if (head_request) parser_->skip(true);
}

ResponseReader::~ResponseReader() = default;

size_t ResponseReader::feed(std::string_view bytes) {
  error_code ec;
  size_t used = parser_->put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (parser_->sink_failure) std::rethrow_exception(std::exchange(parser_->sink_failure, nullptr));
  if (ec == beast::http::error::need_more) return used;
  if (ec) throw TransportError("malformed HTTP answer: " + ec.message());
  return used;
}

void ResponseReader::finish_at_eof() {
  if (!parser_->got_some()) throw TransportError("connection closed before an answer");
  error_code ec;
  parser_->put_eof(ec);
  if (ec) throw TransportError("connection closed in the middle of the answer");
}

bool ResponseReader::header_done() const { return parser_->is_header_done(); }
bool ResponseReader::done() const { return parser_->is_done(); }
bool ResponseReader::keep_alive() const { return parser_->keep_alive(); }

void ResponseReader::set_body_sink(std::function<void(std::string_view)> sink) { sink_ = std::move(sink); }

}  // namespace vpcri::http::detail
