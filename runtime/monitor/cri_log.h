/* The CRI container log format kubelet reads (pkg/kubelet/kuberuntime/logs):
 *   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>\n
 * F ends a line; P is a piece of a longer line: the first max_line bytes of a line that is
 * longer, or what is left when the stream ends without a newline (as containerd does). */
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cri_stream {
  const char *name; /* "stdout" or "stderr" */
  char *buf;        /* max_line + 1 bytes: one more than a record, to tell "exactly max_line" apart */
  size_t len;       /* bytes of the current, unfinished line */
};

struct cri_log {
  int fd;          /* log file, or -1 to discard the output */
  size_t max_line; /* longest text of one record */
};

/* Where the next read() of `s` should go: never empty after cri_log_consume(). */
static inline char *cri_stream_space(const struct cri_stream *s) { return s->buf + s->len; }
static inline size_t cri_stream_room(const struct cri_log *log, const struct cri_stream *s) {
  return log->max_line + 1 - s->len;
}

/* Accounts for `n` bytes just read into cri_stream_space() and writes every complete record.
 * At end of stream (`eof`), the unfinished rest is written as a P record. `now` stamps the records.
 * Returns 0, or -errno of the first failed log write (the text is dropped: the container must
 * never block on its logs). */
int cri_log_consume(const struct cri_log *log, struct cri_stream *s, size_t n, int eof, const char *now);

#ifdef __cplusplus
}
#endif
