/* vpcri-monitor's end of the attach socket (attach_protocol.h): accepts attachers, copies the
 * container's output to each of them, and their stdin and window sizes to the container.
 * Plain C without allocation, like the rest of the monitor. The container never waits for an
 * attacher: one whose socket is full (it stopped reading) is disconnected. */
#pragma once

#include <poll.h>
#include <stddef.h>

#include "attach_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct attach_server {
  int listen_fd;   /* -1: no socket */
  int stdin_fd;    /* pipe write end or pty master; -1 without stdin or once closed */
  int tty_master;  /* pty master (resize, and the ^D of a closed tty stdin), -1 without a tty */
  int stdin_once;  /* close the container's stdin when the first attacher with stdin leaves */
  int clients[ATTACH_MAX_CLIENTS];
  int client_stdin[ATTACH_MAX_CLIENTS]; /* the attacher said it sends stdin, and has not ended it */
  char pending[ATTACH_MAX_PAYLOAD];     /* stdin not yet taken by the container */
  size_t pending_len, pending_off;
};

/* Listens at <state>/attach (replacing a stale socket), close-on-exec, mode 0600. `stdin_fd`
 * (nonblocking) and `tty_master` may be -1. Returns 0, or -errno. */
int attach_listen(struct attach_server *s, const char *state, int stdin_fd, int tty_master, int stdin_once);

/* The poll entries the server needs, written to `p` (ATTACH_POLL_FDS of them). */
enum { ATTACH_POLL_FDS = 2 + ATTACH_MAX_CLIENTS };
void attach_poll_fds(const struct attach_server *s, struct pollfd *p);

/* Handles what poll reported on the entries attach_poll_fds wrote. */
void attach_handle(struct attach_server *s, const struct pollfd *p);

/* Sends output of the container (ATTACH_STDOUT or ATTACH_STDERR) to every attacher. */
void attach_broadcast(struct attach_server *s, int type, const char *data, size_t n);

/* The container has ended: every attacher sees EOF, the socket file is removed. */
void attach_shutdown(struct attach_server *s, const char *state);

#ifdef __cplusplus
}
#endif
