// Pure helpers of the registry client: challenge parsing, base64, digests, URL pieces.
#include <doctest/doctest.h>

#include "common/error.h"
#include "runtime/registry/digest.h"
#include "runtime/registry/http.h"
#include "runtime/registry/www_authenticate.h"

using namespace vpcri::runtime::registry;

TEST_CASE("bearer challenge as Docker Hub sends it") {
  auto challenges = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "bearer");
  CHECK(challenges[0].param("realm") == "https://auth.docker.io/token");
  CHECK(challenges[0].param("service") == "registry.docker.io");
  CHECK(challenges[0].param("scope") == "repository:library/busybox:pull");
  CHECK(challenges[0].param("error").empty());
}

TEST_CASE("basic challenge, case-insensitive scheme and names, spaces") {
  auto challenges = parse_www_authenticate(R"(BASIC  Realm = "Registry Realm" )");
  REQUIRE(challenges.size() == 1);
  CHECK(challenges[0].scheme == "basic");
  CHECK(challenges[0].param("realm") == "Registry Realm");
}

TEST_CASE("several challenges in one header, quoted commas and escapes, token values") {
  auto challenges = parse_www_authenticate(
      R"(Bearer realm="https://a/t",scope="repository:x:pull,push", error=insufficient_scope, Basic realm="q\"uote")");
  REQUIRE(challenges.size() == 2);
  CHECK(challenges[0].param("scope") == "repository:x:pull,push");
  CHECK(challenges[0].param("error") == "insufficient_scope");
  CHECK(challenges[1].scheme == "basic");
  CHECK(challenges[1].param("realm") == "q\"uote");
}

TEST_CASE("malformed challenges do not throw") {
  CHECK(parse_www_authenticate("").empty());
  CHECK(parse_www_authenticate(R"(realm="x")").empty());  // parameters without a scheme
  auto unterminated = parse_www_authenticate(R"(Bearer realm="https://a)");
  REQUIRE(unterminated.size() == 1);
  CHECK(unterminated[0].param("realm") == "https://a");
  auto token68 = parse_www_authenticate("Negotiate abc==");
  REQUIRE(token68.size() == 1);
  CHECK(token68[0].scheme == "negotiate");
}

TEST_CASE("base64 round trip and rejects") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("user:pass word") == "dXNlcjpwYXNzIHdvcmQ=");
  CHECK(base64_decode("dXNlcjpwYXNzIHdvcmQ=") == std::optional<std::string>("user:pass word"));
  CHECK(base64_decode("Zm8") == std::optional<std::string>("fo"));  // padding optional
  CHECK(base64_decode("Zm9v\n") == std::optional<std::string>("foo"));
  std::string binary("\x00\xff\x10\x80", 4);
  CHECK(base64_decode(base64_encode(binary)) == std::optional<std::string>(binary));
  CHECK_FALSE(base64_decode("Zm9v!").has_value());
  CHECK_FALSE(base64_decode("Zg==Zg").has_value());  // data after padding
  CHECK_FALSE(base64_decode("Z").has_value());       // 6 dangling bits
}

TEST_CASE("digests") {
  CHECK(digest_of("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest_of("abc", "sha512") ==
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
        "454d4423643ce80e2a9ac94fa54ca49f");
  DigestHasher hasher;
  hasher.update("a");
  hasher.update("bc");
  CHECK(hasher.finish() == digest_of("abc"));
  CHECK(is_valid_digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK_FALSE(is_valid_digest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  CHECK_FALSE(is_valid_digest("sha256:e3b0"));
  CHECK_FALSE(is_valid_digest("md5:d41d8cd98f00b204e9800998ecf8427e"));
  CHECK_FALSE(is_valid_digest("latest"));
  CHECK_THROWS_AS(DigestHasher("md5"), vpcri::Error);
}

TEST_CASE("url helpers") {
  CHECK(http::host_of("https://registry-1.docker.io/v2/x") == "registry-1.docker.io");
  CHECK(http::host_of("http://user:pw@127.0.0.1:5000?x") == "127.0.0.1:5000");
  CHECK(http::host_of("http://[::1]:5000/") == "[::1]:5000");
  CHECK(http::url_encode("repository:library/busybox:pull") == "repository%3Alibrary%2Fbusybox%3Apull");
  CHECK(http::url_encode("a-b_c.d~e f") == "a-b_c.d~e%20f");
}
