// What vpcri-init runs from: a private read-only mount of its directory. The kernel must refuse
// every way of opening it for writing through that mount (the way a container reopens a
// /proc/<pid>/exe it got hold of), so no one can change it or make its exec fail with ETXTBSY.
#include "runtime/container/readonly_binary.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/container/test_support.h"

using vpcri::UniqueFd;
using vpcri::runtime::container::ReadOnlyBinary;
using vpcri::runtime::container::test::TempDir;
namespace stdfs = std::filesystem;

namespace {

int count_mounts() {
  const std::string info = vpcri::fs::read_file("/proc/self/mountinfo");
  int n = 0;
  for (char c : info) n += c == '\n';
  return n;
}

// Starts the binary at `fd` as a child that sleeps (`sleep` copied as the binary): pid.
pid_t run_sleeping(int fd) {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char arg0[] = "sleep", arg1[] = "30";
    char* argv[] = {arg0, arg1, nullptr};
    char* envp[] = {nullptr};
    ::execveat(fd, "", argv, envp, AT_EMPTY_PATH);
    ::_exit(100 + errno);
  }
  return child;
}

int open_errno(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  return fd ? 0 : errno;
}

}  // namespace

TEST_CASE("the binary runs from a read-only private mount that no one can open for writing") {
  TempDir dir;
  const std::string host = dir.path + "/vpcri-init";
  stdfs::copy_file("/bin/sleep", host);
  const std::string original = vpcri::fs::read_file(host);
  const int mounts = count_mounts();

  ReadOnlyBinary bin = ReadOnlyBinary::open(host);
  CHECK(bin.source() == host);
  CHECK((::fcntl(bin.fd(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(count_mounts() == mounts);  // detached: in no mount namespace, not even vpcrid's

  pid_t child = run_sleeping(bin.fd());
  const std::string exe = "/proc/" + std::to_string(child) + "/exe";
  // Wait until the child runs the binary (its exe switches from this test to the file).
  for (int i = 0; i < 1000 && stdfs::read_symlink(exe).filename() != "vpcri-init"; i++) ::usleep(1000);
  CHECK(stdfs::read_symlink(exe) == "/vpcri-init");  // the path within the private mount

  // A container's ways in: the running process's exe, and the held fd reopened later. While the
  // file runs the kernel says ETXTBSY first; either way no one ever gets a writer.
  const std::string held = "/proc/self/fd/" + std::to_string(bin.fd());
  for (const std::string& path : {exe, held}) {
    CAPTURE(path);
    for (int flags : {O_WRONLY, O_RDWR}) {
      const int err = open_errno(path, flags);
      CHECK_MESSAGE((err == EROFS || err == ETXTBSY), "errno " << err);
    }
    CHECK(open_errno(path, O_WRONLY | O_TRUNC) == EROFS);
    CHECK(::truncate(path.c_str(), 0) != 0);
    CHECK(::chmod(path.c_str(), 04777) != 0);
    CHECK(open_errno(path, O_RDONLY) == 0);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK_MESSAGE(WIFSIGNALED(status), "exit " << WEXITSTATUS(status) << " (100 + errno: execveat failed)");
  // What a container gets is the file, not the mount's root: even with CAP_SYS_ADMIN (this test
  // runs as root) the read-only flag cannot be cleared through it, nor the mount be remounted.
  struct mount_attr writable{};
  writable.attr_clr = MOUNT_ATTR_RDONLY;
  CHECK(::mount_setattr(bin.fd(), "", AT_EMPTY_PATH, &writable, sizeof writable) != 0);
  CHECK(errno == EINVAL);
  CHECK(::mount(nullptr, held.c_str(), nullptr, MS_REMOUNT | MS_BIND, nullptr) != 0);

  // Nothing runs it now: a writable mount would let the writer in here (as a sealed memfd does).
  CHECK(open_errno(held, O_WRONLY) == EROFS);
  CHECK(open_errno(held, O_RDWR) == EROFS);
  CHECK(vpcri::fs::read_file(host) == original);

  // While someone holds it open for reading, it still runs.
  UniqueFd reader(::open(held.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(reader);
  child = run_sleeping(bin.fd());
  for (int i = 0; i < 1000 && stdfs::read_symlink("/proc/" + std::to_string(child) + "/exe") != "/vpcri-init"; i++) {
    ::usleep(1000);
  }
  CHECK(stdfs::read_symlink("/proc/" + std::to_string(child) + "/exe") == "/vpcri-init");
  ::kill(child, SIGKILL);
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
}

TEST_CASE("a symlink to the binary: the file it points to runs, read-only") {
  TempDir dir;
  stdfs::create_directory(dir.path + "/real");
  stdfs::copy_file("/bin/true", dir.path + "/real/vpcri-init");
  stdfs::create_symlink(dir.path + "/real/vpcri-init", dir.path + "/link");
  ReadOnlyBinary bin = ReadOnlyBinary::open(dir.path + "/link");
  CHECK(open_errno("/proc/self/fd/" + std::to_string(bin.fd()), O_WRONLY) == EROFS);
  struct stat a{}, b{};
  REQUIRE(::fstat(bin.fd(), &a) == 0);
  REQUIRE(::stat((dir.path + "/real/vpcri-init").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
}

TEST_CASE("no read-only binary from what is not a regular executable file") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(ReadOnlyBinary::open("/nonexistent/vpcri-init"), doctest::Contains("/nonexistent/vpcri-init"),
                       vpcri::Error);
  CHECK_THROWS_WITH_AS(ReadOnlyBinary::open(dir.path), (dir.path + " is not a regular file").c_str(), vpcri::Error);
  vpcri::fs::write_file_atomic(dir.path + "/plain", "data", 0644);
  CHECK_THROWS_WITH_AS(ReadOnlyBinary::open(dir.path + "/plain"), (dir.path + "/plain is not executable").c_str(),
                       vpcri::Error);
}
