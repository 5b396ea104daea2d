// Reading an image archive — an OCI image-layout tar or a `docker save` tar — in one streaming
// pass with libarchive: every file's bytes go straight into the content store (verified against
// the digest in its name where it has one), nothing is extracted to disk. What comes back says
// which images the archive describes; unpacking and recording is the ImageManager's job.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/image/content_store.h"

namespace vpcri::runtime::image {

struct ArchiveImage {
  // The index or manifest blob the image starts from (now in the content store).
  std::string top_digest;
  std::string top_media_type;  // may be empty for OCI layouts that omit it
  // For docker-save entries: the config digest (lets a manager merge them with an OCI entry of
  // the same image instead of installing it twice); empty for OCI entries.
  std::string config_digest;
  std::vector<std::string> names;  // normalized references: repo tags (and digests, when given)
};

// Called with each blob digest before it becomes visible in the store, so a concurrent garbage
// collection leaves it alone until the import is recorded.
using LeaseBlob = std::function<void(const std::string& digest)>;

// Error(invalid_argument) naming the archive and entry when it is neither format, is malformed,
// or references a file it does not contain; Error(not_found) when the file does not exist.
std::vector<ArchiveImage> read_image_archive(const std::string& tar_path, ContentStore& content, const LeaseBlob& lease);

}  // namespace vpcri::runtime::image
