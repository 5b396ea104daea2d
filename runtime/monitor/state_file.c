/* See state_file.h. */
#define _GNU_SOURCE
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int state_write(const char *dir, const char *name, const char *content) {
  char path[4096], tmp[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
      snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp) {
    return -ENAMETOOLONG;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  int err = write_all(fd, content, strlen(content));
  if (close(fd) != 0 && err == 0) err = -errno;
  if (err == 0 && rename(tmp, path) != 0) err = -errno;
  if (err != 0) unlink(tmp);
  return err;
}

unsigned long long proc_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and ')': fields resume after the last ')'. */
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] != ' ') return 0;
  p += 2;
  if (*p == 'Z' || *p == 'X') return 0; /* exited, not yet reaped: no longer running */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == NULL) return 0;
    p++;
  }
  unsigned long long start = 0;
  for (; *p >= '0' && *p <= '9'; p++) start = start * 10 + (unsigned long long)(*p - '0');
  return start;
}

static char *put_digits(char *p, unsigned long value, int width) {
  for (int i = width - 1; i >= 0; i--, value /= 10) p[i] = (char)('0' + value % 10);
  return p + width;
}

void format_rfc3339nano(const struct timespec *ts, char out[RFC3339NANO_LEN]) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  char *p = out;
  p = put_digits(p, (unsigned long)(tm.tm_year + 1900) % 10000, 4);
  *p++ = '-';
  p = put_digits(p, (unsigned long)tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits(p, (unsigned long)tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits(p, (unsigned long)tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits(p, (unsigned long)tm.tm_min, 2);
  *p++ = ':';
  p = put_digits(p, (unsigned long)tm.tm_sec, 2);
  *p++ = '.';
  p = put_digits(p, (unsigned long)ts->tv_nsec, 9);
  *p++ = 'Z';
  *p = '\0';
}

long long timespec_ns(const struct timespec *ts) { return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec; }
