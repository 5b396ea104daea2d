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

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int bit_count = 0;
  size_t padding = 0;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = value_of(c);
    if (v < 0 || padding > 0) return std::nullopt;  // bad character, or data after padding
    bits = (bits << 6) | static_cast<uint32_t>(v);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>((bits >> bit_count) & 0xFF);
    }
  }
  // Leftover bits must be the zero fill of a final partial group (2 or 4 bits), never 6.
  if (bit_count >= 6 || padding > 2) return std::nullopt;
  return out;
}

}  // namespace vpcri::runtime::registry
