#include "runtime/snapshot/unpack.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/snapshot/test_layer.h"

using namespace vpcri;
using namespace vpcri::runtime::snapshot;
using namespace vpcri::runtime::snapshot::testing;
namespace sfs = std::filesystem;

namespace {

struct stat lstat_of(const std::string& path) {
  struct stat st{};
  REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, path, ": ", std::strerror(errno));
  return st;
}

bool lexists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string xattr_of(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  if (n < 0) return "<" + std::string(std::strerror(errno)) + ">";
  return std::string(buf, static_cast<size_t>(n));
}

std::string link_of(const std::string& path) {
  std::error_code ec;
  auto target = sfs::read_symlink(path, ec);
  return ec ? "<" + ec.message() + ">" : target.string();
}

// A scratch tree: <base>/outside is the sentinel a hostile layer must never touch, the unpack
// target sits three levels down (<base>/a/b/target) so "../../.." from it lands on <base>.
struct Sandbox {
  TempDir tmp{"unpack-test"};
  std::string outside = tmp.path + "/outside";
  std::string target = tmp.path + "/a/b/target";
  std::string layer = tmp.path + "/layer.tar";

  Sandbox() {
    sfs::create_directories(outside + "/sub");
    sfs::create_directories(target);
    fs::write_file_atomic(outside + "/keep", "sentinel");
  }

  UnpackStats unpack(const std::vector<TarEntry>& entries, Compression c = Compression::none) {
    write_layer(layer, entries, c);
    return unpack_layer(layer, target);
  }

  // Everything under <base> except the target and the layer file: type, mode, owner, size,
  // mtime and content. Hostile layers must leave it exactly as it was.
  std::map<std::string, std::string> outside_state() const {
    std::map<std::string, std::string> state;
    for (auto it = sfs::recursive_directory_iterator(tmp.path); it != sfs::recursive_directory_iterator(); ++it) {
      std::string path = it->path().string();
      if (path == target) it.disable_recursion_pending();
      if (path == target || path == layer) continue;
      struct stat st = lstat_of(path);
      std::string desc = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                         " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
                         std::to_string(st.st_mtim.tv_nsec);
      if (S_ISREG(st.st_mode)) desc += " " + fs::read_file(path);
      if (S_ISLNK(st.st_mode)) desc += " -> " + link_of(path);
      state[path] = desc;
    }
    return state;
  }
};

// Unpacks a hostile layer that must be refused: invalid_argument naming `entry`, and nothing
// outside the target created or changed.
void check_refused(Sandbox& box, const std::vector<TarEntry>& entries, const std::string& entry) {
  auto before = box.outside_state();
  write_layer(box.layer, entries);
  try {
    unpack_layer(box.layer, box.target);
    FAIL("unpack accepted a hostile layer, entry ", entry);
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_argument);
    CHECK_MESSAGE(std::string(e.what()).find("\"" + entry + "\"") != std::string::npos, std::string(e.what()));
  }
  CHECK(box.outside_state() == before);
}

}  // namespace

TEST_CASE("runtime-snapshot: a layer unpacks with contents, owners, modes, links, devices and xattrs") {
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    CAPTURE(static_cast<int>(c));
    Sandbox box;
    TarEntry hosts = file("etc/hosts", "127.0.0.1 localhost\n", 0640);
    hosts.uid = 1000;
    hosts.gid = 1001;
    hosts.mtime = 1500000000;
    hosts.xattrs = {{"user.note", "hello"}};
    TarEntry su = file("bin/su", "su-binary", 04755);
    TarEntry sgid_dir = dir("var/mail", 02775);
    sgid_dir.gid = 8;
    sgid_dir.mtime = 1400000000;
    // vfs_cap_data revision 2 granting cap_net_raw (bit 13) as permitted.
    std::string cap("\x00\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    TarEntry ping = file("bin/ping", "ping-binary", 0755);
    ping.xattrs = {{"security.capability", cap}};
    TarEntry etc = dir("etc", 0751);
    etc.mtime = 1300000000;

    UnpackStats stats = box.unpack(
        {
            dir("./", 0755),
            etc,
            hosts,
            dir("bin"),
            file("bin/busybox", "busybox-binary", 0755),
            su,
            ping,
            symlink_to("bin/sh", "busybox"),
            symlink_to("bin/abs", "/etc/hosts"),
            hardlink("bin/ls", "bin/busybox"),
            node("dev/null", AE_IFCHR, 1, 3),
            node("dev/sda", AE_IFBLK, 8, 0, 0660),
            node("run/fifo", AE_IFIFO, 0, 0, 0620),
            sgid_dir,
            file("/abs/file", "absolute names land inside"),
        },
        c);
    const std::string& t = box.target;

    CHECK(stats.entries == 15);
    CHECK(stats.bytes == std::string("127.0.0.1 localhost\n").size() + std::string("busybox-binary").size() +
                             std::string("su-binary").size() + std::string("ping-binary").size() +
                             std::string("absolute names land inside").size());

    CHECK(fs::read_file(t + "/etc/hosts") == "127.0.0.1 localhost\n");
    struct stat st = lstat_of(t + "/etc/hosts");
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(st.st_uid == 1000);
    CHECK(st.st_gid == 1001);
    CHECK(st.st_mtim.tv_sec == 1500000000);
    CHECK(xattr_of(t + "/etc/hosts", "user.note") == "hello");

    CHECK((lstat_of(t + "/bin/su").st_mode & 07777) == 04755);
    CHECK(xattr_of(t + "/bin/ping", "security.capability") == cap);

    st = lstat_of(t + "/var/mail");
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 02775);
    CHECK(st.st_gid == 8);
    CHECK(st.st_mtim.tv_sec == 1400000000);
    // Set after its children were created, so it keeps the archive's time.
    st = lstat_of(t + "/etc");
    CHECK((st.st_mode & 07777) == 0751);
    CHECK(st.st_mtim.tv_sec == 1300000000);
    // Implicit parents ("dev", "run", "abs") are plain 0755 directories.
    CHECK((lstat_of(t + "/dev").st_mode & 07777) == 0755);

    CHECK(S_ISLNK(lstat_of(t + "/bin/sh").st_mode));
    CHECK(link_of(t + "/bin/sh") == "busybox");
    CHECK(link_of(t + "/bin/abs") == "/etc/hosts");
    CHECK(lstat_of(t + "/bin/ls").st_ino == lstat_of(t + "/bin/busybox").st_ino);
    CHECK(lstat_of(t + "/bin/busybox").st_nlink == 2);

    st = lstat_of(t + "/dev/null");
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(1, 3));
    CHECK((st.st_mode & 07777) == 0666);
    st = lstat_of(t + "/dev/sda");
    CHECK(S_ISBLK(st.st_mode));
    CHECK(st.st_rdev == makedev(8, 0));
    CHECK((st.st_mode & 07777) == 0660);
    st = lstat_of(t + "/run/fifo");
    CHECK(S_ISFIFO(st.st_mode));
    CHECK((st.st_mode & 07777) == 0620);

    CHECK(fs::read_file(t + "/abs/file") == "absolute names land inside");
  }
}

TEST_CASE("runtime-snapshot: the root entry, symlink owners and times are restored") {
  Sandbox box;
  TarEntry root = dir("./", 0710);
  root.mtime = 1234567890;
  TarEntry link = symlink_to("link", "nowhere");
  link.uid = 42;
  link.gid = 43;
  link.mtime = 1111111111;
  box.unpack({root, link, file("f", "x")});
  struct stat st = lstat_of(box.target);
  CHECK((st.st_mode & 07777) == 0710);
  CHECK(st.st_mtim.tv_sec == 1234567890);
  st = lstat_of(box.target + "/link");
  CHECK(st.st_uid == 42);
  CHECK(st.st_gid == 43);
  CHECK(st.st_mtim.tv_sec == 1111111111);
}

TEST_CASE("runtime-snapshot: sparse files keep their holes and their size") {
  Sandbox box;
  std::string data(1 << 20, '\0');
  data.replace(8192, 5, "hello");
  data.replace(data.size() - 4096, 5, "world");
  TarEntry sparse = file("sparse", data);
  sparse.sparse = {{8192, 4096}, {static_cast<int64_t>(data.size()) - 4096, 4096}};
  TarEntry tail_hole = file("tail-hole", data.substr(0, 65536));
  tail_hole.sparse = {{8192, 4096}};  // ends in a hole no data block covers
  UnpackStats stats = box.unpack({sparse, tail_hole});
  CHECK(fs::read_file(box.target + "/sparse") == data);
  CHECK(fs::read_file(box.target + "/tail-hole") == data.substr(0, 65536));
  CHECK(lstat_of(box.target + "/sparse").st_blocks * 512 < 200000);  // the holes stayed holes
  CHECK(stats.bytes < 100000);
}

TEST_CASE("runtime-snapshot: OCI whiteouts become overlay whiteouts") {
  Sandbox box;
  box.unpack({
      dir("etc"),
      file("etc/.wh.passwd", ""),
      dir("opq"),
      file("opq/.wh..wh..opq", ""),
      file("opq/kept", "new"),
      file(".wh.top", ""),
      dir("aufs"),
      file("aufs/.wh..wh.plnk", ""),
  });
  const std::string& t = box.target;
  struct stat st = lstat_of(t + "/etc/passwd");
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(0, 0));
  CHECK(S_ISCHR(lstat_of(t + "/top").st_mode));
  CHECK(!lexists(t + "/etc/.wh.passwd"));
  CHECK(xattr_of(t + "/opq", "trusted.overlay.opaque") == "y");
  CHECK(fs::read_file(t + "/opq/kept") == "new");
  CHECK(!lexists(t + "/opq/.wh..wh..opq"));
  CHECK(xattr_of(t + "/etc", "trusted.overlay.opaque") != "y");
  CHECK(sfs::is_empty(t + "/aufs"));  // aufs metadata is skipped
}

TEST_CASE("runtime-snapshot: a whiteout only hides lower layers, in whatever order it comes") {
  Sandbox box;
  box.unpack({
      // Directory first, whiteout second: the directory of this layer stays, made opaque.
      dir("d1"),
      file("d1/x", "1"),
      file(".wh.d1", ""),
      // Whiteout first, directory second: the directory replaces the whiteout, opaque.
      file(".wh.d2", ""),
      dir("d2"),
      file("d2/y", "2"),
      // A file of this layer and its whiteout: the file stays.
      file("f", "kept"),
      file(".wh.f", ""),
      // Whiteout, then a file of that name: the file replaces the whiteout.
      file(".wh.g", ""),
      file("g", "new g"),
  });
  const std::string& t = box.target;
  CHECK(xattr_of(t + "/d1", "trusted.overlay.opaque") == "y");
  CHECK(fs::read_file(t + "/d1/x") == "1");
  CHECK(S_ISDIR(lstat_of(t + "/d2").st_mode));
  CHECK(xattr_of(t + "/d2", "trusted.overlay.opaque") == "y");
  CHECK(fs::read_file(t + "/d2/y") == "2");
  CHECK(fs::read_file(t + "/f") == "kept");
  CHECK(fs::read_file(t + "/g") == "new g");
}

TEST_CASE("runtime-snapshot: later entries replace earlier ones like tar") {
  Sandbox box;
  box.unpack({
      file("f2d", "file"),
      dir("f2d"),
      file("f2d/child", "c"),
      dir("d2f"),
      file("d2f/child", "c"),
      file("d2f", "now a file"),
      file("twice", "first"),
      file("twice", "second"),
      file("shared", "old"),
      hardlink("other", "shared"),
      file("shared", "replaced"),
      dir("meta", 0700),
      dir("meta", 0711),
      symlink_to("l2f", "/etc/passwd"),
      file("l2f", "regular now"),
  });
  const std::string& t = box.target;
  CHECK(S_ISDIR(lstat_of(t + "/f2d").st_mode));
  CHECK(fs::read_file(t + "/f2d/child") == "c");
  CHECK(fs::read_file(t + "/d2f") == "now a file");
  CHECK(fs::read_file(t + "/twice") == "second");
  CHECK(fs::read_file(t + "/shared") == "replaced");
  CHECK(fs::read_file(t + "/other") == "old");  // the replaced name got a new inode
  CHECK((lstat_of(t + "/meta").st_mode & 07777) == 0711);
  CHECK(S_ISREG(lstat_of(t + "/l2f").st_mode));
  CHECK(fs::read_file(t + "/l2f") == "regular now");
}

TEST_CASE("runtime-snapshot: non-ASCII names are kept byte for byte") {
  Sandbox box;
  box.unpack({file("caf\xc3\xa9", "utf-8"), file("raw\xff", "latin-1 byte")});
  CHECK(fs::read_file(box.target + "/caf\xc3\xa9") == "utf-8");
  CHECK(fs::read_file(box.target + "/raw\xff") == "latin-1 byte");
}

TEST_CASE("runtime-snapshot: overlayfs xattrs in a layer are ignored") {
  Sandbox box;
  TarEntry d = dir("d");
  d.xattrs = {{"trusted.overlay.redirect", "/etc"}, {"user.keep", "1"}};
  box.unpack({d});
  CHECK(xattr_of(box.target + "/d", "trusted.overlay.redirect") != "/etc");
  CHECK(xattr_of(box.target + "/d", "user.keep") == "1");
}

TEST_CASE("runtime-snapshot: bad input is reported") {
  Sandbox box;
  SUBCASE("a missing archive") {
    try {
      unpack_layer(box.tmp.path + "/nope.tar", box.target);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::not_found);
      CHECK(std::string(e.what()).find("nope.tar") != std::string::npos);
    }
  }
  SUBCASE("a truncated gzip layer") {
    write_layer(box.layer, {file("big", std::string(200000, 'x'))}, Compression::gzip);
    std::string data = fs::read_file(box.layer);
    fs::write_file_atomic(box.layer, data.substr(0, data.size() / 2));
    try {
      unpack_layer(box.layer, box.target);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find(box.layer) != std::string::npos);
    }
  }
  SUBCASE("a gzip header cut short (found by fuzz/fuzz_unpack.cc: libarchive gives no message, which crashed vpcrid)") {
    // A hostile registry can serve these 12 bytes as an uncompressed layer (digest == diff id),
    // so they reach the unpacker without a prior decompression check.
    fs::write_file_atomic(box.layer, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\xed\x02\x03\x08", 12));
    try {
      unpack_layer(box.layer, box.target);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK(std::string(e.what()).find("cannot open") != std::string::npos);
    }
  }
  SUBCASE("not a tar") {
    fs::write_file_atomic(box.layer, "this is not an archive, just some text that is long enough to be sniffed");
    CHECK_THROWS_AS(unpack_layer(box.layer, box.target), Error);
  }
  SUBCASE("a target that is not empty") {
    write_layer(box.layer, {file("a", "1")});
    fs::write_file_atomic(box.target + "/stale", "x");
    try {
      unpack_layer(box.layer, box.target);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::failed_precondition);
    }
  }
  SUBCASE("an empty file is an empty layer") {
    fs::write_file_atomic(box.layer, "");
    UnpackStats stats = unpack_layer(box.layer, box.target);
    CHECK(stats.entries == 0);
    CHECK(sfs::is_empty(box.target));
  }
}

TEST_CASE("runtime-snapshot: a layer that decompresses beyond its cap is stopped") {
  Sandbox box;
  // 32 MiB of zeros in a gzip layer of a few dozen KiB, then a file that must never be reached.
  write_layer(box.layer, {file("zeros", std::string(32 << 20, '\0')), file("after", "x")}, Compression::gzip);
  REQUIRE(sfs::file_size(box.layer) < 256 * 1024);
  UnpackLimits limits;
  limits.max_layer_bytes = 4 << 20;
  try {
    unpack_layer(box.layer, box.target, limits);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::resource_exhausted);
    CHECK(std::string(e.what()).find("per-layer limit of 4194304 bytes") != std::string::npos);
    CHECK(std::string(e.what()).find(box.layer) != std::string::npos);
  }
  CHECK(!sfs::exists(box.target + "/after"));
  // It stopped near the cap, not after writing the whole file.
  CHECK(sfs::file_size(box.target + "/zeros") <= (5u << 20));
}

// --- Hostile layers. Each case says what the unpacker does: refuse (invalid_argument naming the
// entry, nothing outside the target touched) or contain (the entry lands inside the target).
// Refused: any ".." component, any path (entry or hardlink target) through a symlink.
// Contained: absolute names (the leading "/" is dropped), entries replacing a symlink.

TEST_CASE("runtime-snapshot: hostile ../escape is refused") {
  Sandbox box;
  SUBCASE("../escape") {
    check_refused(box, {file("../escape", "x")}, "../escape");
  }
  SUBCASE("../../../outside/keep over the sentinel") {
    check_refused(box, {file("../../../outside/keep", "pwned")}, "../../../outside/keep");
  }
}

TEST_CASE("runtime-snapshot: hostile a/../../escape is refused") {
  Sandbox box;
  check_refused(box, {dir("a"), file("a/../../escape", "x")}, "a/../../escape");
}

TEST_CASE("runtime-snapshot: hostile absolute path is contained in the target") {
  Sandbox box;
  auto before = box.outside_state();
  box.unpack({file(box.outside + "/keep", "pwned"), file(box.outside + "/new", "x")});
  CHECK(box.outside_state() == before);
  CHECK(fs::read_file(box.target + box.outside + "/keep") == "pwned");
  CHECK(fs::read_file(box.target + box.outside + "/new") == "x");
}

TEST_CASE("runtime-snapshot: hostile write through an absolute symlink is refused") {
  Sandbox box;
  SUBCASE("a new file through the link") {
    check_refused(box, {symlink_to("evil", box.outside), file("evil/file", "x")}, "evil/file");
  }
  SUBCASE("overwriting the sentinel file through the link") {
    check_refused(box, {symlink_to("evil", box.outside), file("evil/keep", "pwned")}, "evil/keep");
  }
  SUBCASE("directories through the link") {
    check_refused(box, {symlink_to("evil", box.outside), dir("evil/sub/deeper")}, "evil/sub/deeper/");
  }
}

TEST_CASE("runtime-snapshot: hostile write through a relative symlink out of the tree is refused") {
  Sandbox box;
  SUBCASE("evil -> ../../.. then evil/x") {
    check_refused(box, {symlink_to("evil", "../../.."), file("evil/x", "x")}, "evil/x");
  }
  SUBCASE("a device node through evil -> ../../../outside") {
    check_refused(box, {symlink_to("evil", "../../../outside"), node("evil/dev", AE_IFCHR, 1, 3)}, "evil/dev");
  }
}

TEST_CASE("runtime-snapshot: hostile symlink chain is refused") {
  Sandbox box;
  SUBCASE("a -> b -> the sentinel") {
    check_refused(box, {symlink_to("b", box.outside), symlink_to("a", "b"), file("a/x", "x")}, "a/x");
  }
  SUBCASE("a -> d/up -> ../../../..") {
    check_refused(box, {dir("d"), symlink_to("d/up", "../../../.."), symlink_to("a", "d/up"), file("a/outside/keep", "p")},
                  "a/outside/keep");
  }
}

TEST_CASE("runtime-snapshot: hostile whiteout through a symlink is refused") {
  Sandbox box;
  SUBCASE("a whiteout through the link") {
    check_refused(box, {symlink_to("evil", box.outside), file("evil/.wh.keep", "")}, "evil/.wh.keep");
  }
  SUBCASE("an opaque marker through the link") {
    check_refused(box, {symlink_to("evil", box.outside), file("evil/.wh..wh..opq", "")}, "evil/.wh..wh..opq");
  }
  SUBCASE(".wh.. would delete the parent") {
    check_refused(box, {file(".wh..", "")}, ".wh..");
  }
}

TEST_CASE("runtime-snapshot: hostile hardlink to ../outside is refused") {
  Sandbox box;
  check_refused(box, {hardlink("h", "../../../outside/keep")}, "h");
}

TEST_CASE("runtime-snapshot: hostile hardlink through a symlink pointing outside is refused") {
  Sandbox box;
  check_refused(box, {symlink_to("evil", box.outside), hardlink("h", "evil/keep")}, "h");
}

TEST_CASE("runtime-snapshot: hostile absolute hardlink target is looked up inside the target") {
  Sandbox box;
  // "<outside>/keep" names a file of the layer, which does not exist: refused, host untouched.
  check_refused(box, {hardlink("h", box.outside + "/keep")}, "h");
}

TEST_CASE("runtime-snapshot: hostile hardlink to a symlink links the symlink, writes then replace it") {
  Sandbox box;
  auto before = box.outside_state();
  box.unpack({symlink_to("s", box.outside + "/keep"), hardlink("h", "s"), file("h", "pwned")});
  CHECK(box.outside_state() == before);
  CHECK(link_of(box.target + "/s") == box.outside + "/keep");
  CHECK(fs::read_file(box.target + "/h") == "pwned");
}

TEST_CASE("runtime-snapshot: hostile directory entry over a symlink replaces the symlink") {
  Sandbox box;
  auto before = box.outside_state();
  box.unpack({symlink_to("evil", box.outside), dir("evil"), file("evil/file", "inside")});
  CHECK(box.outside_state() == before);
  CHECK(S_ISDIR(lstat_of(box.target + "/evil").st_mode));
  CHECK(fs::read_file(box.target + "/evil/file") == "inside");
}

TEST_CASE("runtime-snapshot: hostile device nodes land inside the target") {
  Sandbox box;
  auto before = box.outside_state();
  box.unpack({node("/dev/mem-copy", AE_IFCHR, 1, 1, 0600), node(box.outside + "/blk", AE_IFBLK, 7, 0)});
  CHECK(box.outside_state() == before);
  CHECK(S_ISCHR(lstat_of(box.target + "/dev/mem-copy").st_mode));
  CHECK(S_ISBLK(lstat_of(box.target + box.outside + "/blk").st_mode));
  CHECK(!lexists("/dev/mem-copy"));
}
