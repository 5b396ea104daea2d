#include "runtime/snapshot/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/failpoint.h"
#include "common/fd.h"
#include "common/log.h"
#include "runtime/snapshot/fs_at.h"

namespace vpcri::runtime::snapshot {
namespace {

// libarchive's message for the last error; it may have none (a gzip header cut short fails
// archive_read_open with a NULL string), and a NULL must never reach std::string.
std::string archive_error(archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown error (libarchive gave no message)";
}

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
// aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless outside aufs, skipped as containerd does.
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

using Times = std::array<timespec, 2>;  // atime, mtime, as futimens wants them

// "/proc/self/fd/N": reaches the inode an O_PATH fd holds for calls that have no fd variant
// (chmod, setxattr, utimensat on device nodes and fifos, which must not be opened).
std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out;
}

class LayerUnpacker {
 public:
  LayerUnpacker(std::string archive_path, int root_fd, const UnpackLimits& limits)
      : archive_path_(std::move(archive_path)), root_(root_fd), limits_(limits) {}
  // After every header and data block: the decompressed stream must stay within the limits.
  void check_limits(archive* a) {
    const auto now = static_cast<uint64_t>(archive_filter_bytes(a, 0));
    check_unpack_limits(limits_, archive_path_, now, now - std::min(now, counted_));
    counted_ = std::max(now, counted_);
  }

  void unpack(archive* a, archive_entry* entry);
  void finish();
  const UnpackStats& stats() const { return stats_; }

 private:
  [[noreturn]] void refuse(const std::string& why) const {
    throw Error(Errc::invalid_argument, "layer " + archive_path_ + ": entry \"" + entry_name_ + "\": " + why);
  }
  [[noreturn]] void fail(const std::string& what, int err = errno) const {
    throw_errno("layer " + archive_path_ + ": entry \"" + entry_name_ + "\": " + what, err);
  }

  std::vector<std::string> split(const char* raw, const char* what = "the name");
  UniqueFd open_dir(const std::vector<std::string>& parts, size_t count, bool create);
  bool clear_slot(int parent, const std::string& rel, const std::string& name, bool keep_dir);
  void whiteout(int parent, const std::string& rel, const std::string& victim);
  void make_opaque(int dir_fd, const std::string& rel);

  void make_hardlink(archive_entry* entry, int parent, const std::string& rel, const std::string& name);
  void make_dir(archive_entry* entry, int parent, const std::string& rel, const std::string& name);
  void make_file(archive* a, archive_entry* entry, int parent, const std::string& name);
  void make_symlink(archive_entry* entry, int parent, const std::string& name);
  void make_node(archive_entry* entry, int parent, const std::string& name);

  void set_dir_metadata(archive_entry* entry, int dir_fd, const std::string& rel);
  void set_xattrs(archive_entry* entry, int fd, bool through_proc);
  std::pair<uid_t, gid_t> owner(archive_entry* entry) const;

  std::string archive_path_;
  int root_;
  const UnpackLimits& limits_;
  uint64_t counted_ = 0;  // stream bytes already added to limits_.image_bytes
  UnpackStats stats_;
  std::string entry_name_;                 // the current entry, for messages
  std::set<std::string> whiteouts_;        // whiteouts this layer created, by relative path
  std::map<std::string, Times> dir_times_; // applied last: creating children changes them
};

Times entry_times(archive_entry* entry) {
  Times t{};
  if (!archive_entry_mtime_is_set(entry)) {
    t[0].tv_nsec = t[1].tv_nsec = UTIME_OMIT;
    return t;
  }
  t[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  t[0] = archive_entry_atime_is_set(entry) ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)} : t[1];
  return t;
}

// Splits an entry name into path components. A leading "/" is dropped (GNU tar does the same:
// an absolute name lands inside the target, never on the host). "." and empty components are
// dropped; ".." is refused outright: a layer diff never needs it and it is the classic escape.
std::vector<std::string> LayerUnpacker::split(const char* raw, const char* what) {
  if (raw == nullptr || *raw == '\0') refuse(std::string(what) + " is empty");
  std::vector<std::string> parts;
  std::string_view rest(raw);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") refuse(std::string(what) + " contains a \"..\" component");
    parts.emplace_back(part);
  }
  return parts;
}

// Opens the directory made of the first `count` components, beneath the root, without ever
// following a symlink: an entry that would be written through a symlink (its own or one the
// archive planted earlier, e.g. `link -> /etc` then `link/passwd`) is refused. With `create`,
// missing directories are made (mode 0755, root-owned) as tar does for implicit parents.
UniqueFd LayerUnpacker::open_dir(const std::vector<std::string>& parts, size_t count, bool create) {
  UniqueFd cur = open_beneath(root_, ".", O_PATH | O_DIRECTORY);
  if (!cur) fail("open the layer root");
  for (size_t i = 0; i < count; ++i) {
    UniqueFd next = open_beneath(cur.get(), parts[i], O_PATH | O_DIRECTORY);
    if (!next && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), parts[i].c_str(), 0700) != 0 && errno != EEXIST) fail("mkdir " + join(parts, i + 1));
      UniqueFd made = open_beneath(cur.get(), parts[i], O_RDONLY | O_DIRECTORY);
      if (made && ::fchmod(made.get(), 0755) != 0) fail("chmod " + join(parts, i + 1));
      next = open_beneath(cur.get(), parts[i], O_PATH | O_DIRECTORY);
    }
    if (!next) {
      std::string path = join(parts, i + 1);
      switch (errno) {
        case ELOOP: refuse("the path goes through the symlink \"" + path + "\"");
        case ENOTDIR: refuse("\"" + path + "\" is not a directory");
        case EXDEV: refuse("the path \"" + path + "\" leaves the layer");
        case ENOENT: refuse("\"" + path + "\" does not exist in this layer");
        default: fail("open " + path);
      }
    }
    cur = std::move(next);
  }
  return cur;
}

// Makes room for a new entry `name` (path `rel`) in `parent`, the way tar replaces: an existing
// directory stays when a directory comes again (its attributes get updated), anything else is
// removed first. Returns whether an existing directory was kept.
bool LayerUnpacker::clear_slot(int parent, const std::string& rel, const std::string& name, bool keep_dir) {
  struct stat st{};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    fail("stat " + rel);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) return true;
    remove_tree_at(parent, name);
    dir_times_.erase(rel);
    return false;
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0) fail("remove the earlier " + rel);
  return false;
}

void LayerUnpacker::make_opaque(int dir_fd, const std::string& rel) {
  if (::fsetxattr(dir_fd, kOpaqueXattr, "y", 1, 0) != 0) fail("set " + std::string(kOpaqueXattr) + " on " + (rel.empty() ? "/" : rel));
}

// `.wh.NAME`: NAME of the lower layers is deleted. Only lower layers are affected (OCI layer.md:
// a whiteout never hides an entry of its own layer), whatever the order of the two entries:
//  - NAME not (yet) here: a 0:0 char device, overlay's whiteout. A later NAME replaces it.
//  - NAME is a directory of this layer: it becomes opaque (its lower version is gone, ours stays).
//  - NAME is another file of this layer: nothing to do, non-directories hide lower ones anyway.
void LayerUnpacker::whiteout(int parent, const std::string& rel, const std::string& victim) {
  struct stat st{};
  if (::fstatat(parent, victim.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) {
      UniqueFd dir = open_beneath(parent, victim, O_RDONLY | O_DIRECTORY);
      if (!dir) fail("open " + rel);
      make_opaque(dir.get(), rel);
    }
    return;
  }
  if (errno != ENOENT) fail("stat " + rel);
  if (::mknodat(parent, victim.c_str(), S_IFCHR, makedev(0, 0)) != 0) fail("create the whiteout " + rel);
  whiteouts_.insert(rel);
}

std::pair<uid_t, gid_t> LayerUnpacker::owner(archive_entry* entry) const {
  // -1 would mean "leave unchanged" to chown; such ids are not valid in a layer.
  constexpr int64_t kMaxId = 0xfffffffeLL;
  int64_t uid = archive_entry_uid(entry);
  int64_t gid = archive_entry_gid(entry);
  if (uid < 0 || uid > kMaxId || gid < 0 || gid > kMaxId) {
    refuse("invalid owner " + std::to_string(uid) + ":" + std::to_string(gid));
  }
  return {static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

// Sets the entry's xattrs on `fd` (or, for an O_PATH fd of a device node or fifo, on the inode
// it holds). overlayfs' own xattrs are dropped: a layer must not steer the overlay (redirects,
// metacopy, origin, opaque); OCI expresses those changes with whiteout files only.
void LayerUnpacker::set_xattrs(archive_entry* entry, int fd, bool through_proc) {
  if (archive_entry_xattr_reset(entry) == 0) return;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view key(name);
    if (starts_with(key, "trusted.overlay.") || starts_with(key, "user.overlay.")) {
      log::warn("layer entry carries an overlayfs xattr; ignored",
                {{"layer", archive_path_}, {"entry", entry_name_}, {"xattr", std::string(key)}});
      continue;
    }
    int rc = through_proc ? ::setxattr(proc_fd_path(fd).c_str(), name, value, size, 0)
                          : ::fsetxattr(fd, name, value, size, 0);
    if (rc == 0) continue;
    if (errno == EOPNOTSUPP) {
      log::warn("filesystem does not support an xattr of the layer; skipped",
                {{"layer", archive_path_}, {"entry", entry_name_}, {"xattr", std::string(key)}});
      continue;
    }
    fail("set xattr " + std::string(key));
  }
}

void LayerUnpacker::set_dir_metadata(archive_entry* entry, int dir_fd, const std::string& rel) {
  auto [uid, gid] = owner(entry);
  if (::fchown(dir_fd, uid, gid) != 0) fail("chown");
  if (::fchmod(dir_fd, archive_entry_perm(entry) & 07777) != 0) fail("chmod");
  set_xattrs(entry, dir_fd, false);
  dir_times_[rel] = entry_times(entry);
}

void LayerUnpacker::make_hardlink(archive_entry* entry, int parent, const std::string& rel, const std::string& name) {
  std::vector<std::string> target = split(archive_entry_hardlink(entry), "the hardlink target");
  if (target.empty()) refuse("a hardlink to the layer root");
  std::string target_rel = join(target, target.size());
  UniqueFd target_parent = open_dir(target, target.size() - 1, false);
  struct stat target_st{};
  if (::fstatat(target_parent.get(), target.back().c_str(), &target_st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) refuse("the hardlink target \"" + target_rel + "\" does not exist in this layer");
    fail("stat " + target_rel);
  }
  if (S_ISDIR(target_st.st_mode)) refuse("the hardlink target \"" + target_rel + "\" is a directory");
  struct stat st{};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == target_st.st_dev &&
      st.st_ino == target_st.st_ino) {
    return;  // already this very inode (a repeated link, or a link to itself)
  }
  clear_slot(parent, rel, name, false);
  whiteouts_.erase(rel);
  // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself, as tar does.
  if (::linkat(target_parent.get(), target.back().c_str(), parent, name.c_str(), 0) != 0) {
    fail("hardlink to " + target_rel);
  }
}

void LayerUnpacker::make_dir(archive_entry* entry, int parent, const std::string& rel, const std::string& name) {
  bool kept = clear_slot(parent, rel, name, true);
  bool replaces_whiteout = whiteouts_.erase(rel) > 0;
  if (!kept && ::mkdirat(parent, name.c_str(), 0700) != 0) fail("mkdir");
  UniqueFd dir = open_beneath(parent, name, O_RDONLY | O_DIRECTORY);
  if (!dir) fail("open the new directory");
  // The layer deleted the lower NAME and made a new one: the lower contents must stay hidden.
  if (replaces_whiteout) make_opaque(dir.get(), rel);
  set_dir_metadata(entry, dir.get(), rel);
}

void LayerUnpacker::make_file(archive* a, archive_entry* entry, int parent, const std::string& name) {
  // O_EXCL + O_NOFOLLOW: the name was just cleared, so this creates a fresh inode and can never
  // write through a symlink or into an earlier hardlinked inode.
  UniqueFd fd(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) fail("create");
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    int rc = archive_read_data_block(a, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      throw Error(Errc::invalid_argument, "layer " + archive_path_ + ": entry \"" + entry_name_ +
                                              "\": corrupt data: " + archive_error(a));
    }
    const char* p = static_cast<const char*>(block);
    while (size > 0) {  // blocks carry offsets: sparse files keep their holes
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write");
      }
      p += n;
      offset += n;
      size -= static_cast<size_t>(n);
      stats_.bytes += static_cast<uint64_t>(n);
    }
    check_limits(a);
  }
  // A sparse file may end in a hole that no data block covers.
  if (archive_entry_size_is_set(entry) && ::ftruncate(fd.get(), archive_entry_size(entry)) != 0) fail("truncate");
  // Order matters: chown clears setuid/setgid and security.capability, writing clears
  // capabilities too, so data, then owner, then mode, then xattrs.
  auto [uid, gid] = owner(entry);
  if (::fchown(fd.get(), uid, gid) != 0) fail("chown");
  if (::fchmod(fd.get(), archive_entry_perm(entry) & 07777) != 0) fail("chmod");
  set_xattrs(entry, fd.get(), false);
  Times times = entry_times(entry);
  if (::futimens(fd.get(), times.data()) != 0) fail("set times");
}

// Symlinks keep owner and times; their xattrs are not restored: Linux has no race-free
// set-xattr-on-a-symlink call before 6.13 (setxattrat), and user.* xattrs are not allowed on
// symlinks anyway.
void LayerUnpacker::make_symlink(archive_entry* entry, int parent, const std::string& name) {
  const char* target = archive_entry_symlink(entry);
  if (target == nullptr || *target == '\0') refuse("a symlink without a target");
  if (::symlinkat(target, parent, name.c_str()) != 0) fail("symlink");
  auto [uid, gid] = owner(entry);
  if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) fail("chown");
  Times times = entry_times(entry);
  if (::utimensat(parent, name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) fail("set times");
}

// Character and block devices and fifos. They are never opened (that would talk to a device or
// block on a fifo): an O_PATH fd pins the inode we made and /proc/self/fd/N reaches it.
void LayerUnpacker::make_node(archive_entry* entry, int parent, const std::string& name) {
  mode_t type = archive_entry_filetype(entry);
  dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
  if (::mknodat(parent, name.c_str(), type | 0600, dev) != 0) fail("mknod");
  UniqueFd node = open_beneath(parent, name, O_PATH);
  if (!node) fail("open the new node");
  auto [uid, gid] = owner(entry);
  if (::fchownat(node.get(), "", uid, gid, AT_EMPTY_PATH) != 0) fail("chown");
  std::string path = proc_fd_path(node.get());
  if (::chmod(path.c_str(), archive_entry_perm(entry) & 07777) != 0) fail("chmod");
  set_xattrs(entry, node.get(), true);
  Times times = entry_times(entry);
  if (::utimensat(AT_FDCWD, path.c_str(), times.data(), 0) != 0) fail("set times");
}

void LayerUnpacker::unpack(archive* a, archive_entry* entry) {
  const char* raw_name = archive_entry_pathname(entry);
  entry_name_ = raw_name != nullptr ? raw_name : "";
  ++stats_.entries;
  std::vector<std::string> parts = split(raw_name);
  const char* hardlink = archive_entry_hardlink(entry);
  mode_t type = archive_entry_filetype(entry);

  if (parts.empty()) {  // "./": the layer root's own attributes
    if (type != AE_IFDIR || hardlink != nullptr) refuse("the layer root must be a directory");
    UniqueFd dir = open_beneath(root_, ".", O_RDONLY | O_DIRECTORY);
    if (!dir) fail("open the layer root");
    set_dir_metadata(entry, dir.get(), "");
    return;
  }

  const std::string& name = parts.back();
  std::string rel = join(parts, parts.size());
  UniqueFd parent = open_dir(parts, parts.size() - 1, true);

  if (starts_with(name, kWhiteoutPrefix)) {
    if (name == kOpaqueMarker) {
      UniqueFd dir = open_beneath(parent.get(), ".", O_RDONLY | O_DIRECTORY);
      if (!dir) fail("open the directory to make opaque");
      make_opaque(dir.get(), join(parts, parts.size() - 1));
      return;
    }
    if (starts_with(name, kWhiteoutMetaPrefix)) {
      log::debug("skipping aufs metadata in layer", {{"layer", archive_path_}, {"entry", entry_name_}});
      return;
    }
    std::string victim = name.substr(kWhiteoutPrefix.size());
    // ".wh.", ".wh..", ".wh..." would delete the directory holding them or its parent.
    if (victim.empty() || victim == "." || victim == "..") refuse("a whiteout without a valid name to delete");
    parts.back() = victim;
    whiteout(parent.get(), join(parts, parts.size()), victim);
    return;
  }

  if (hardlink != nullptr) {
    make_hardlink(entry, parent.get(), rel, name);
    return;
  }
  if (type == AE_IFDIR) {
    make_dir(entry, parent.get(), rel, name);
    return;
  }
  if (type != AE_IFREG && type != AE_IFLNK && type != AE_IFCHR && type != AE_IFBLK && type != AE_IFIFO) {
    refuse("unsupported file type " + std::to_string(type));
  }
  clear_slot(parent.get(), rel, name, false);
  whiteouts_.erase(rel);
  switch (type) {
    case AE_IFREG: make_file(a, entry, parent.get(), name); break;
    case AE_IFLNK: make_symlink(entry, parent.get(), name); break;
    default: make_node(entry, parent.get(), name); break;
  }
}

void LayerUnpacker::finish() {
  for (const auto& [rel, times] : dir_times_) {
    UniqueFd dir = open_beneath(root_, rel, O_RDONLY | O_DIRECTORY);
    if (!dir) continue;  // replaced by a later entry of another type
    if (::futimens(dir.get(), times.data()) != 0) {
      throw_errno("layer " + archive_path_ + ": set times of directory \"" + rel + "\"");
    }
  }
  // The caller records the snapshot as ready after this returns: make that true after a crash.
  if (::syncfs(root_) != 0) throw_errno("layer " + archive_path_ + ": syncfs");
}

ArchivePtr open_layer(const std::string& archive_path) {
  ArchivePtr a(archive_read_new());
  if (!a) throw Error(Errc::resource_exhausted, "archive_read_new failed");
  // Only what OCI layers use. No filter_all: it would run external programs (lrzip, lzop,
  // grzip) chosen by the content of an untrusted file.
  archive_read_support_filter_none(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());    // ustar, pax and GNU tar
  archive_read_support_format_empty(a.get());  // a zero-byte layer has no entries
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    int err = archive_errno(a.get());
    std::string msg = "layer " + archive_path + ": cannot open: " + archive_error(a.get());
    throw Error(err == ENOENT ? Errc::not_found : Errc::invalid_argument, msg);
  }
  return a;
}

void require_empty_dir(int fd, const std::string& target_dir) {
  UniqueFd dup_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd) throw_errno("dup fd of " + target_dir);
  DIR* dir = ::fdopendir(dup_fd.release());
  if (dir == nullptr) throw_errno("opendir " + target_dir);
  bool empty = true;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  // Whiteout and replace logic rely on every existing file coming from this very layer.
  if (!empty) throw Error(Errc::failed_precondition, "unpack target " + target_dir + " is not empty");
}

}  // namespace

void check_unpack_limits(const UnpackLimits& limits, const std::string& layer, uint64_t layer_bytes, uint64_t delta) {
  auto too_big = [&](const char* what, uint64_t cap) {
    return Error(Errc::resource_exhausted, "layer " + layer + ": decompresses to more than the " + what + " limit of " +
                                               std::to_string(cap) + " bytes");
  };
  if (limits.max_layer_bytes != 0 && layer_bytes > limits.max_layer_bytes) {
    throw too_big("per-layer", limits.max_layer_bytes);
  }
  if (limits.image_bytes == nullptr) return;
  const uint64_t total = limits.image_bytes->fetch_add(delta) + delta;
  if (limits.max_image_bytes != 0 && total > limits.max_image_bytes) throw too_big("per-image", limits.max_image_bytes);
}

UnpackStats unpack_layer(const std::string& archive_path, const std::string& target_dir, const UnpackLimits& limits) {
  UniqueFd root(::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) throw_errno("open unpack target " + target_dir);
  require_empty_dir(root.get(), target_dir);
  ArchivePtr a = open_layer(archive_path);

  LayerUnpacker unpacker(archive_path, root.get(), limits);
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      throw Error(Errc::invalid_argument, "layer " + archive_path + ": corrupt archive after " +
                                              std::to_string(unpacker.stats().entries) + " entries: " +
                                              archive_error(a.get()));
    }
    if (rc == ARCHIVE_WARN) {
      log::warn("layer archive warning", {{"layer", archive_path}, {"warning", archive_error(a.get())}});
    }
    unpacker.check_limits(a.get());
    unpacker.unpack(a.get(), entry);
    // Crash tests: the layer half unpacked (its first entry on disk).
    if (unpacker.stats().entries == 1) failpoint("image.unpacking");
  }
  unpacker.finish();
  return unpacker.stats();
}

}  // namespace vpcri::runtime::snapshot
