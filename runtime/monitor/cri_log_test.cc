// The CRI log record splitting of vpcri-monitor, without processes: bytes in, records out.
#include "runtime/monitor/cri_log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/fd.h"

namespace {

// A log file in a memfd, and a stream that feeds it.
struct Fixture {
  vpcri::UniqueFd fd{::memfd_create("cri-log", MFD_CLOEXEC)};
  std::vector<char> buf;
  cri_log log{};
  cri_stream stream{};

  explicit Fixture(size_t max_line) : buf(max_line + 1) {
    REQUIRE(fd);
    log = {fd.get(), max_line};
    stream = {"stdout", buf.data(), 0};
  }

  void feed(const std::string& data, bool eof = false) {
    size_t pos = 0;
    do {  // like read(): never more than the room left
      size_t n = std::min(cri_stream_room(&log, &stream), data.size() - pos);
      std::copy(data.begin() + static_cast<long>(pos), data.begin() + static_cast<long>(pos + n), cri_stream_space(&stream));
      pos += n;
      REQUIRE(cri_log_consume(&log, &stream, n, eof && pos == data.size(), "TS") == 0);
    } while (pos < data.size());
  }

  std::string contents() const {
    std::string out(static_cast<size_t>(::lseek(fd.get(), 0, SEEK_END)), '\0');
    REQUIRE(::pread(fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
    return out;
  }
};

}  // namespace

TEST_CASE("complete lines become F records, an unfinished one waits for more") {
  Fixture f(16);
  f.feed("one\ntwo\nthr");
  CHECK(f.contents() == "TS stdout F one\nTS stdout F two\n");
  f.feed("ee\n\n");
  CHECK(f.contents() == "TS stdout F one\nTS stdout F two\nTS stdout F three\nTS stdout F \n");
}

TEST_CASE("a line longer than max_line is split into P records ending with an F record") {
  Fixture f(4);
  f.feed("abcdefghij\n");
  CHECK(f.contents() == "TS stdout P abcd\nTS stdout P efgh\nTS stdout F ij\n");
}

TEST_CASE("a line of exactly max_line bytes is one F record") {
  Fixture f(4);
  f.feed("abcd\nefgh");
  f.feed("\n");
  CHECK(f.contents() == "TS stdout F abcd\nTS stdout F efgh\n");
}

TEST_CASE("a stream ending without a newline ends with a P record") {
  Fixture f(16);
  f.feed("done\npartial", true);
  CHECK(f.contents() == "TS stdout F done\nTS stdout P partial\n");
  CHECK(f.stream.len == 0);
}

TEST_CASE("with no log file the output is consumed and dropped") {
  Fixture f(4);
  f.log.fd = -1;
  f.feed("abcdefgh\nxy", true);
  CHECK(f.stream.len == 0);
  CHECK(f.contents().empty());
}

TEST_CASE("a failing log write is reported and the text dropped") {
  Fixture f(16);
  f.log.fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(f.log.fd >= 0);
  const char data[] = "lost\n";
  std::copy(data, data + 5, cri_stream_space(&f.stream));
  CHECK(cri_log_consume(&f.log, &f.stream, 5, 0, "TS") == -ENOSPC);
  CHECK(f.stream.len == 0);
  ::close(f.log.fd);
}
