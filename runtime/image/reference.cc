// Image reference normalization, following the distribution/reference grammar that docker,
// containerd and therefore kubelet use (regexp.go / normalize.go), written as a small
// hand-rolled parser: reference := name [":" tag] ["@" digest].
#include <cctype>
#include <string>
#include <string_view>

#include "common/error.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_manager.h"

namespace vpcri::runtime::image {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr size_t kMaxNameLength = 255;

// The input as it can be shown in an error message: control bytes escaped, long input cut.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 300)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (text.size() > 300) out += "...";
  return out;
}

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
  throw Error(Errc::invalid_argument, "invalid image reference \"" + printable(text) + "\": " + why);
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

// [a-z0-9]+ ( ([._] | __ | -+) [a-z0-9]+ )*
bool is_path_component(std::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_label(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

// host [":" port], host := label ("." label)* | "[" [a-fA-F0-9:]+ "]"
bool is_domain(std::string_view s) {
  std::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    host = {};
    s.remove_prefix(close + 1);
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    s = colon == std::string_view::npos ? std::string_view{} : s.substr(colon);
    size_t start = 0;
    for (;;) {
      size_t dot = host.find('.', start);
      if (!is_domain_label(host.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  if (s.empty()) return true;  // no port
  if (s.front() != ':' || s.size() == 1) return false;
  for (char c : s.substr(1))
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// [\w][\w.-]{0,127}
bool is_tag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !is_word(s.front())) return false;
  for (char c : s)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

bool is_64_hex_identifier(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string Reference::to_string() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Reference parse_reference(const std::string& text) {
  std::string_view rest = text;
  if (rest.empty()) invalid(text, "the reference is empty");
  if (is_64_hex_identifier(rest))
    invalid(text, "a 64-character hex string is an image id, not a repository name");

  Reference ref;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.substr(0, 7) != "sha256:" && digest.find(':') != std::string_view::npos &&
        digest.find(':') > 0)
      invalid(text, "unsupported digest algorithm \"" + printable(digest.substr(0, digest.find(':'))) +
                        "\" (only sha256 is supported)");
    if (!is_valid_digest(digest))
      invalid(text, "the digest after '@' must be \"sha256:\" followed by 64 lowercase hex digits");
    ref.digest = digest;
    rest = rest.substr(0, at);
  }

  // A ':' after the last '/' starts the tag; one before it belongs to a registry's port.
  size_t colon = rest.rfind(':');
  size_t slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!is_tag(tag))
      invalid(text, "the tag \"" + printable(tag) +
                        "\" is not valid (1-128 characters of letters, digits, '_', '.', '-'; "
                        "not starting with '.' or '-')");
    ref.tag = tag;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) invalid(text, "the repository name is empty");

  // The first component is a registry host if it looks like one: has a '.' or a ':' port,
  // is "localhost", or has uppercase letters (never valid in a repository path).
  std::string_view domain = kDefaultDomain;
  std::string_view path = rest;
  if (size_t first = rest.find('/'); first != std::string_view::npos) {
    std::string_view candidate = rest.substr(0, first);
    bool has_upper = false;
    for (char c : candidate) has_upper |= std::isupper(static_cast<unsigned char>(c)) != 0;
    if (candidate == "localhost" || candidate.find_first_of(".:") != std::string_view::npos || has_upper) {
      domain = candidate;
      path = rest.substr(first + 1);
    }
  }
  if (domain == kLegacyDefaultDomain) domain = kDefaultDomain;
  if (!is_domain(domain))
    invalid(text, "\"" + printable(domain) + "\" is not a valid registry host[:port]");

  for (char c : path)
    if (std::isupper(static_cast<unsigned char>(c)))
      invalid(text, "the repository name \"" + printable(path) + "\" must be lowercase");
  if (path.empty()) invalid(text, "the repository name is empty");
  size_t start = 0;
  for (;;) {
    size_t end = path.find('/', start);
    std::string_view component = path.substr(start, end == std::string_view::npos ? end : end - start);
    if (!is_path_component(component))
      invalid(text, "the repository name \"" + printable(path) +
                        "\" is not valid (components of lowercase letters and digits, separated by "
                        "'/', and inside a component by '.', '_', '__' or dashes)");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }

  ref.domain = domain;
  ref.repository = path;
  if (ref.domain == kDefaultDomain && ref.repository.find('/') == std::string::npos)
    ref.repository = std::string(kOfficialRepoPrefix) + ref.repository;
  if (ref.name().size() > kMaxNameLength)
    invalid(text, "the repository name is longer than " + std::to_string(kMaxNameLength) + " characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace vpcri::runtime::image
