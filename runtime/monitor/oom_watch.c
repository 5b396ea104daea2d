#define _GNU_SOURCE
#include "oom_watch.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* 1 if <cgroup>/memory.events (cgroup2) or memory.oom_control (cgroup1) has "oom_kill N" with
 * N > 0; 0 if it says 0 or neither file can be read. */
static int oom_kill_seen(const char *cgroup) {
  static const char *const files[] = {"memory.events", "memory.oom_control"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[PATH_MAX], buf[1024];
    snprintf(path, sizeof path, "%s/%s", cgroup, files[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    for (char *line = buf; line != NULL; line = strchr(line, '\n')) {
      if (*line == '\n') line++;
      if (strncmp(line, "oom_kill ", 9) == 0) return strtoull(line + 9, NULL, 10) > 0;
    }
  }
  return 0;
}

static void take_reading(struct oom_watch *w) {
  if (w->cgroup != NULL && !w->killed) w->killed = oom_kill_seen(w->cgroup);
}

void oom_watch_open(struct oom_watch *w, const char *cgroup) {
  w->cgroup = cgroup;
  w->fd = -1;
  w->killed = 0;
  if (cgroup == NULL) return;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/memory.events", cgroup);
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd >= 0 && inotify_add_watch(fd, path, IN_MODIFY) < 0) {
    close(fd); /* cgroup1, or no memory controller: the final reading is all there is */
    fd = -1;
  }
  w->fd = fd;
  take_reading(w); /* after the watch exists, so no change falls between the two */
}

int oom_watch_fd(const struct oom_watch *w) { return w->killed ? -1 : w->fd; }

void oom_watch_handle(struct oom_watch *w) {
  char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  while (w->fd >= 0 && read(w->fd, events, sizeof events) > 0) {
  }
  take_reading(w);
}

int oom_watch_finish(struct oom_watch *w) {
  take_reading(w);
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  return w->killed;
}
