// Pure rules of pod sandbox creation, unit-tested exactly: which sysctls a pod may set, and the
// hosts / resolv.conf files its containers see.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace vpcri::cri {

// Throws Error(invalid_argument) naming the sysctl unless every one is namespaced (kernel.shm*,
// kernel.msg*, kernel.sem, fs.mqueue.*, net.*) and allowed for the pod (no net.* with the host's
// network, no IPC ones with the host's IPC), with a plain name and a value that cannot smuggle
// a second setting (no newline, NUL, '=', '+', ';' or other control characters: CVE-2022-0811).
void validate_sysctls(const std::map<std::string, std::string>& sysctls, bool host_network, bool host_ipc);

// /etc/hosts of a pod: the localhost lines and the pod's hostname.
std::string hosts_file(const std::string& hostname);

// /etc/resolv.conf from CRI's DNSConfig. Throws Error(invalid_argument) for an entry with
// whitespace or control characters that would start another line or option.
std::string resolv_conf(const std::vector<std::string>& servers, const std::vector<std::string>& searches,
                        const std::vector<std::string>& options);

}  // namespace vpcri::cri
