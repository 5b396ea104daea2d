/* Whether the kernel OOM-killed a process of the container's cgroup, seen while the container
 * runs, not only after it ended. Under the systemd driver the container's cgroup is a scope that
 * systemd stops and removes as soon as its last process dies, often before the monitor has
 * reaped the child, and memory.events goes with it. So the monitor reads "oom_kill" whenever the
 * kernel signals a change of cgroup2 memory.events (inotify IN_MODIFY, as containerd does), and
 * once more the moment it sees the child end. cgroup1 (memory.oom_control) has no change
 * notification; there only the reads at the end count, and cgroupfs keeps that directory until
 * vpcrid removes it. */
#ifndef VPCRI_MONITOR_OOM_WATCH_H
#define VPCRI_MONITOR_OOM_WATCH_H

struct oom_watch {
  const char *cgroup; /* NULL: no cgroup given, never OOM */
  int fd;             /* inotify on <cgroup>/memory.events, or -1 */
  int killed;         /* an oom_kill count above 0 was seen */
};

/* Opens the watch (a missing file or inotify failure leaves fd -1) and takes a first reading. */
void oom_watch_open(struct oom_watch *w, const char *cgroup);
/* The fd to poll for POLLIN, or -1. */
int oom_watch_fd(const struct oom_watch *w);
/* Drains the notification and reads the count again. */
void oom_watch_handle(struct oom_watch *w);
/* Reads the count once more (a file already removed leaves what was seen before) and closes the
 * watch. Returns whether an OOM kill was seen at any time. */
int oom_watch_finish(struct oom_watch *w);

#endif
