// Mount points made inside an image's root: whatever the image's symlinks say, everything is
// created beneath the root, and what is missing is created level by level.
#include "runtime/container/in_root.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "runtime/container/test_support.h"

using vpcri::UniqueFd;
using vpcri::runtime::container::ensure_file_in_root;
using vpcri::runtime::container::mkdir_in_root;
using vpcri::runtime::container::test::TempDir;
namespace stdfs = std::filesystem;

namespace {

struct Root {
  TempDir dir;
  std::string path = dir / "root";
  std::string outside = dir / "outside";
  UniqueFd fd;
  Root() {
    stdfs::create_directories(path);
    stdfs::create_directories(outside);
    fd = UniqueFd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
  }
};

// The inode an fd is on, to compare with a path's.
ino_t inode_of(int fd) {
  struct stat st{};
  REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

ino_t inode_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("mkdir_in_root makes the missing levels and opens existing directories") {
  Root r;
  stdfs::create_directories(r.path + "/a");
  UniqueFd made = mkdir_in_root(r.fd.get(), "/a/b/c/");
  CHECK(stdfs::is_directory(r.path + "/a/b/c"));
  CHECK(inode_of(made.get()) == inode_of(r.path + "/a/b/c"));
  CHECK((stdfs::status(r.path + "/a/b").permissions() & stdfs::perms::all) == stdfs::perms(0755));

  UniqueFd again = mkdir_in_root(r.fd.get(), "a//b/c");
  CHECK(inode_of(again.get()) == inode_of(r.path + "/a/b/c"));
  UniqueFd root = mkdir_in_root(r.fd.get(), "/");
  CHECK(inode_of(root.get()) == inode_of(r.path));
  UniqueFd dots = mkdir_in_root(r.fd.get(), "/x/../y");
  CHECK(stdfs::is_directory(r.path + "/x"));
  CHECK(inode_of(dots.get()) == inode_of(r.path + "/y"));
}

TEST_CASE("mkdir_in_root follows an image's symlinks only within the root") {
  Root r;
  // An absolute link (as images have /var/run -> /run) and one climbing out with "..".
  stdfs::create_directories(r.path + "/var");
  stdfs::create_directories(r.path + "/run");
  stdfs::create_directories(r.path + r.outside);  // where "host" leads inside the root
  stdfs::create_directory_symlink("/run", r.path + "/var/run");
  stdfs::create_directory_symlink("../../../../../../..", r.path + "/up");
  stdfs::create_directory_symlink(r.outside, r.path + "/host");

  UniqueFd secrets = mkdir_in_root(r.fd.get(), "/var/run/secrets/token");
  CHECK(stdfs::is_directory(r.path + "/run/secrets/token"));
  CHECK(inode_of(secrets.get()) == inode_of(r.path + "/run/secrets/token"));

  mkdir_in_root(r.fd.get(), "/up/escaped");
  CHECK(stdfs::is_directory(r.path + "/escaped"));
  mkdir_in_root(r.fd.get(), "/host/escaped");
  CHECK(stdfs::is_directory(r.path + r.outside + "/escaped"));
  CHECK(stdfs::is_empty(r.outside));
}

TEST_CASE("mkdir_in_root refuses a path through a file or a dangling link and creates nothing") {
  Root r;
  { UniqueFd f(::open((r.path + "/file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }
  stdfs::create_symlink("/nowhere/at/all", r.path + "/dangling");
  stdfs::create_directory_symlink("/nowhere", r.path + "/dangling-dir");
  CHECK_THROWS_AS(mkdir_in_root(r.fd.get(), "/file/sub"), vpcri::Error);
  CHECK_THROWS_AS(mkdir_in_root(r.fd.get(), "/file"), vpcri::Error);
  CHECK_THROWS_AS(mkdir_in_root(r.fd.get(), "/dangling"), vpcri::Error);
  CHECK_THROWS_AS(mkdir_in_root(r.fd.get(), "/dangling-dir/sub"), vpcri::Error);
  CHECK(stdfs::is_regular_file(r.path + "/file"));
  CHECK_FALSE(stdfs::exists(r.path + "/nowhere"));
}

TEST_CASE("ensure_file_in_root keeps what exists and creates an empty file with its parents") {
  Root r;
  stdfs::create_directories(r.path + "/etc");
  { UniqueFd f(::open((r.path + "/etc/hosts").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  stdfs::create_symlink("/real-resolv.conf", r.path + "/etc/resolv.conf");
  { UniqueFd f(::open((r.path + "/real-resolv.conf").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  stdfs::create_directories(r.path + r.outside);
  stdfs::create_directory_symlink(r.outside, r.path + "/host");

  CHECK(inode_of(ensure_file_in_root(r.fd.get(), "/etc/hosts").get()) == inode_of(r.path + "/etc/hosts"));
  CHECK(inode_of(ensure_file_in_root(r.fd.get(), "/etc/resolv.conf").get()) ==
        inode_of(r.path + "/real-resolv.conf"));
  UniqueFd made = ensure_file_in_root(r.fd.get(), "/dev/termination-log");
  CHECK(stdfs::is_regular_file(r.path + "/dev/termination-log"));
  CHECK(inode_of(made.get()) == inode_of(r.path + "/dev/termination-log"));
  UniqueFd deep = ensure_file_in_root(r.fd.get(), "/host/a/b/file");
  CHECK(stdfs::is_regular_file(r.path + r.outside + "/a/b/file"));
  CHECK(inode_of(deep.get()) == inode_of(r.path + r.outside + "/a/b/file"));
  CHECK(stdfs::is_empty(r.outside));
  UniqueFd dir = ensure_file_in_root(r.fd.get(), "/etc");
  CHECK(inode_of(dir.get()) == inode_of(r.path + "/etc"));
}
