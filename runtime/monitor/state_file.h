/* Small helpers of vpcri-monitor: atomic state files, process start times, RFC3339Nano time.
 * Plain C, no allocation: the monitor runs once per container and must stay tiny. */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Replaces <dir>/<name> with `content`: temp file, then rename, so a reader sees the old or the
 * new file, never a torn one. No fsync: the monitor's directory is runtime state (under
 * /run/vpcri), which a reboot makes stale anyway, and the page cache outlives any process
 * crash; two fsyncs per file were most of a container start's disk waits. Returns 0 or -errno. */
int state_write(const char *dir, const char *name, const char *content);

/* Start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks after boot); 0 if the process
 * does not exist or is a zombie. Together with the pid it names one process unambiguously. */
unsigned long long proc_start_time(pid_t pid);

/* "2024-05-01T12:34:56.123456789Z" (30 chars + NUL): UTC, always nine fraction digits. */
enum { RFC3339NANO_LEN = 31 };
void format_rfc3339nano(const struct timespec *ts, char out[RFC3339NANO_LEN]);

long long timespec_ns(const struct timespec *ts);

#ifdef __cplusplus
}
#endif
