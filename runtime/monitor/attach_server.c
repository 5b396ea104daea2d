#define _GNU_SOURCE
#include "attach_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* Room for a burst of output while the attacher's reader (vpcrid's session) is busy. */
enum { CLIENT_SNDBUF = 4 * 1024 * 1024 };

/* "/proc/self/fd/N/attach": binds or unlinks in the state directory whatever its path's length
 * (a sockaddr_un holds 107 bytes). */
static int socket_path(int dirfd, char *out, size_t size) {
  return snprintf(out, size, "/proc/self/fd/%d/%s", dirfd, ATTACH_SOCKET_NAME) < (int)size ? 0 : -ENAMETOOLONG;
}

int attach_listen(struct attach_server *s, const char *state, int stdin_fd, int tty_master, int stdin_once) {
  memset(s, 0, sizeof *s);
  s->listen_fd = -1;
  s->stdin_fd = stdin_fd;
  s->tty_master = tty_master;
  s->stdin_once = stdin_once;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) s->clients[i] = -1;

  int dirfd = open(state, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return -errno;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int err = socket_path(dirfd, addr.sun_path, sizeof addr.sun_path);
  int fd = err ? -1 : socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!err && fd < 0) err = -errno;
  if (!err) {
    unlinkat(dirfd, ATTACH_SOCKET_NAME, 0); /* a stale one of a monitor that died */
    mode_t old = umask(0177);               /* the socket file is 0600: only root attaches */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, ATTACH_MAX_CLIENTS) != 0) err = -errno;
    umask(old);
  }
  close(dirfd);
  if (err) {
    if (fd >= 0) close(fd);
    return err;
  }
  s->listen_fd = fd;
  return 0;
}

void attach_poll_fds(const struct attach_server *s, struct pollfd *p) {
  int stdin_waiting = s->pending_len > s->pending_off;
  p[0] = (struct pollfd){s->listen_fd, POLLIN, 0};
  p[1] = (struct pollfd){stdin_waiting ? s->stdin_fd : -1, POLLOUT, 0};
  /* While stdin waits for the container to read it, the attachers are not read at all (a
   * negative fd): their messages, and their hang-ups, queue up behind it in order. */
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    p[2 + i] = (struct pollfd){stdin_waiting ? -1 : s->clients[i], POLLIN, 0};
  }
}

static void close_container_stdin(struct attach_server *s) {
  if (s->stdin_fd < 0) return;
  if (s->stdin_fd == s->tty_master) {
    /* A pty has no half-close: the terminal's EOF character (^D), what a user would type, makes
     * a reader in canonical mode (a shell) see end of file. Further stdin is dropped. */
    if (write(s->tty_master, "\x04", 1) < 0) {
      /* the terminal is gone already */
    }
  } else {
    close(s->stdin_fd);
  }
  s->stdin_fd = -1;
  s->pending_len = s->pending_off = 0;
}

/* This attacher's stdin is over (it said so, or left). */
static void end_client_stdin(struct attach_server *s, int i) {
  if (s->client_stdin[i] && s->stdin_once) close_container_stdin(s);
  s->client_stdin[i] = 0;
}

static void drop_client(struct attach_server *s, int i) {
  end_client_stdin(s, i);
  close(s->clients[i]);
  s->clients[i] = -1;
}

static void flush_stdin(struct attach_server *s) {
  while (s->stdin_fd >= 0 && s->pending_off < s->pending_len) {
    ssize_t n = write(s->stdin_fd, s->pending + s->pending_off, s->pending_len - s->pending_off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) { /* the container closed its stdin: what it did not read is dropped */
      s->pending_len = s->pending_off = 0;
      return;
    }
    s->pending_off += (size_t)n;
  }
  s->pending_len = s->pending_off = 0;
}

static void on_message(struct attach_server *s, int i, const unsigned char *msg, size_t n) {
  switch (msg[0]) {
    case ATTACH_HELLO:
      s->client_stdin[i] = n >= 2 && msg[1] == 1;
      break;
    case ATTACH_STDIN:
      if (s->stdin_fd >= 0 && n > 1) {
        memcpy(s->pending, msg + 1, n - 1);
        s->pending_len = n - 1;
        s->pending_off = 0;
        flush_stdin(s);
      }
      break;
    case ATTACH_STDIN_EOF:
      end_client_stdin(s, i);
      break;
    case ATTACH_RESIZE:
      if (s->tty_master >= 0 && n == 5) {
        uint16_t size[2];
        memcpy(size, msg + 1, sizeof size);
        struct winsize ws = {.ws_row = size[1], .ws_col = size[0]};
        if (ws.ws_row != 0 && ws.ws_col != 0) ioctl(s->tty_master, TIOCSWINSZ, &ws);
      }
      break;
    default: /* unknown: ignored, so the protocol can grow */
      break;
  }
}

static void accept_client(struct attach_server *s) {
  int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (s->clients[i] < 0) {
      int size = CLIENT_SNDBUF;
      if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      }
      s->clients[i] = fd;
      s->client_stdin[i] = 0;
      return;
    }
  }
  close(fd); /* too many attachers */
}

void attach_handle(struct attach_server *s, const struct pollfd *p) {
  if (p[1].revents) flush_stdin(s);
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (p[2 + i].fd < 0 || p[2 + i].revents == 0 || s->clients[i] < 0) continue;
    /* One message per wake-up: a chatty attacher cannot starve the container's output. */
    static unsigned char msg[1 + ATTACH_MAX_PAYLOAD];
    ssize_t n = recv(s->clients[i], msg, sizeof msg, MSG_TRUNC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0 || (size_t)n > sizeof msg) { /* gone, or a message too long for the protocol */
      drop_client(s, i);
      continue;
    }
    on_message(s, i, msg, (size_t)n);
    if (s->pending_len > s->pending_off) break; /* the rest waits for the container to read stdin */
  }
  if (p[0].revents) accept_client(s);
}

void attach_broadcast(struct attach_server *s, int type, const char *data, size_t n) {
  while (n > 0) {
    size_t chunk = n < ATTACH_MAX_PAYLOAD ? n : ATTACH_MAX_PAYLOAD;
    unsigned char t = (unsigned char)type;
    struct iovec iov[2] = {{&t, 1}, {(void *)data, chunk}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
      if (s->clients[i] < 0) continue;
      ssize_t sent;
      do {
        sent = sendmsg(s->clients[i], &m, MSG_NOSIGNAL | MSG_DONTWAIT);
      } while (sent < 0 && errno == EINTR);
      if (sent < 0) drop_client(s, i); /* gone, or stopped reading: the container must not wait */
    }
    data += chunk;
    n -= chunk;
  }
}

void attach_shutdown(struct attach_server *s, const char *state) {
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (s->clients[i] >= 0) close(s->clients[i]);
    s->clients[i] = -1;
  }
  if (s->listen_fd < 0) return;
  close(s->listen_fd);
  s->listen_fd = -1;
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", state, ATTACH_SOCKET_NAME) < (int)sizeof path) unlink(path);
}
