// The command, environment and user rules of a container start.
#include "runtime/container/command.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"

using namespace vpcri::runtime::container;
using Strings = std::vector<std::string>;

namespace {

struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/vpcri-command-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    vpcri::fs::mkdir_p(path + "/etc");
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const { vpcri::fs::write_file_atomic(path + name, text); }
};

const char* const kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "broken line\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n"
    "nohome:x:1002:1002::::\n";
const char* const kGroup =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "audio:x:29:app\n"
    "app:x:1001:\n"
    "staff:x:50:\n";

}  // namespace

TEST_CASE("runtime-container: CRI command replaces ENTRYPOINT and drops CMD; args replace CMD") {
  Strings ep = {"/entry"}, cmd = {"default-arg"};
  CHECK(resolve_command(ep, cmd, {}, {}) == Strings{"/entry", "default-arg"});
  CHECK(resolve_command(ep, cmd, {}, {"a"}) == Strings{"/entry", "a"});
  CHECK(resolve_command(ep, cmd, {"/bin/x"}, {}) == Strings{"/bin/x"});
  CHECK(resolve_command(ep, cmd, {"/bin/x"}, {"y"}) == Strings{"/bin/x", "y"});
  CHECK(resolve_command({}, cmd, {}, {}) == Strings{"default-arg"});
  CHECK(resolve_command({}, {}, {}, {"sh"}) == Strings{"sh"});
  try {
    resolve_command({}, {}, {}, {});
    FAIL("an empty command did not throw");
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::invalid_argument);
    CHECK(std::string(e.what()).starts_with("no command to run"));
  }
}

TEST_CASE("runtime-container: env merge keeps the image's order, CRI wins, PATH and HOSTNAME defaults") {
  Strings image = {"A=1", "PATH=/img/bin", "B=2"};
  CHECK(merge_env(image, {{"B", "cri"}, {"C", "3"}, {"C", "4"}}, "pod") ==
        Strings{"A=1", "PATH=/img/bin", "B=cri", "C=4", "HOSTNAME=pod"});
  CHECK(merge_env({}, {}, "") == Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  CHECK(merge_env({"HOSTNAME=img"}, {{"PATH", "/x"}}, "pod") == Strings{"HOSTNAME=img", "PATH=/x"});
  CHECK(merge_env({"EMPTY="}, {{"EMPTY", ""}}, "h")[0] == "EMPTY=");
}

TEST_CASE("merge_env: many variables, duplicates keep the first position and the last value") {
  std::vector<std::pair<std::string, std::string>> cri;
  for (int i = 0; i < 100000; ++i) cri.emplace_back("K" + std::to_string(i % 50000), std::to_string(i));
  Strings env = merge_env({"K7=image", "PATH=/p"}, cri, "h");
  REQUIRE(env.size() == 50000 + 2);  // K0..K49999, PATH, HOSTNAME
  CHECK(env[0] == "K7=50007");
  CHECK(env[1] == "PATH=/p");
  CHECK(env[2] == "K0=50000");
  CHECK(env.back() == "HOSTNAME=h");
}

TEST_CASE("runtime-container: users from the image's /etc/passwd and /etc/group") {
  TempRoot root;
  root.write("/etc/passwd", kPasswd);
  root.write("/etc/group", kGroup);

  ResolvedUser u = resolve_user(root.path, {});
  CHECK(u.uid == 0);
  CHECK(u.gid == 0);
  CHECK(u.home == "/root");
  CHECK(u.additional_gids == std::vector<uint32_t>{10});

  UserRequest image_user;
  image_user.image_user = "app";
  u = resolve_user(root.path, image_user);
  CHECK(u.uid == 1000);
  CHECK(u.gid == 1001);
  CHECK(u.home == "/home/app");
  CHECK(u.additional_gids == std::vector<uint32_t>{10, 29});

  image_user.image_user = "app:staff";
  CHECK(resolve_user(root.path, image_user).gid == 50);
  image_user.image_user = "1000:7";
  CHECK(resolve_user(root.path, image_user).gid == 7);
  image_user.image_user = "4242";  // not in /etc/passwd: fine, gid 0
  u = resolve_user(root.path, image_user);
  CHECK(u.uid == 4242);
  CHECK(u.gid == 0);
  CHECK(u.home == "/");
  CHECK(u.additional_gids.empty());
  image_user.image_user = "1002";
  CHECK(resolve_user(root.path, image_user).home == "/");

  // The CRI's user overrides the image's; run_as_group and supplemental groups come on top.
  UserRequest cri;
  cri.image_user = "app";
  cri.uid = 0;
  cri.gid = 3000;
  cri.supplemental_groups = {2000, 10};
  u = resolve_user(root.path, cri);
  CHECK(u.uid == 0);
  CHECK(u.gid == 3000);
  CHECK(u.additional_gids == std::vector<uint32_t>{10, 2000});
  UserRequest by_name;
  by_name.username = "app";
  CHECK(resolve_user(root.path, by_name).uid == 1000);

  UserRequest missing;
  missing.username = "nobody-here";
  CHECK_THROWS_WITH_AS(resolve_user(root.path, missing), "user \"nobody-here\" is not in the image's /etc/passwd",
                       vpcri::Error);
  missing = {};
  missing.image_user = "app:nogroup";
  CHECK_THROWS_WITH_AS(resolve_user(root.path, missing), "group \"nogroup\" is not in the image's /etc/group",
                       vpcri::Error);
}

TEST_CASE("runtime-container: account files are read inside the rootfs, never through a symlink out of it") {
  TempRoot root;
  // /etc/passwd -> /etc/passwd (absolute): the image's own, not the host's.
  REQUIRE(::symlink("/etc/shadow-of-image", (root.path + "/etc/passwd").c_str()) == 0);
  root.write("/etc/shadow-of-image", "img:x:77:77::/img:/bin/sh\n");
  UserRequest r;
  r.image_user = "img";
  CHECK(resolve_user(root.path, r).uid == 77);
  // ../../../etc/... climbs no higher than the rootfs.
  REQUIRE(::symlink("../../../../../../../../etc/image-group", (root.path + "/etc/group").c_str()) == 0);
  root.write("/etc/image-group", "grp:x:88:\n");
  r.image_user = "img:grp";
  CHECK(resolve_user(root.path, r).gid == 88);
  r.image_user = "img:root";  // "root" is in the host's /etc/group, not in this image
  CHECK_THROWS_AS(resolve_user(root.path, r), vpcri::Error);
  // No passwd at all: root works, names do not.
  TempRoot empty;
  CHECK(resolve_user(empty.path, {}).uid == 0);
  r.image_user = "daemon";
  CHECK_THROWS_AS(resolve_user(empty.path, r), vpcri::Error);
}
