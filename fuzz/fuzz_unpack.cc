// Fuzz target: unpacking an image layer (tar, gzip or zstd) into a snapshot directory, as a pull
// does with a registry's bytes. Any input must unpack or throw vpcri::Error, and nothing may
// appear outside the target directory.
//
// Everything is written to a tmpfs that is mounted nowhere: fsopen + fsmount give a detached
// mount only this process holds (as an fd, reached through /proc/self/fd/N), so a long run never
// touches the disk, and whatever it creates (device nodes, setuid files) vanishes with the
// process, even when it dies of a crash. The scratch root holds the input file and the target;
// after each input, anything else in it means an entry escaped the target: a bug (trap).
// Without the privilege to mount, a temp directory stands in.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "common/error.h"
#include "common/log.h"
#include "runtime/snapshot/unpack.h"

namespace {

std::string scratch;              // the scratch root, as a path
std::string scratch_dir_to_remove;  // the temp directory standing in for the tmpfs, if any

void remove_scratch_dir() {
  std::error_code ignored;
  if (!scratch_dir_to_remove.empty()) std::filesystem::remove_all(scratch_dir_to_remove, ignored);
}

// A detached tmpfs: path "/proc/self/fd/N" while the fd stays open (it never closes: the
// process's end unmounts it). "" when it cannot be made.
std::string detached_tmpfs() {
  int fs_fd = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs_fd < 0) return "";
  int mount_fd = -1;
  if (::fsconfig(fs_fd, FSCONFIG_SET_STRING, "size", "256m", 0) == 0 &&
      ::fsconfig(fs_fd, FSCONFIG_SET_STRING, "mode", "0700", 0) == 0 &&
      ::fsconfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    mount_fd = ::fsmount(fs_fd, FSMOUNT_CLOEXEC, 0);
  ::close(fs_fd);
  return mount_fd < 0 ? "" : "/proc/self/fd/" + std::to_string(mount_fd);
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vpcri::log::set_level(vpcri::log::Level::error);
  scratch = detached_tmpfs();
  if (scratch.empty()) {
    char tmpl[] = "/tmp/vpcri-fuzz-unpack-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    scratch = scratch_dir_to_remove = tmpl;
    std::atexit(remove_scratch_dir);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string layer = scratch + "/layer";
  const std::string target = scratch + "/target";
  std::filesystem::remove_all(target);
  std::filesystem::create_directory(target);
  FILE* f = std::fopen(layer.c_str(), "wb");
  if (f == nullptr || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) std::abort();

  // Caps keep one input's decompressed stream small (a compression bomb is refused, not written).
  vpcri::runtime::snapshot::UnpackLimits limits;
  limits.max_layer_bytes = 64 << 20;
  try {
    vpcri::runtime::snapshot::unpack_layer(layer, target, limits);
  } catch (const vpcri::Error&) {
  }
  if (names_in(scratch) != std::set<std::string>{"layer", "target"}) {
    std::fprintf(stderr, "unpack created something outside its target directory\n");
    __builtin_trap();
  }
  return 0;
}
