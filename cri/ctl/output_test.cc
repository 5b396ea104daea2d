#include "cri/ctl/output.h"

#include <doctest/doctest.h>

#include <sstream>

#include "cri/api/cri_api.h"

using namespace vpcri::ctl;

namespace {
constexpr int64_t kSecond = 1000000000;
std::string ago(int64_t seconds) { return relative_time(1000 * kSecond, (1000 + seconds) * kSecond); }
}  // namespace

TEST_CASE("relative times read like crictl's") {
  CHECK(ago(-5) == "Less than a second ago");  // clock skew
  CHECK(ago(0) == "Less than a second ago");
  CHECK(ago(1) == "1 second ago");
  CHECK(ago(59) == "59 seconds ago");
  CHECK(ago(60) == "About a minute ago");
  CHECK(ago(119) == "About a minute ago");
  CHECK(ago(120) == "2 minutes ago");
  CHECK(ago(59 * 60) == "59 minutes ago");
  CHECK(ago(60 * 60) == "About an hour ago");
  CHECK(ago(89 * 60) == "About an hour ago");
  CHECK(ago(90 * 60) == "2 hours ago");  // hours are rounded
  CHECK(ago(47 * 3600) == "47 hours ago");
  CHECK(ago(48 * 3600) == "2 days ago");
  CHECK(ago(13 * 86400) == "13 days ago");
  CHECK(ago(14 * 86400) == "2 weeks ago");
  CHECK(ago(60 * 86400) == "2 months ago");
  CHECK(ago(730 * 86400) == "2 years ago");
  CHECK(relative_time(0, 500000000) == "Less than a second ago");
}

TEST_CASE("ids are truncated to 13 characters unless asked not to") {
  CHECK(truncate_id("0123456789abcdef0123", false) == "0123456789abc");
  CHECK(truncate_id("sha256:0123456789abcdef", false) == "0123456789abc");
  CHECK(truncate_id("abc", false) == "abc");
  CHECK(truncate_id("0123456789abcdef0123", true) == "0123456789abcdef0123");
}

TEST_CASE("CPU % between two samples") {
  CHECK(cpu_percent(0, 0, 500000000, kSecond) == "50.00");
  CHECK(cpu_percent(1000, kSecond, 1000 + 2 * kSecond, 2 * kSecond) == "200.00");
  CHECK(cpu_percent(5, kSecond, 5, 2 * kSecond) == "0.00");
  CHECK(cpu_percent(0, kSecond, 10, kSecond) == "-");  // same sample time
  CHECK(cpu_percent(10, 0, 5, kSecond) == "-");        // counter went back (a restart)
}

TEST_CASE("inspect output: status plus each info value, parsed when it is JSON") {
  runtime::v1::ContainerStatusResponse resp;
  resp.mutable_status()->set_id("abc");
  (*resp.mutable_info())["info"] = R"({"pid": 42})";
  (*resp.mutable_info())["note"] = "not json";
  std::string out = status_with_info(resp.status(), resp.info());
  CHECK(out.find("\"status\": {") != std::string::npos);
  CHECK(out.find("\"id\": \"abc\"") != std::string::npos);
  CHECK(out.find("\"info\": {\n    \"pid\": 42\n  }") != std::string::npos);
  CHECK(out.find("\"note\": \"not json\"") != std::string::npos);
}
