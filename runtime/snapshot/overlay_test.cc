#include "runtime/snapshot/overlay.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/snapshot/test_layer.h"
#include "runtime/snapshot/unpack.h"

using namespace vpcri;
using namespace vpcri::runtime::snapshot;
using namespace vpcri::runtime::snapshot::testing;
namespace sfs = std::filesystem;

namespace {

// How many mounts /proc/self/mountinfo lists at `path` (field 5 is the mount point).
int mounts_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point == path) ++count;
  }
  return count;
}

// The superblock options (after " - overlay overlay ") of the mount at `path`, "" when none.
std::string super_options_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point != path) continue;
    auto dash = line.find(" - ");
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source, options;
    tail >> type >> source >> options;
    return options;
  }
  return "";
}

// Older kernels list "volatile", newer ones "fsync=volatile".
bool is_volatile(const std::string& options) {
  for (const char* name : {",volatile,", ",fsync=volatile,"})
    if (("," + options + ",").find(name) != std::string::npos) return true;
  return false;
}

bool lexists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

// Scratch space with unpacked layers; anything still mounted is unmounted before deletion.
struct Scratch {
  TempDir tmp{"overlay-test"};
  std::string container = tmp.path + "/container";
  std::string rootfs = tmp.path + "/container/rootfs";
  int layer_count = 0;

  ~Scratch() {
    try {
      unmount_all(rootfs);
    } catch (...) {
      ::umount2(rootfs.c_str(), MNT_DETACH);
    }
  }

  // Unpacks a layer through unpack_layer, as the image manager will, and returns its directory.
  std::string layer(const std::vector<TarEntry>& entries) {
    std::string dir = tmp.path + "/layers/" + std::to_string(layer_count++);
    sfs::create_directories(dir);
    std::string tar = dir + ".tar";
    write_layer(tar, entries);
    unpack_layer(tar, dir);
    return dir;
  }
};

// Two layers: the upper one overwrites, whites out and makes a directory opaque.
std::vector<std::string> two_layers(Scratch& s) {
  std::string low = s.layer({
      file("a", "low a"),
      file("b", "low b"),
      file("gone", "deleted by the upper layer"),
      dir("opq"),
      file("opq/old", "hidden by the opaque dir"),
      dir("merged"),
      file("merged/low", "1"),
  });
  std::string high = s.layer({
      file("a", "high a"),
      file(".wh.gone", ""),
      dir("opq"),
      file("opq/.wh..wh..opq", ""),
      file("opq/new", "only this"),
      dir("merged"),
      file("merged/high", "2"),
  });
  return {low, high};
}

void check_two_layer_view(const std::string& root) {
  CHECK(fs::read_file(root + "/a") == "high a");
  CHECK(fs::read_file(root + "/b") == "low b");
  CHECK(!lexists(root + "/gone"));
  CHECK(!lexists(root + "/opq/old"));
  CHECK(fs::read_file(root + "/opq/new") == "only this");
  CHECK(fs::read_file(root + "/merged/low") == "1");
  CHECK(fs::read_file(root + "/merged/high") == "2");
}

}  // namespace

TEST_CASE("runtime-snapshot: overlay shows the layers merged; writes go to the upper") {
  for (OverlayMountApi api : {OverlayMountApi::automatic, OverlayMountApi::legacy_options}) {
    CAPTURE(static_cast<int>(api));
    Scratch s;
    std::vector<std::string> layers = two_layers(s);
    RootfsOverlay overlay(layers, s.container, s.rootfs, api);
    CHECK(mounts_at(s.rootfs) == 1);
    check_two_layer_view(s.rootfs);

    fs::write_file_atomic(s.rootfs + "/written", "by the container");
    sfs::remove(s.rootfs + "/b");
    CHECK(fs::read_file(overlay.upper_dir() + "/written") == "by the container");
    CHECK(!lexists(layers[0] + "/written"));
    CHECK(!lexists(layers[1] + "/written"));
    CHECK(fs::read_file(layers[0] + "/b") == "low b");  // deleting in the container spares the layer
    CHECK(!lexists(s.rootfs + "/b"));

    overlay.remove();
    CHECK(mounts_at(s.rootfs) == 0);
    CHECK(!lexists(s.container + "/overlay"));
    CHECK(!lexists(s.rootfs));
    CHECK(fs::read_file(layers[1] + "/a") == "high a");  // layers survive the container
    overlay.remove();  // idempotent
  }
}

TEST_CASE("runtime-snapshot: overlay of an image with no layers or one layer") {
  Scratch s;
  SUBCASE("no layers") {
    RootfsOverlay overlay({}, s.container, s.rootfs);
    CHECK(mounts_at(s.rootfs) == 1);
    CHECK(sfs::is_empty(s.rootfs));
    fs::write_file_atomic(s.rootfs + "/f", "x");
    CHECK(fs::read_file(overlay.upper_dir() + "/f") == "x");
  }
  SUBCASE("one layer") {
    std::string only = s.layer({file("etc/os-release", "ID=test\n")});
    RootfsOverlay overlay({only}, s.container, s.rootfs);
    CHECK(fs::read_file(s.rootfs + "/etc/os-release") == "ID=test\n");
  }
  CHECK(mounts_at(s.rootfs) == 0);  // the destructor unmounted
  CHECK(!lexists(s.container + "/overlay"));
}

TEST_CASE("runtime-snapshot: overlay with more layers than fit in one option string") {
  Scratch s;
  // Long layer paths: 150 of them overflow a 4 KiB page as plain paths.
  std::vector<std::string> layers;
  for (int i = 0; i < 150; ++i) {
    std::string dir = s.tmp.path + "/layers/a-rather-long-directory-name-for-layer-number-" + std::to_string(i);
    sfs::create_directories(dir);
    fs::write_file_atomic(dir + "/layer", std::to_string(i));
    fs::write_file_atomic(dir + "/only-" + std::to_string(i), "x");
    layers.push_back(dir);
  }
  for (OverlayMountApi api : {OverlayMountApi::automatic, OverlayMountApi::legacy_options}) {
    CAPTURE(static_cast<int>(api));
    RootfsOverlay overlay(layers, s.container, s.rootfs, api);
    CHECK(fs::read_file(s.rootfs + "/layer") == "149");  // the last layer is the highest
    CHECK(lexists(s.rootfs + "/only-0"));
    CHECK(lexists(s.rootfs + "/only-149"));
  }
  CHECK(mounts_at(s.rootfs) == 0);
}

TEST_CASE("runtime-snapshot: a released overlay outlives its object and is removed later") {
  Scratch s;
  std::vector<std::string> layers = two_layers(s);
  {
    RootfsOverlay overlay(layers, s.container, s.rootfs);
    fs::write_file_atomic(s.rootfs + "/state", "kept across remounts");
    overlay.release();
  }
  CHECK(mounts_at(s.rootfs) == 1);
  // After a daemon crash the mount is left over. Mounting over it is refused instead of
  // silently stacking a second overlay on the same upper.
  try {
    RootfsOverlay twice(layers, s.container, s.rootfs);
    FAIL("mounted over a leftover overlay");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::already_exists);
  }
  CHECK(mounts_at(s.rootfs) == 1);
  // Unmount the leftover, then mount again with the same container dir.
  unmount_all(s.rootfs);
  unmount_all(s.rootfs);  // idempotent
  CHECK(mounts_at(s.rootfs) == 0);
  {
    RootfsOverlay again(layers, s.container, s.rootfs);
    CHECK(fs::read_file(s.rootfs + "/state") == "kept across remounts");
    check_two_layer_view(s.rootfs);
    again.release();
  }
  remove_rootfs_overlay(s.container, s.rootfs);
  CHECK(mounts_at(s.rootfs) == 0);
  CHECK(!lexists(s.container + "/overlay"));
  remove_rootfs_overlay(s.container, s.rootfs);  // idempotent
}

TEST_CASE("runtime-snapshot: a volatile upper is mounted volatile, by either mount API; the default is not") {
  for (OverlayMountApi api : {OverlayMountApi::automatic, OverlayMountApi::legacy_options}) {
    CAPTURE(static_cast<int>(api));
    Scratch s;
    std::vector<std::string> layers = two_layers(s);
    {
      RootfsOverlay overlay(layers, s.container, s.rootfs, api, UpperSync::volatile_upper);
      CHECK_MESSAGE(is_volatile(super_options_at(s.rootfs)), super_options_at(s.rootfs));
      check_two_layer_view(s.rootfs);
      fs::write_file_atomic(s.rootfs + "/written", "to the upper");
      CHECK(fs::read_file(overlay.upper_dir() + "/written") == "to the upper");
    }
    CHECK(mounts_at(s.rootfs) == 0);
    CHECK(!lexists(s.container + "/overlay"));
    RootfsOverlay durable(layers, s.container, s.rootfs, api);
    std::string options = super_options_at(s.rootfs);
    CHECK(mounts_at(s.rootfs) == 1);
    CHECK_MESSAGE(!is_volatile(options), options);
  }
}

TEST_CASE("runtime-snapshot: unmount_all takes stacked mounts and tolerates none") {
  Scratch s;
  unmount_all(s.tmp.path + "/does-not-exist");
  sfs::create_directories(s.rootfs);
  unmount_all(s.rootfs);  // a plain directory
  REQUIRE(::mount("tmpfs", s.rootfs.c_str(), "tmpfs", 0, nullptr) == 0);
  REQUIRE(::mount("tmpfs", s.rootfs.c_str(), "tmpfs", 0, nullptr) == 0);
  CHECK(mounts_at(s.rootfs) == 2);
  unmount_all(s.rootfs);
  CHECK(mounts_at(s.rootfs) == 0);
}

TEST_CASE("runtime-snapshot: moving an overlay moves ownership") {
  Scratch s;
  std::vector<std::string> layers = two_layers(s);
  {
    RootfsOverlay first(layers, s.container, s.rootfs);
    RootfsOverlay moved(std::move(first));
    CHECK(mounts_at(s.rootfs) == 1);
    CHECK(moved.target() == s.rootfs);
  }
  CHECK(mounts_at(s.rootfs) == 0);
}

TEST_CASE("runtime-snapshot: bad layer lists are refused before mounting") {
  Scratch s;
  auto check_refused = [&](const std::vector<std::string>& layers, const std::string& needle) {
    try {
      RootfsOverlay overlay(layers, s.container, s.rootfs);
      FAIL("mounted a bad layer list");
    } catch (const Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, std::string(e.what()));
    }
    CHECK(mounts_at(s.rootfs) == 0);
  };
  check_refused({"relative/layer"}, "not absolute");
  check_refused({s.tmp.path + "/missing"}, s.tmp.path + "/missing");
  std::string plain_file = s.tmp.path + "/file";
  fs::write_file_atomic(plain_file, "x");
  check_refused({plain_file}, "not a directory");
  check_refused(std::vector<std::string>(501, s.tmp.path), "at most 500");
}
