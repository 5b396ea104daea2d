// The sealed copy vpcri-init runs from: the kernel must refuse every change to it, through the fd
// and through /proc/self/fd (the way a container reopens a /proc/<pid>/exe it got hold of).
#include "runtime/container/sealed_binary.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fs.h"

using vpcri::runtime::container::SealedBinary;

TEST_CASE("a sealed copy runs, equals its file and cannot be written, shrunk or grown") {
  SealedBinary copy = SealedBinary::copy_of("/bin/true");
  CHECK(copy.source() == "/bin/true");
  int seals = ::fcntl(copy.fd(), F_GET_SEALS);
  CHECK((seals & F_SEAL_SEAL) != 0);
  CHECK((seals & F_SEAL_WRITE) != 0);
  CHECK((seals & F_SEAL_SHRINK) != 0);
  CHECK((seals & F_SEAL_GROW) != 0);
  CHECK((::fcntl(copy.fd(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(::fcntl(copy.fd(), F_ADD_SEALS, 0) != 0);  // F_SEAL_SEAL: the seals stay

  CHECK(::pwrite(copy.fd(), "x", 1, 0) < 0);
  CHECK(errno == EPERM);
  CHECK(::ftruncate(copy.fd(), 0) != 0);
  CHECK(::ftruncate(copy.fd(), 1 << 30) != 0);
  const std::string reopen = "/proc/self/fd/" + std::to_string(copy.fd());
  {
    // The kernel lets a writer open it (and while one does, it cannot be executed: ETXTBSY),
    // but every write fails.
    vpcri::UniqueFd writable(::open(reopen.c_str(), O_WRONLY | O_CLOEXEC));
    if (writable) CHECK(::write(writable.get(), "x", 1) < 0);
  }
  CHECK(::open(reopen.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC) < 0);
  CHECK(vpcri::fs::read_file(reopen) == vpcri::fs::read_file("/bin/true"));

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char arg0[] = "true";
    char* argv[] = {arg0, nullptr};
    char* envp[] = {nullptr};
    ::execveat(copy.fd(), "", argv, envp, AT_EMPTY_PATH);
    ::_exit(100 + errno);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, "exit " << WEXITSTATUS(status) << " (100 + errno: execveat failed)");
}

TEST_CASE("no sealed copy of what is not a regular file") {
  CHECK_THROWS_WITH_AS(SealedBinary::copy_of("/nonexistent/vpcri-init"), doctest::Contains("/nonexistent/vpcri-init"),
                       vpcri::Error);
  CHECK_THROWS_WITH_AS(SealedBinary::copy_of("/tmp"), "/tmp is not a regular file", vpcri::Error);
}
