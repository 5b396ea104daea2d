#include "cri/ctl/cri_log.h"

#include <doctest/doctest.h>

using namespace vpcri::ctl;

TEST_CASE("a CRI log line is parsed") {
  auto l = parse_log_line("2024-05-01T10:00:00.123456789Z stdout F hello world");
  REQUIRE(l);
  CHECK(l->timestamp == "2024-05-01T10:00:00.123456789Z");
  CHECK(l->stream == Stream::out);
  CHECK_FALSE(l->partial);
  CHECK(l->message == "hello world");

  l = parse_log_line("2024-05-01T10:00:00Z stderr P part");
  REQUIRE(l);
  CHECK(l->stream == Stream::err);
  CHECK(l->partial);
  CHECK(l->message == "part");

  // Tags may carry more after ':'; an empty message may end right after the tag.
  l = parse_log_line("t stdout F:x ");
  REQUIRE(l);
  CHECK(l->message.empty());
  l = parse_log_line("t stdout F");
  REQUIRE(l);
  CHECK(l->message.empty());
  // Spaces in the message are kept.
  CHECK(parse_log_line("t stdout F  two  spaces ")->message == " two  spaces ");
}

TEST_CASE("malformed lines are refused") {
  CHECK_FALSE(parse_log_line(""));
  CHECK_FALSE(parse_log_line("no-spaces"));
  CHECK_FALSE(parse_log_line("t stdout"));
  CHECK_FALSE(parse_log_line("t stdin F x"));
  CHECK_FALSE(parse_log_line("t stdout X x"));
  CHECK_FALSE(parse_log_line(" stdout F x"));
}

TEST_CASE("partial lines are joined per stream, with the first piece's timestamp") {
  LogReader r;
  auto e = r.feed(
      "t1 stdout P hel\n"
      "t2 stderr P oo\n"
      "t3 stdout F lo\n"
      "t4 stderr F ps\n"
      "t5 stdout F \n");
  REQUIRE(e.size() == 3);
  CHECK(e[0].timestamp == "t1");
  CHECK(e[0].stream == Stream::out);
  CHECK(e[0].text == "hello\n");
  CHECK(e[1].timestamp == "t2");
  CHECK(e[1].stream == Stream::err);
  CHECK(e[1].text == "oops\n");
  CHECK(e[2].text == "\n");
  CHECK(r.malformed() == 0);
}

TEST_CASE("bytes may arrive in any pieces; malformed lines are counted and skipped") {
  LogReader r;
  CHECK(r.feed("t1 stdout F a").empty());
  CHECK(r.feed("b\nt2 std").size() == 1);
  CHECK(r.feed("out P c\n").empty());  // partial, waits for its end
  auto e = r.feed("garbage\nt3 stdout F d\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].timestamp == "t2");
  CHECK(e[0].text == "cd\n");
  CHECK(r.malformed() == 1);
}
