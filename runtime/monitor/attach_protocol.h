/* The attach socket of vpcri-monitor: <state>/attach, a unix SOCK_SEQPACKET socket (mode 0600, in
 * vpcri's 0700 state directory) the monitor listens on while the container runs. Through it the
 * CRI Attach reaches the container's main process stdio, which the monitor owns (a pty master
 * with a tty, else the write end of the stdin pipe and the read ends of stdout/stderr), so an
 * attach works across vpcrid restarts and no fd of the container ever enters vpcrid.
 *
 * Each message is one type byte and its payload (at most ATTACH_MAX_PAYLOAD bytes). Shared by the
 * monitor (C) and vpcrid (C++). */
#pragma once

enum attach_message {
  ATTACH_STDIN = 0,       /* attacher -> monitor: bytes for the container's stdin */
  ATTACH_STDOUT = 1,      /* monitor -> attacher: the container's output (all of it with a tty) */
  ATTACH_STDERR = 2,      /* monitor -> attacher */
  ATTACH_RESIZE = 4,      /* attacher -> monitor: uint16 width, uint16 height, host order (tty only) */
  ATTACH_HELLO = 5,       /* attacher -> monitor, first: one byte, 1 if this attacher sends stdin */
  ATTACH_STDIN_EOF = 255, /* attacher -> monitor: its stdin ended (closes the container's with stdin_once) */
};

enum {
  ATTACH_MAX_PAYLOAD = 32 * 1024,
  ATTACH_MAX_CLIENTS = 16, /* more attachers at once are refused (accepted and closed) */
};

#define ATTACH_SOCKET_NAME "attach"
