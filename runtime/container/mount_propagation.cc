#include "runtime/container/mount_propagation.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/fs.h"

namespace vpcri::runtime::container {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      std::string_view digits = text.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string_view::npos) {
        out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

bool has_tag(const std::string& fields, std::string_view tag) {
  std::istringstream in(fields);
  std::string field;
  while (in >> field) {
    if (field.rfind(tag, 0) == 0) return true;
  }
  return false;
}

}  // namespace

bool MountInfoEntry::shared() const { return has_tag(optional_fields, "shared:"); }
bool MountInfoEntry::slave() const { return has_tag(optional_fields, "master:"); }

std::optional<MountInfoEntry> parse_mountinfo_line(std::string_view line) {
  // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  if (fields.size() < 7) return std::nullopt;
  MountInfoEntry e;
  try {
    size_t used = 0;
    e.mount_id = std::stoi(std::string(fields[0]), &used);
    if (used != fields[0].size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  e.mount_point = unescape(fields[4]);
  size_t i = 6;
  for (; i < fields.size() && fields[i] != "-"; ++i) {
    if (!e.optional_fields.empty()) e.optional_fields += ' ';
    e.optional_fields += fields[i];
  }
  if (i == fields.size()) return std::nullopt;  // no separator
  return e;
}

MountInfoEntry mount_of(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &stx) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(Errc::invalid_argument, "path \"" + path + "\" does not exist");
    throw_errno("statx " + path);
  }
  if ((stx.stx_mask & STATX_MNT_ID) == 0) throw Error(Errc::internal, "statx " + path + ": no mount id");
  std::istringstream mountinfo(fs::read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mountinfo, line)) {
    auto entry = parse_mountinfo_line(line);
    if (entry && static_cast<uint64_t>(entry->mount_id) == stx.stx_mnt_id) return *entry;
  }
  throw Error(Errc::internal, "the mount of " + path + " (id " + std::to_string(stx.stx_mnt_id) +
                                  ") is not in /proc/self/mountinfo");
}

void check_propagation_source(const std::string& path, Propagation propagation) {
  if (propagation == Propagation::private_) return;
  MountInfoEntry m = mount_of(path);
  if (propagation == Propagation::rshared && !m.shared()) {
    throw Error(Errc::failed_precondition,
                "path \"" + path + "\" is mounted on \"" + m.mount_point + "\" but it is not a shared mount");
  }
  if (propagation == Propagation::rslave && !m.shared() && !m.slave()) {
    throw Error(Errc::failed_precondition,
                "path \"" + path + "\" is mounted on \"" + m.mount_point + "\" but it is not a shared or slave mount");
  }
}

}  // namespace vpcri::runtime::container
