#include "runtime/registry/www_authenticate.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace vpcri::runtime::registry {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::string Challenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parse_www_authenticate(std::string_view header) {
  std::vector<Challenge> challenges;
  size_t pos = 0;
  const size_t n = header.size();
  auto skip = [&](bool commas) {
    while (pos < n && (is_space(header[pos]) || (commas && header[pos] == ','))) ++pos;
  };
  while (true) {
    skip(true);
    if (pos >= n) break;
    size_t start = pos;
    while (pos < n && !is_space(header[pos]) && header[pos] != ',' && header[pos] != '=') ++pos;
    std::string_view token = header.substr(start, pos - start);
    skip(false);
    if (pos >= n || header[pos] != '=') {
      // A scheme name starts the next challenge.
      if (!token.empty()) challenges.push_back(Challenge{lower(token), {}});
      continue;
    }
    ++pos;  // '='
    skip(false);
    std::string value;
    if (pos < n && header[pos] == '"') {
      ++pos;
      while (pos < n && header[pos] != '"') {
        if (header[pos] == '\\' && pos + 1 < n) ++pos;
        value += header[pos++];
      }
      if (pos < n) ++pos;  // closing quote
    } else {
      size_t value_start = pos;
      while (pos < n && header[pos] != ',' && !is_space(header[pos])) ++pos;
      value = std::string(header.substr(value_start, pos - value_start));
    }
    // token68 forms ("Negotiate abc==") and params before any scheme carry nothing we use.
    if (!challenges.empty() && !token.empty()) challenges.back().params[lower(token)] = std::move(value);
  }
  return challenges;
}

}  // namespace vpcri::runtime::registry
