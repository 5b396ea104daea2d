#include "runtime/cgroup/systemd_names.h"

#include <cctype>

#include "common/error.h"

namespace vpcri::runtime::cgroup {
namespace {

constexpr std::string_view kSliceSuffix = ".slice";
constexpr std::string_view kScopeSuffix = ".scope";
constexpr size_t kUnitNameMax = 255;  // systemd's UNIT_NAME_MAX without the NUL

bool plain_unit_char(unsigned char c) { return (std::isalnum(c) && c < 0x80) || c == '_' || c == '.' || c == '-'; }

[[noreturn]] void refuse_slice(std::string_view slice, const std::string& why) {
  std::string shown;
  for (unsigned char c : slice.substr(0, 300)) shown += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  throw Error(Errc::invalid_argument, "invalid cgroup parent \"" + shown + "\" for cgroup_driver: systemd: " + why);
}

}  // namespace

std::string expand_slice(std::string_view slice) {
  if (slice.empty()) refuse_slice(slice, "empty");
  if (slice.find('/') != std::string_view::npos)
    refuse_slice(slice, "a slice name has no '/' (is kubelet's cgroupDriver cgroupfs? it must match vpcri's)");
  if (slice.size() > kUnitNameMax) refuse_slice(slice, "longer than systemd's 255-byte unit names");
  for (unsigned char c : slice)
    if (!plain_unit_char(c)) refuse_slice(slice, "a slice name may only hold letters, digits and . _ -");
  if (!slice.ends_with(kSliceSuffix) || slice.size() == kSliceSuffix.size())
    refuse_slice(slice, "not a slice unit name (\"<name>.slice\")");
  std::string_view name = slice.substr(0, slice.size() - kSliceSuffix.size());
  if (name == "-") refuse_slice(slice, "the root slice belongs to the host");
  std::string path, prefix;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t dash = name.find('-', pos);
    if (dash == std::string_view::npos) dash = name.size();
    std::string_view part = name.substr(pos, dash - pos);
    if (part.empty()) refuse_slice(slice, "an empty part between dashes (\"a--b\", \"-a\", \"a-\")");
    path += "/" + prefix + std::string(part) + std::string(kSliceSuffix);
    prefix += std::string(part) + "-";
    pos = dash + 1;
  }
  return path;
}

std::string scope_unit_name(std::string_view id) {
  bool ok = !id.empty() && id.size() + 12 <= kUnitNameMax;
  for (unsigned char c : id) ok = ok && ((std::isalnum(c) && c < 0x80) || c == '_' || c == '-');
  if (!ok) throw Error(Errc::invalid_argument, "cannot name a systemd scope after \"" + std::string(id.substr(0, 64)) + "\"");
  return "vpcri-" + std::string(id) + std::string(kScopeSuffix);
}

std::string unit_of_cgroup_path(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if ((last.ends_with(kScopeSuffix) && last.size() > kScopeSuffix.size()) ||
      (last.ends_with(kSliceSuffix) && last.size() > kSliceSuffix.size()))
    return std::string(last);
  return "";
}

}  // namespace vpcri::runtime::cgroup
