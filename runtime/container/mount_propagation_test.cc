// Propagation checks of volume sources: mountinfo parsing, and the check on a real tmpfs made
// (and unmounted) here.
#include "runtime/container/mount_propagation.h"

#include <doctest/doctest.h>
#include <sys/mount.h>

#include "common/error.h"
#include "runtime/container/test_support.h"

using namespace vpcri::runtime::container;
using vpcri::Errc;
using vpcri::Error;

TEST_CASE("runtime-container: mountinfo lines give mount id, escaped mount point and propagation") {
  auto shared = parse_mountinfo_line("36 25 0:32 / /var/lib/a\\040b rw,relatime shared:12 - tmpfs tmpfs rw");
  REQUIRE(shared);
  CHECK(shared->mount_id == 36);
  CHECK(shared->mount_point == "/var/lib/a b");
  CHECK(shared->shared());
  CHECK_FALSE(shared->slave());

  auto slave = parse_mountinfo_line("40 36 0:33 / /mnt rw master:7 - tmpfs tmpfs rw");
  REQUIRE(slave);
  CHECK(slave->slave());
  CHECK_FALSE(slave->shared());
  auto both = parse_mountinfo_line("41 36 0:33 / /mnt rw shared:9 master:7 - tmpfs tmpfs rw");
  REQUIRE(both);
  CHECK(both->shared());
  CHECK(both->slave());

  auto priv = parse_mountinfo_line("42 36 0:34 / /private rw - tmpfs tmpfs rw");
  REQUIRE(priv);
  CHECK(priv->optional_fields.empty());
  CHECK_FALSE(priv->shared());
  CHECK_FALSE(priv->slave());

  CHECK_FALSE(parse_mountinfo_line(""));
  CHECK_FALSE(parse_mountinfo_line("x 36 0:34 / /p rw - tmpfs tmpfs rw"));
  CHECK_FALSE(parse_mountinfo_line("42 36 0:34 / /p rw shared:1 tmpfs tmpfs rw"));  // no separator
}

TEST_CASE("runtime-container: a shared or slave volume source must be on a mount that propagates") {
  test::TempDir dir;
  const std::string mnt = dir / "mnt";
  vpcri::fs::mkdir_p(mnt);
  REQUIRE(::mount("vpcri-prop-test", mnt.c_str(), "tmpfs", 0, "size=1m") == 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } guard{mnt};
  vpcri::fs::mkdir_p(mnt + "/sub");

  REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_PRIVATE, nullptr) == 0);
  CHECK(mount_of(mnt + "/sub").mount_point == mnt);
  CHECK_NOTHROW(check_propagation_source(mnt + "/sub", Propagation::private_));
  try {
    check_propagation_source(mnt + "/sub", Propagation::rshared);
    FAIL("a private mount passed as shared");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::failed_precondition);
    CHECK(std::string(e.what()) ==
          "path \"" + mnt + "/sub\" is mounted on \"" + mnt + "\" but it is not a shared mount");
  }
  CHECK_THROWS_WITH_AS(check_propagation_source(mnt + "/sub", Propagation::rslave),
                       doctest::Contains("is not a shared or slave mount"), Error);

  REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_SHARED, nullptr) == 0);
  CHECK_NOTHROW(check_propagation_source(mnt + "/sub", Propagation::rshared));
  CHECK_NOTHROW(check_propagation_source(mnt + "/sub", Propagation::rslave));

  CHECK_THROWS_WITH_AS(check_propagation_source(dir / "missing", Propagation::rshared),
                       doctest::Contains("does not exist"), Error);
}
