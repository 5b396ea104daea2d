// Small filesystem helpers every layer needs. All throw vpcri::Error on failure.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace vpcri::fs {

std::string read_file(const std::string& path);

// Replaces `path` atomically: write to a temp file in the same directory, fsync it, rename it
// over `path`, fsync the directory. A crash leaves either the old or the new content, never a mix.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// The same, reaching failpoint(`failpoint_before_rename`) (common/failpoint.h; none when empty)
// with the temp file complete and synced, before the rename: a crash test's "half-written file".
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                       std::string_view failpoint_before_rename);

// write_file_atomic without the fsyncs, for runtime state (the state directory, /run/vpcri): a
// reboot makes it stale anyway and the page cache outlives a process crash, so only the rename,
// which keeps readers from seeing a torn file, is needed. Saves two disk flushes per file.
void replace_file(const std::string& path, std::string_view data, mode_t mode = 0644);

// mkdir -p; existing directories are left as they are (their mode is not changed).
void mkdir_p(const std::string& path, mode_t mode = 0755);

bool exists(const std::string& path);

// The temp file write_file_atomic and replace_file write before their rename: "<name>.tmp.<pid>.<n>".
bool is_temp_file_name(std::string_view name);

// Removes such temp files (regular files only) directly in `dir` (not below; a missing `dir` is
// nothing to do): what a process that died between create and rename left. Only for directories
// no live process writes to at the time. Returns how many it removed.
size_t remove_stale_temp_files(const std::string& dir);

}  // namespace vpcri::fs
