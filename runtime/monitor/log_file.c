/* See log_file.h. */
#define _GNU_SOURCE
#include "log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* musl ships no kernel uapi headers (the monitor is built against it): openat2's argument and
 * flags, as the kernel ABI fixes them, when <linux/openat2.h> is not there. */
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
struct open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#endif

static int open_beneath(int dirfd, const char *name, int flags, mode_t mode) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY));  /* O_PATH allows no more */
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
}

static int fail(int fd, int err, const char **why, const char *reason) {
  if (fd >= 0) close(fd);
  *why = reason;
  errno = err;
  return -1;
}

int log_file_open(const char *dir, const char *path, const char **why) {
  char buf[PATH_MAX];
  *why = "";
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return fail(-1, ENAMETOOLONG, why, "");
  char *rel;
  int fd;
  if (dir != NULL) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    if (strncmp(path, dir, len) != 0 || path[len] != '/') {
      return fail(-1, EINVAL, why, "the log file is not in the log directory");
    }
    rel = buf + len + 1;
    fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  } else {
    char *slash = strrchr(buf, '/');
    if (slash == NULL) return fail(-1, EINVAL, why, "the log path is not absolute");
    *slash = '\0';
    rel = slash + 1;
    fd = open(slash == buf ? "/" : buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0) return fail(-1, errno, why, "the log directory cannot be opened");

  /* One component at a time: each directory is created if missing, then entered beneath the
   * one before, so a symlink anywhere on the way is refused rather than followed. */
  char *name = rel;
  for (;;) {
    while (*name == '/') name++;
    char *end = strchr(name, '/');
    if (end != NULL) *end = '\0';
    if (*name == '\0') return fail(fd, EINVAL, why, "the log path names no file");
    if (strcmp(name, "..") == 0) return fail(fd, EINVAL, why, "the log path contains \"..\"");
    if (end == NULL) break;
    if (strcmp(name, ".") != 0) {
      if (mkdirat(fd, name, 0755) != 0 && errno != EEXIST) return fail(fd, errno, why, "");
      int next = open_beneath(fd, name, O_PATH | O_DIRECTORY, 0);
      if (next < 0) {
        return fail(fd, errno, why, errno == ELOOP ? "a directory on the way is a symlink" : "");
      }
      close(fd);
      fd = next;
    }
    name = end + 1;
  }

  int log = open_beneath(fd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0640);
  if (log >= 0 || errno != EEXIST) {
    int e = errno;
    close(fd);
    if (log < 0) return fail(-1, e, why, e == ELOOP ? "a symlink is on the way" : "");
    return log;
  }
  /* It exists: pin it without opening it for I/O, check what it is, then reopen that very file
   * (a FIFO or device node must not block or be written; a second link may be a host file). */
  int pinned = open_beneath(fd, name, O_PATH, 0);
  int e = errno;
  close(fd);
  if (pinned < 0) return fail(-1, e, why, e == ELOOP ? "the log file is a symlink" : "");
  struct stat st;
  if (fstat(pinned, &st) != 0) return fail(pinned, errno, why, "");
  if (!S_ISREG(st.st_mode)) return fail(pinned, EINVAL, why, "the log file is not a regular file");
  if (st.st_nlink != 1) return fail(pinned, EINVAL, why, "the log file has other hard links");
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", pinned);
  log = open(self, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
  e = errno;
  close(pinned);
  if (log < 0) return fail(-1, e, why, "");
  return log;
}
