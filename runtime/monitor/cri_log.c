/* See cri_log.h. */
#define _GNU_SOURCE
#include "cri_log.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

static int write_record(const struct cri_log *log, const char *stream, char tag, const char *now,
                        const char *text, size_t len) {
  if (log->fd < 0) return 0;
  char tags[4] = {' ', tag, ' ', '\0'};
  struct iovec iov[6] = {
      {(void *)now, strlen(now)}, {" ", 1}, {(void *)stream, strlen(stream)}, {tags, 3},
      {(void *)text, len},        {"\n", 1},
  };
  /* One writev per record: with O_APPEND a record is never interleaved with another writer's. */
  size_t total = 0;
  for (int i = 0; i < 6; i++) total += iov[i].iov_len;
  ssize_t n;
  do {
    n = writev(log->fd, iov, 6);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if ((size_t)n != total) return -ENOSPC; /* a short write to a regular file means a full disk */
  return 0;
}

int cri_log_consume(const struct cri_log *log, struct cri_stream *s, size_t n, int eof, const char *now) {
  int err = 0, e;
  size_t len = s->len + n, start = 0;
  for (;;) {
    char *nl = memchr(s->buf + start, '\n', len - start);
    if (nl != NULL) {
      /* The buffer holds max_line + 1 bytes, so a line ending in it is at most max_line long. */
      size_t line = (size_t)(nl - (s->buf + start));
      if ((e = write_record(log, s->name, 'F', now, s->buf + start, line)) && !err) err = e;
      start += line + 1;
    } else if (len - start > log->max_line) {
      if ((e = write_record(log, s->name, 'P', now, s->buf + start, log->max_line)) && !err) err = e;
      start += log->max_line;
    } else {
      break;
    }
  }
  if (eof && len > start) {
    if ((e = write_record(log, s->name, 'P', now, s->buf + start, len - start)) && !err) err = e;
    start = len;
  }
  memmove(s->buf, s->buf + start, len - start);
  s->len = len - start;
  return err;
}
