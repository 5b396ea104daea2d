// Bounds and rules every RunPodSandbox / CreateContainer request passes before anything is
// created (docs/security.md): sizes that keep one request from costing the daemon
// seconds or megabytes, ids the kernel can represent, strings that cannot smuggle a second line
// into a file vpcri writes. Each check is linear in the request's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "cri/api/cri_api.h"

namespace vpcri::cri {

// The largest gRPC message vpcrid receives or sends (kubelet's own limit is the same 16 MiB).
inline constexpr size_t kMaxGrpcMessageBytes = 16 << 20;

struct RequestLimits {
  // Kubernetes: a qualified name is an optional DNS-subdomain prefix (253) + '/' + a name (63).
  static constexpr size_t max_key_bytes = 253 + 1 + 63;
  // Kubernetes label values are 63 bytes, but kubelet's own CRI labels carry the pod name (up
  // to 253); 1 KiB leaves room for both.
  static constexpr size_t max_label_value_bytes = 1024;
  static constexpr size_t max_labels_bytes = 256 << 10;  // keys + values
  // The apiserver's limit on a pod's annotations (256 KiB) plus as much for kubelet's own.
  static constexpr size_t max_annotations_bytes = 512 << 10;
  // The kernel's execve(2) limits: one string of argv/envp is at most MAX_ARG_STRLEN (32 pages),
  // and all of them with their pointers at most 3/4 of _STK_LIM (8 MiB): more could never run.
  static constexpr size_t max_arg_bytes = 128 << 10;
  static constexpr size_t max_exec_bytes = 6 << 20;
  static constexpr size_t max_env = 65536;
  static constexpr size_t max_args = 65536;
  static constexpr size_t max_mounts = 1024;
  static constexpr size_t max_devices = 1024;
  static constexpr size_t max_path_bytes = 4096;  // PATH_MAX
  static constexpr size_t max_sysctls = 1024;
  static constexpr size_t max_port_mappings = 1024;
  static constexpr size_t max_dns_entries = 64;  // each of servers, searches, options
  static constexpr size_t max_dns_entry_bytes = 255;
  // HOST_NAME_MAX; kubelet allows 64 too (an FQDN with setHostnameAsFQDN), labels stay <= 63.
  static constexpr size_t max_hostname_bytes = 64;
  static constexpr size_t max_hostname_label_bytes = 63;
  static constexpr size_t max_metadata_bytes = 253;  // name, namespace, uid: DNS subdomains
};

// The largest uid or gid: uid_t is 32 bits and (uid_t)-1 means "no change" to the kernel.
inline constexpr int64_t kMaxId = 4294967294;

// Error(invalid_argument) naming the rule unless `hostname` is a lowercase RFC 1123 name: at
// most 64 bytes of dot-separated labels, each 1-63 bytes of [a-z0-9-] starting and ending with
// a letter or digit (Kubernetes' rule for pod hostnames, FQDNs included).
void validate_hostname(const std::string& hostname);

// The hostname a pod gets: the requested one (validated), else the node's, as containerd and
// CRI-O do.
std::string pod_hostname(const std::string& requested);

// Error(invalid_argument) for a uid/gid outside 0..kMaxId; `what` names the field.
uint32_t checked_id(int64_t id, const char* what);

// Everything RunPodSandbox checks before its first step: metadata, hostname, labels and
// annotations, DNS entries, port mappings and sysctl counts, user ids. A size over a bound is
// Error(resource_exhausted), a malformed value Error(invalid_argument); both name the field and
// the limit.
void validate_pod_sandbox_config(const ::runtime::v1::PodSandboxConfig& config);

// The same for CreateContainer: metadata, command and args, env, working dir, mounts, devices,
// labels and annotations, and the user (run_as_group needs run_as_user or run_as_username).
void validate_container_config(const ::runtime::v1::ContainerConfig& config);

// ExecSync's cmd: not empty, within execve's limits, no NUL.
void validate_exec_cmd(const google::protobuf::RepeatedPtrField<std::string>& cmd);

}  // namespace vpcri::cri
