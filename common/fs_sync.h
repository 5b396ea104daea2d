// A file write between fs::write_file_atomic (contents and rename durable) and fs::replace_file
// (nothing synced), for files whose previous version is as good after a power loss.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace vpcri::fs {

// write_file_atomic without the directory's fsync: the new content is on disk before it takes
// the name, so the name never points at a torn file, but a power loss may still undo the rename
// and leave the old (complete) content. Saves one disk flush. Reaches
// failpoint(`failpoint_before_rename`) (none when empty) as write_file_atomic does.
void write_file_contents_synced(const std::string& path, std::string_view data, mode_t mode,
                                std::string_view failpoint_before_rename);

}  // namespace vpcri::fs
