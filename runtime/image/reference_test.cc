#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/image/image_manager.h"

using vpcri::Errc;
using vpcri::Error;
using vpcri::runtime::image::parse_reference;
using vpcri::runtime::image::Reference;

namespace {

const std::string kHex = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

struct Valid {
  std::string input, domain, repository, tag, digest, normalized;
};

// Returns the error message, failing the check unless parsing throws invalid_argument.
std::string parse_error(const std::string& input) {
  try {
    Reference r = parse_reference(input);
    FAIL_CHECK("accepted invalid reference \"" << input << "\" as " << r.to_string());
  } catch (const Error& e) {
    CHECK_MESSAGE(e.code() == Errc::invalid_argument, input);
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("runtime-image: references normalize as docker and containerd do") {
  const std::vector<Valid> cases = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
      {"a/b/c", "docker.io", "a/b/c", "latest", "", "docker.io/a/b/c:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000/x", "localhost:5000", "x", "latest", "", "localhost:5000/x:latest"},
      {"127.0.0.1:5000/a/b:tag", "127.0.0.1:5000", "a/b", "tag", "", "127.0.0.1:5000/a/b:tag"},
      {"registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "", "registry.k8s.io/pause:3.9"},
      {"quay.io/org/app:v1.2.3-rc_1", "quay.io", "org/app", "v1.2.3-rc_1", "", "quay.io/org/app:v1.2.3-rc_1"},
      {"myhost:5000/app", "myhost:5000", "app", "latest", "", "myhost:5000/app:latest"},
      {"[::1]:5000/app:x", "[::1]:5000", "app", "x", "", "[::1]:5000/app:x"},
      {"Registry.Example.COM/app", "Registry.Example.COM", "app", "latest", "", "Registry.Example.COM/app:latest"},
      {"Host/app", "Host", "app", "latest", "", "Host/app:latest"},  // uppercase first part: a host
      {"name@sha256:" + kHex, "docker.io", "library/name", "", "sha256:" + kHex,
       "docker.io/library/name@sha256:" + kHex},
      {"name:tag@sha256:" + kHex, "docker.io", "library/name", "tag", "sha256:" + kHex,
       "docker.io/library/name:tag@sha256:" + kHex},
      {"127.0.0.1:5000/a@sha256:" + kHex, "127.0.0.1:5000", "a", "", "sha256:" + kHex,
       "127.0.0.1:5000/a@sha256:" + kHex},
      {"a_b/c__d/e--f/g.h-i", "docker.io", "a_b/c__d/e--f/g.h-i", "latest", "", "docker.io/a_b/c__d/e--f/g.h-i:latest"},
      {"busybox:_x", "docker.io", "library/busybox", "_x", "", "docker.io/library/busybox:_x"},
      {"busybox:UPPER.case-ok", "docker.io", "library/busybox", "UPPER.case-ok", "",
       "docker.io/library/busybox:UPPER.case-ok"},
      // Like docker: without a '/', "localhost:5000" is repository "localhost" with tag "5000".
      {"localhost:5000", "docker.io", "library/localhost", "5000", "", "docker.io/library/localhost:5000"},
      {"busybox:" + std::string(128, 'a'), "docker.io", "library/busybox", std::string(128, 'a'), "",
       "docker.io/library/busybox:" + std::string(128, 'a')},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    Reference r = parse_reference(c.input);
    CHECK(r.domain == c.domain);
    CHECK(r.repository == c.repository);
    CHECK(r.tag == c.tag);
    CHECK(r.digest == c.digest);
    CHECK(r.to_string() == c.normalized);
    CHECK(r.name() == c.domain + "/" + c.repository);
    // Normalizing is idempotent.
    CHECK(parse_reference(r.to_string()).to_string() == c.normalized);
  }
}

TEST_CASE("runtime-image: invalid references are rejected with a clear message") {
  const std::vector<std::string> invalid = {
      "",
      "Busybox",
      "docker.io/Library/busybox",
      "user/App",
      "busybox:",
      ":tag",
      "::",
      "bus box",
      "busybox:tag with space",
      std::string("busy\0box", 8),
      "busybox@sha256:abc",
      "busybox@sha256:" + kHex.substr(1),
      "busybox@sha256:" + kHex + "0",
      "busybox@sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
      "busybox@sha512:" + kHex + kHex,
      "busybox@",
      "busybox@latest",
      "/busybox",
      "busybox/",
      "a//b",
      "a/-b",
      "a/b-",
      "a/b._c",
      "a/.b",
      "busybox:.tag",
      "busybox:-tag",
      "busybox:" + std::string(129, 'a'),
      kHex,
      "localhost:abc/x",
      "-host.com/x",
      "host-.com/x",
      "[zz]:5000/x",
      "a:b:c",
      "busybox:tag@sha256:" + kHex + "@x",
      "example.com/" + std::string(250, 'a'),
      "ünïcode",
  };
  for (const auto& input : invalid) {
    std::string msg = parse_error(input);
    CHECK_MESSAGE(msg.find("invalid image reference") != std::string::npos, msg);
  }
}

TEST_CASE("runtime-image: reference errors say what is wrong") {
  CHECK(parse_error("docker.io/Library/busybox").find("must be lowercase") != std::string::npos);
  CHECK(parse_error("").find("empty") != std::string::npos);
  CHECK(parse_error("busybox@sha256:abc").find("64 lowercase hex") != std::string::npos);
  CHECK(parse_error("busybox@sha512:" + kHex).find("only sha256") != std::string::npos);
  CHECK(parse_error(kHex).find("image id") != std::string::npos);
  CHECK(parse_error("busybox:-x").find("tag") != std::string::npos);
  // Control bytes are shown escaped, never raw.
  std::string msg = parse_error(std::string("a\0b", 3));
  CHECK(msg.find("a\\x00b") != std::string::npos);
  CHECK(msg.find('\0') == std::string::npos);
}
