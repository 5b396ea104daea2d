#include "cri/streaming/websocket.h"

#include <doctest/doctest.h>

using namespace vpcri::streaming::websocket;

namespace {

// Feeds `bytes` to a server's parser and returns the first message (or throws).
std::optional<Message> parse_one(const std::string& bytes, size_t max = 1 << 20) {
  Parser p(true, max);
  p.feed(bytes);
  return p.next();
}

uint16_t close_code_of(const std::string& bytes, size_t max = 1 << 20) {
  try {
    parse_one(bytes, max);
  } catch (const ProtocolError& e) {
    return e.code;
  }
  return 0;
}

}  // namespace

TEST_CASE("websocket: the accept key of RFC 6455's example") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket: a masked client frame is unmasked; byte by byte works too") {
  std::string f = frame(Opcode::binary, std::string("\x01hello", 6), true, 0x37fa213d);
  CHECK(f.substr(0, 2) == std::string("\x82\x86", 2));
  auto m = parse_one(f);
  REQUIRE(m);
  CHECK(m->opcode == Opcode::binary);
  CHECK(m->payload == std::string("\x01hello", 6));

  Parser p(true, 1 << 20);
  for (size_t i = 0; i + 1 < f.size(); i++) {
    p.feed(f.substr(i, 1));
    CHECK_FALSE(p.next());
  }
  p.feed(f.substr(f.size() - 1));
  auto whole = p.next();
  REQUIRE(whole);
  CHECK(whole->payload == std::string("\x01hello", 6));
}

TEST_CASE("websocket: the RFC's unmasked and masked 'Hello' examples") {
  Parser client_side(false, 1024);
  client_side.feed(std::string("\x81\x05\x48\x65\x6c\x6c\x6f", 7));
  auto m = client_side.next();
  REQUIRE(m);
  CHECK(m->opcode == Opcode::text);
  CHECK(m->payload == "Hello");
  m = parse_one(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  REQUIRE(m);
  CHECK(m->payload == "Hello");
}

TEST_CASE("websocket: fragments are joined, with a ping between them") {
  std::string bytes = frame(Opcode::text, "Hel", false, 1) + frame(Opcode::ping, "p", true, 2) +
                      frame(Opcode::continuation, "lo", true, 3);
  Parser p(true, 1024);
  p.feed(bytes);
  auto ping = p.next();
  REQUIRE(ping);
  CHECK(ping->opcode == Opcode::ping);
  CHECK(ping->payload == "p");
  auto text = p.next();
  REQUIRE(text);
  CHECK(text->opcode == Opcode::text);
  CHECK(text->payload == "Hello");
  CHECK_FALSE(p.next());
}

TEST_CASE("websocket: 16- and 64-bit lengths both ways") {
  std::string medium(300, 'm'), large(70000, 'L');
  for (const std::string* s : {&medium, &large}) {
    auto m = parse_one(frame(Opcode::binary, *s, true, 0x01020304));
    REQUIRE(m);
    CHECK(m->payload == *s);
  }
  CHECK(static_cast<uint8_t>(frame(Opcode::binary, medium)[1]) == 126);
  CHECK(static_cast<uint8_t>(frame(Opcode::binary, large)[1]) == 127);
}

TEST_CASE("websocket: frames that break the rules are refused with the right close code") {
  CHECK(close_code_of(frame(Opcode::binary, "x")) == kCloseProtocolError);                 // unmasked from a client
  CHECK(close_code_of(std::string("\xc2\x80\0\0\0\0", 6)) == kCloseProtocolError);          // RSV1 set
  CHECK(close_code_of(std::string("\x83\x80\0\0\0\0", 6)) == kCloseProtocolError);          // opcode 3
  CHECK(close_code_of(frame(Opcode::ping, "x", false, 1)) == kCloseProtocolError);          // fragmented control
  CHECK(close_code_of(frame(Opcode::ping, std::string(126, 'x'), true, 1)) == kCloseProtocolError);
  CHECK(close_code_of(frame(Opcode::continuation, "x", true, 1)) == kCloseProtocolError);   // nothing to continue
  CHECK(close_code_of(frame(Opcode::text, "a", false, 1) + frame(Opcode::text, "b", true, 1)) == kCloseProtocolError);
  CHECK(close_code_of(frame(Opcode::binary, std::string(2000, 'x'), true, 1), 1024) == kCloseTooBig);
  // Oversized by fragments, and by a declared 64-bit length before any payload arrives.
  CHECK(close_code_of(frame(Opcode::binary, std::string(600, 'x'), false, 1) +
                          frame(Opcode::continuation, std::string(600, 'x'), true, 1),
                      1024) == kCloseTooBig);
  CHECK(close_code_of(std::string("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10)) == kCloseTooBig);
  CHECK(close_code_of(std::string("\x82\xff\x80\0\0\0\0\0\0\0", 10)) == kCloseProtocolError);  // top bit
  Parser client_side(false, 1024);
  client_side.feed(frame(Opcode::binary, "x", true, 5));
  CHECK_THROWS_AS(client_side.next(), ProtocolError);  // a masked frame from a server
}

TEST_CASE("websocket: close payload carries the code and a bounded reason") {
  std::string p = close_payload(kCloseTooBig, std::string(200, 'r'));
  CHECK(p.size() == 125);
  CHECK(static_cast<uint8_t>(p[0]) == 0x03);
  CHECK(static_cast<uint8_t>(p[1]) == 0xf1);
}
