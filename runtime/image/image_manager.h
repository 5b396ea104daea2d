// The node's images: pull (through registry/), import from archives, store (content-addressed
// blobs + image records), unpack once per layer (through snapshot/), remove with GC.
// The CRI ImageService and container creation use only this facade.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/registry/registry_client.h"

namespace vpcri::runtime::image {

// The parts of an image's config that matter to running it.
struct ImageConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::vector<std::string> volumes;
};

struct Image {
  std::string id;                          // "sha256:<hex>" of the image config
  std::vector<std::string> repo_tags;      // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;   // "docker.io/library/busybox@sha256:<manifest digest>"
  uint64_t size = 0;                       // compressed layers + config + manifest, as containerd reports
  ImageConfig config;
  std::vector<std::string> layer_paths;    // unpacked snapshot dirs, lowest layer first (for overlay lowerdir)
  std::string raw_config;                  // the config JSON, for verbose ImageStatus
};

struct FsUsage {
  std::string mountpoint;  // the directory holding images
  uint64_t used_bytes = 0;
  uint64_t inodes_used = 0;
};

struct ManagerConfig {
  std::string root;                    // e.g. /var/lib/vpcri/images
  registry::ClientConfig registry;
  std::string platform_os = "linux";   // picked from an index
  std::string platform_arch = "amd64";
  // Caps on decompressed layers (compression bombs); 0: none. The pull fails with
  // resource_exhausted and keeps nothing of the layer. The image cap counts the layers one pull
  // or import unpacks (layers already present were checked when they were unpacked).
  uint64_t max_layer_bytes = 0;
  uint64_t max_image_bytes = 0;
};

using PullProgress = std::function<void(const std::string& what, int64_t done, int64_t total)>;

class ImageManager {
 public:
  // Loads records; cleans up half-done ingests and unpacks; drops records whose content is gone
  // and deletes content no record uses (what a crash mid-pull leaves). Damaged record files are
  // logged and skipped.
  explicit ImageManager(ManagerConfig config);
  ~ImageManager();

  // Pulls `ref` (normalized as Kubernetes does: "busybox" -> docker.io/library/busybox:latest),
  // picks the configured platform from an index, verifies every blob while streaming, unpacks
  // each layer once. Concurrent pulls of one image or a shared layer do the work once. Returns
  // the image; kubelet then uses its repo digest ("name@sha256:...") or id as the reference.
  // "name:tag" records the tag and name@<digest of what the tag resolved to> (index or manifest);
  // "name@digest" and "name:tag@digest" record only the digest (as containerd: the tag was not
  // checked). A tag that pointed to another image moves; that image stays, listed by id.
  // A failed pull leaves nothing stored. Errors: invalid_argument (bad reference, malformed or
  // unverifiable content), not_found (unknown image, or no manifest for the platform: the
  // message lists the platforms the index has), unavailable (registry unreachable).
  Image pull(const std::string& ref, const registry::Credentials& creds = {}, const PullProgress& progress = nullptr);

  // Loads an OCI image-layout tar or a `docker save` tar (optionally gzip/zstd/xz-compressed);
  // returns the images it held. Read in one streaming pass, never extracted. Names come from
  // index.json's io.containerd.image.name annotation, else org.opencontainers.image.ref.name
  // when that is a full name ("repo:tag", "host/repo"); a bare tag ("latest") names no
  // repository, so such an image is stored by id only. docker save: RepoTags.
  std::vector<Image> import_archive(const std::string& tar_path);

  // Finds by tag or digest reference (normalized), by id ("sha256:..."), or by unique id prefix
  // (with or without "sha256:"). Never throws for malformed input: nullopt.
  std::optional<Image> find(const std::string& ref) const;
  std::vector<Image> list() const;

  // Removes the image `ref` names with all its tags and digests, then deletes blobs and
  // snapshots no other image uses. Idempotent: an unknown ref is not an error.
  // Snapshots in use by containers (see hold/release) are never deleted: removing a held image
  // throws Error(failed_precondition) naming the containers, and changes nothing.
  void remove(const std::string& ref);

  // A container pins its image's snapshots while it exists. `image_id` is Image::id; hold throws
  // Error(not_found) for an unknown image; release of an unknown pin is a no-op. Pins live in
  // memory only: after a restart the container layer must hold() again for every container it
  // recovers (before it serves requests that could remove images).
  void hold(const std::string& image_id, const std::string& holder);
  void release(const std::string& image_id, const std::string& holder);

  // The lower layers of a container's rootfs overlay, lowest first: the image's, and above them
  // its layer of the mount points it lacks (mountpoint_layer.h), made on the first call. Call
  // while the image is held.
  std::vector<std::string> rootfs_layers(const Image& image);

  // Real allocated bytes and inodes under the root (a tree walk, hard links counted once).
  // Cached until the store changes, at most 60 s.
  FsUsage usage() const;

 private:
  Image pull_uncounted(const std::string& ref, const registry::Credentials& creds, const PullProgress& progress);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Normalizes a reference the way Kubernetes/containerd do (distribution/reference grammar):
// "busybox" -> docker.io/library/busybox:latest, "user/app" -> docker.io/user/app:latest; the
// first component is a registry host when it has a '.' or ':' or is "localhost" (or has
// uppercase letters, which a repository path may not). A tag and a digest may both be given.
// Throws Error(invalid_argument) saying what is wrong.
struct Reference {
  std::string domain;      // "docker.io"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest" (empty when only a digest is given)
  std::string digest;      // "sha256:..." or empty
  std::string name() const { return domain + "/" + repository; }
  std::string to_string() const;  // name[:tag][@digest]
};
Reference parse_reference(const std::string& text);

}  // namespace vpcri::runtime::image
