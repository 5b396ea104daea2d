#include "runtime/container/sealed_binary.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable memfd (without it newer kernels warn, or refuse)
#endif

namespace vpcri::runtime::container {
namespace {

constexpr int kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

UniqueFd create_memfd(const std::string& name) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!fd && errno == EINVAL) fd.reset(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));  // < 6.3
  if (!fd) throw_errno("memfd_create for a sealed copy of " + name + " (vm.memfd_noexec must allow executables)");
  return fd;
}

void write_all(int fd, const std::string& data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("write the sealed copy of " + what);
    done += static_cast<size_t>(n);
  }
}

std::string read_back(int fd, size_t size, const std::string& what) {
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("read back the sealed copy of " + what);
    done += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace

SealedBinary SealedBinary::copy_of(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid_argument, path + " is not a regular file");
  const std::string original = fs::read_file(path);
  const std::string name = path.substr(path.find_last_of('/') + 1);
  UniqueFd fd = create_memfd(name);
  write_all(fd.get(), original, path);
  if (::fcntl(fd.get(), F_ADD_SEALS, kAllSeals) != 0) throw_errno("seal the copy of " + path);

  // Verified after sealing: what was checked is what will run.
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) throw_errno("read the seals of the copy of " + path);
  if ((seals & kAllSeals) != kAllSeals) {
    throw Error(Errc::internal, "the copy of " + path + " is not sealed (seals " + std::to_string(seals) + ")");
  }
  if (read_back(fd.get(), original.size(), path) != original || fs::read_file(path) != original) {
    throw Error(Errc::failed_precondition, path + " changed while vpcrid copied it; start vpcrid again once it is in place");
  }
  return SealedBinary(path, std::move(fd));
}

}  // namespace vpcri::runtime::container
