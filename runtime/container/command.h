// The small pure rules a container start needs, kept apart so they are unit-tested exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpcri::runtime::container {

// Kubernetes' rule for the command: CRI `command` replaces the image ENTRYPOINT and, when set,
// drops the image CMD; CRI `args` replaces CMD. Throws Error(invalid_argument) when the result is
// empty ("no command specified").
std::vector<std::string> resolve_command(const std::vector<std::string>& image_entrypoint,
                                         const std::vector<std::string>& image_cmd,
                                         const std::vector<std::string>& command,
                                         const std::vector<std::string>& args);

// Image env, then CRI env on top (same key: CRI wins, keeps the image's position), then PATH and
// HOSTNAME defaults when absent. KEY=VALUE strings.
std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::pair<std::string, std::string>>& cri_env,
                                   const std::string& hostname);

struct UserRequest {
  std::optional<uint32_t> uid;  // run_as_user
  std::string username;         // run_as_username (when uid is unset)
  std::optional<uint32_t> gid;  // run_as_group
  std::vector<uint32_t> supplemental_groups;
  std::string image_user;       // the image's config User: "", "name", "uid", "name:group", "uid:gid"
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // supplemental + the user's groups in /etc/group, sorted, unique
  std::string home = "/";                 // from /etc/passwd, for HOME
};

// Resolves against <rootfs>/etc/passwd and <rootfs>/etc/group (read without following symlinks
// out of the rootfs). A CRI uid/username overrides the image user; a name not in /etc/passwd is
// Error(invalid_argument); a numeric uid not in /etc/passwd is fine (gid 0 unless given).
ResolvedUser resolve_user(const std::string& rootfs, const UserRequest& request);

}  // namespace vpcri::runtime::container
