// The layer of mount points an image lacks: only what is missing, never past a symlink, with the
// image's directory attributes, made once per image and shared by its containers.
#include "runtime/image/mountpoint_layer.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "common/fd.h"
#include "runtime/image/digest.h"
#include "runtime/image/snapshot_store.h"
#include "runtime/image/test_util.h"

using namespace vpcri::runtime::image;
using testing::TempDir;
using testing::write_text;
namespace stdfs = std::filesystem;

namespace {

vpcri::UniqueFd open_dir(const std::string& path) {
  vpcri::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  return fd;
}

struct stat stat_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

std::vector<std::string> paths(const std::vector<MountpointEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.path + (e.directory ? "/" : ""));
  return out;
}

}  // namespace

TEST_CASE("runtime-image: the mount points an image lacks, never past a symlink") {
  TempDir empty;
  CHECK(paths(missing_mountpoints(open_dir(empty.path).get())) ==
        std::vector<std::string>{"proc/", "sys/", "dev/", "etc/hosts", "etc/hostname", "etc/resolv.conf"});

  TempDir image;
  stdfs::create_directories(image.path + "/proc");
  write_text(image.path + "/etc/hosts", "127.0.0.1 localhost\n");
  stdfs::create_symlink("/run/resolv.conf", image.path + "/etc/resolv.conf");  // dangling: vpcri-init's
  stdfs::create_directory_symlink("/", image.path + "/sys");
  CHECK(paths(missing_mountpoints(open_dir(image.path).get())) == std::vector<std::string>{"dev/", "etc/hostname"});

  TempDir linked_etc;
  stdfs::create_directories(linked_etc.path + "/real-etc");
  stdfs::create_directory_symlink("real-etc", linked_etc.path + "/etc");
  write_text(linked_etc.path + "/dev", "not a directory");
  CHECK(paths(missing_mountpoints(open_dir(linked_etc.path).get())) == std::vector<std::string>{"proc/", "sys/"});
}

TEST_CASE("runtime-image: the layer's directories show the image's mode, owner and times") {
  TempDir image, layer;
  stdfs::create_directories(image.path + "/etc");
  REQUIRE(::chmod(image.path.c_str(), 0751) == 0);
  REQUIRE(::chmod((image.path + "/etc").c_str(), 0750) == 0);
  REQUIRE(::chown((image.path + "/etc").c_str(), 12, 34) == 0);
  const timespec old_times[2] = {{1000000000, 0}, {1100000000, 5}};
  REQUIRE(::utimensat(AT_FDCWD, (image.path + "/etc").c_str(), old_times, 0) == 0);
  vpcri::UniqueFd root = open_dir(image.path);

  std::vector<MountpointEntry> entries = missing_mountpoints(root.get());
  write_mountpoint_layer(root.get(), entries, layer.path);
  for (const char* dir : {"/proc", "/sys", "/dev"}) {
    CHECK(S_ISDIR(stat_of(layer.path + dir).st_mode));
    CHECK((stat_of(layer.path + dir).st_mode & 07777) == 0755);
  }
  for (const char* file : {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}) {
    CHECK(S_ISREG(stat_of(layer.path + file).st_mode));
    CHECK((stat_of(layer.path + file).st_mode & 07777) == 0644);
    CHECK(stat_of(layer.path + file).st_size == 0);
  }
  struct stat etc = stat_of(layer.path + "/etc");
  CHECK((etc.st_mode & 07777) == 0750);
  CHECK(etc.st_uid == 12);
  CHECK(etc.st_gid == 34);
  CHECK(etc.st_mtim.tv_sec == 1100000000);
  CHECK(etc.st_mtim.tv_nsec == 5);
  CHECK((stat_of(layer.path).st_mode & 07777) == 0751);
  CHECK(stat_of(layer.path).st_mtim.tv_sec == stat_of(image.path).st_mtim.tv_sec);
}

TEST_CASE("runtime-image: an image's mount point layer is made once, above a whiteout too") {
  TempDir root;
  SnapshotStore store(root.path);
  const std::string lower = store.path(sha256_digest("lower")), upper = store.path(sha256_digest("upper"));
  stdfs::create_directories(lower + "/proc");
  stdfs::create_directories(lower + "/sys");
  stdfs::create_directories(lower + "/dev");
  write_text(lower + "/etc/hosts", "x");
  write_text(lower + "/etc/hostname", "x");
  write_text(lower + "/etc/resolv.conf", "x");
  stdfs::create_directories(upper + "/etc");
  REQUIRE(::mknod((upper + "/etc/hosts").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);  // overlay's whiteout

  CHECK_FALSE(store.mountpoint_layer({lower}).has_value());  // has them all: remembered, no layer
  CHECK(stdfs::exists(stdfs::path(lower).parent_path() / "mountpoints-none"));
  CHECK_FALSE(stdfs::exists(stdfs::path(lower).parent_path() / "mountpoints"));

  std::optional<std::string> layer = store.mountpoint_layer({lower, upper});
  if (!layer) {
    MESSAGE("this kernel cannot show the merged layers (overlay lowerdir+ came with 6.8)");
    return;
  }
  CHECK(*layer == stdfs::path(upper).parent_path().string() + "/mountpoints");
  std::vector<std::string> names;
  for (const auto& e : stdfs::recursive_directory_iterator(*layer)) names.push_back(e.path().string().substr(layer->size()));
  CHECK(names == std::vector<std::string>{"/etc", "/etc/hosts"});
  const ino_t inode = stat_of(*layer).st_ino;
  CHECK(store.mountpoint_layer({lower, upper}) == layer);
  CHECK(stat_of(*layer).st_ino == inode);
  CHECK_THROWS_AS(store.mountpoint_layer({"/elsewhere/fs"}), vpcri::Error);
  // An image of overlay's 500 layers has no room for one more: none, and nothing made.
  CHECK_FALSE(store.mountpoint_layer(std::vector<std::string>(500, upper)).has_value());
  for (const auto& name : testing::names_in(root.path + "/snapshots")) CHECK(name.rfind("tmp-", 0) != 0);
}
