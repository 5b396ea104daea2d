/* Opening the CRI log file as root without letting anyone with write access below the log
 * directory (a hostPath volume, say) redirect it: no symlink is followed beneath the directory,
 * no ".." is accepted, and only a regular file with one link is appended to. A symlink planted at
 * the log's place would otherwise send the container's output into any host file (the symlink
 * class of Kubernetes' CVE-2017-1002101 / CVE-2021-25741 and containerd's GHSA-rgh6-rfwx-v388,
 * where a symlinked container.log let `kubectl logs` read host files). */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/* Opens (creating it, and the directories on its way, when missing) `path` for appending.
 * `dir` is the trusted log directory (kubelet's pod log directory; symlinks in it are followed)
 * and `path` must lie beneath it; dir NULL: the directory `path` is in. Returns the fd, or -1
 * with errno set and `*why` naming the problem (a static string, "" when errno says it all). */
int log_file_open(const char *dir, const char *path, const char **why);

#ifdef __cplusplus
}
#endif
