#include "runtime/image/oci.h"

#include <doctest/doctest.h>

#include "common/error.h"
#include "runtime/image/digest.h"

using namespace vpcri::runtime::image;
using vpcri::Errc;
using vpcri::Error;

namespace {
const std::string kA = sha256_digest("a");
const std::string kB = sha256_digest("b");
const std::string kC = sha256_digest("c");

std::string index_json() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kA + R"(","size":10,
     "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kC + R"(","size":5,
     "platform":{"os":"unknown","architecture":"unknown"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kB + R"(","size":11,
     "platform":{"os":"linux","architecture":"amd64"}, "annotations":{"x":"y"}}]})";
}
}  // namespace

TEST_CASE("runtime-image: index and manifest documents are told apart") {
  CHECK(classify_document(index_json(), "", "t") == DocumentKind::index);
  CHECK(classify_document(R"({"schemaVersion":2,"config":{},"layers":[]})",
                          "application/vnd.docker.distribution.manifest.v2+json", "t") == DocumentKind::manifest);
  CHECK(classify_document(R"({"schemaVersion":2,"manifests":[]})", "application/json", "t") == DocumentKind::index);
  CHECK_THROWS_AS(classify_document(R"({"schemaVersion":1,"fsLayers":[]})", "", "t"), Error);
  CHECK_THROWS_AS(classify_document("{not json", "", "t"), Error);
  CHECK_THROWS_AS(classify_document(R"({"mediaType":"text/html"})", "", "t"), Error);
}

TEST_CASE("runtime-image: the configured platform is picked from an index") {
  auto entries = parse_index(index_json(), "index");
  REQUIRE(entries.size() == 3);
  CHECK(pick_platform(entries, "linux", "amd64", "ref").digest == kB);
  CHECK(pick_platform(entries, "linux", "arm64", "ref").digest == kA);
  CHECK(entries[2].annotations.at("x") == "y");
  try {
    pick_platform(entries, "linux", "s390x", "docker.io/library/busybox:latest");
    FAIL("found a platform the index does not have");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    std::string msg = e.what();
    CHECK(msg.find("linux/s390x") != std::string::npos);
    CHECK(msg.find("available: linux/arm64/v8, linux/amd64") != std::string::npos);
    CHECK(msg.find("unknown") == std::string::npos);
  }
}

TEST_CASE("runtime-image: manifests and configs are parsed and checked") {
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + kA + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kB + R"(","size":9},
              {"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" + kC + R"(","size":3}]})";
  ManifestDoc m = parse_manifest(manifest, "m");
  CHECK(m.config.digest == kA);
  CHECK(m.config.size == 7);
  REQUIRE(m.layers.size() == 2);
  CHECK(m.layers[1].digest == kC);

  CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:short","size":1},"layers":[]})", "m"),
                  Error);
  CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"digest":")" + kA + R"(","size":-1},"layers":[]})", "m"),
                  Error);
  CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":")" +
                                     kA + R"(","size":1},"layers":[]})",
                                 "m"),
                  Error);
  CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"digest":")" + kA +
                                     R"(","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+encrypted","digest":")" +
                                     kB + R"(","size":1}]})",
                                 "m"),
                  Error);
  CHECK_THROWS_AS(parse_manifest("[]", "m"), Error);

  std::string config = R"({"architecture":"amd64","os":"linux","config":{"User":"1000","Env":["A=1","B=2"],
    "Entrypoint":["/bin/sh"],"Cmd":null,"WorkingDir":"/w","Labels":{"l":"v"},"StopSignal":"SIGINT",
    "Volumes":{"/v1":{},"/v2":{}}},"rootfs":{"type":"layers","diff_ids":[")" + kB + R"("]}})";
  ParsedConfig c = parse_config(config, "c");
  CHECK(c.os == "linux");
  CHECK(c.architecture == "amd64");
  CHECK(c.config.user == "1000");
  CHECK(c.config.env == std::vector<std::string>{"A=1", "B=2"});
  CHECK(c.config.entrypoint == std::vector<std::string>{"/bin/sh"});
  CHECK(c.config.cmd.empty());
  CHECK(c.config.working_dir == "/w");
  CHECK(c.config.labels.at("l") == "v");
  CHECK(c.config.stop_signal == "SIGINT");
  CHECK(c.config.volumes == std::vector<std::string>{"/v1", "/v2"});
  CHECK(c.diff_ids == std::vector<std::string>{kB});
  CHECK_THROWS_AS(parse_config(R"({"config":{}})", "c"), Error);  // no rootfs
  CHECK_THROWS_AS(parse_config(R"({"rootfs":{"diff_ids":["sha256:x"]}})", "c"), Error);
  CHECK_THROWS_AS(parse_config(R"({"config":{"Env":"A=1"},"rootfs":{"diff_ids":[]}})", "c"), Error);

  Descriptor cfg{"application/vnd.oci.image.config.v1+json", kA, 7, {}, {}, {}, {}};
  Descriptor layer{"application/vnd.oci.image.layer.v1.tar", kB, 9, {}, {}, {}, {}};
  ManifestDoc made = parse_manifest(make_manifest(cfg, {layer}), "made");
  CHECK(made.config.digest == kA);
  REQUIRE(made.layers.size() == 1);
  CHECK(made.layers[0].size == 9);
}
