#include "common/http/proxy.h"

#include <arpa/inet.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/text.h"

namespace vpcri::http {
namespace {

// The first of `names` that is set and not empty, with the name it came from.
std::optional<std::pair<std::string, std::string>> first_set(const Getenv& getenv, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto value = getenv(name); value && !trim(*value).empty()) return std::pair{std::string(name), trim(*value)};
  }
  return std::nullopt;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string byte;
    if (text[i] == '%' && i + 2 < text.size() && hex_decode(text.substr(i + 1, 2), byte)) {
      out += byte;
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// An IP address as bytes (4 or 16), or nullopt for a name.
std::optional<std::vector<unsigned char>> ip_bytes(const std::string& text) {
  std::array<unsigned char, 16> raw{};
  if (inet_pton(AF_INET, text.c_str(), raw.data()) == 1) return std::vector<unsigned char>(raw.begin(), raw.begin() + 4);
  if (inet_pton(AF_INET6, text.c_str(), raw.data()) == 1) return std::vector<unsigned char>(raw.begin(), raw.end());
  return std::nullopt;
}

bool in_cidr(const std::vector<unsigned char>& ip, const std::string& cidr) {
  size_t slash = cidr.find('/');
  auto network = ip_bytes(cidr.substr(0, slash));
  if (!network || network->size() != ip.size()) return false;
  char* end = nullptr;
  long bits = std::strtol(cidr.c_str() + slash + 1, &end, 10);
  if (end == cidr.c_str() + slash + 1 || *end != '\0' || bits < 0 || bits > static_cast<long>(ip.size() * 8)) return false;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
    if ((ip[i] & mask) != ((*network)[i] & mask)) return false;
  }
  return true;
}

std::string unbracket(std::string text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') return text.substr(1, text.size() - 2);
  return text;
}

bool no_proxy_matches(const std::string& list, const std::string& host_in) {
  std::string host = to_lower(unbracket(host_in));
  auto host_ip = ip_bytes(host);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string entry = to_lower(trim(std::string_view(list).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    start = comma == std::string::npos ? list.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (host_ip) {
      if (entry.find('/') != std::string::npos) {
        if (in_cidr(*host_ip, unbracket(entry.substr(0, entry.find('/'))) + entry.substr(entry.find('/')))) return true;
      } else if (ip_bytes(unbracket(entry)) == host_ip) {
        return true;
      }
      continue;
    }
    if (entry.front() == '.') entry.erase(0, 1);
    if (host == entry || (host.size() > entry.size() && host.ends_with(entry) && host[host.size() - entry.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

Proxy parse_proxy(const std::string& variable, const std::string& value) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument, variable + "=" + value + ": " + why);
  };
  std::string rest = value;
  if (size_t scheme_end = rest.find("://"); scheme_end != std::string::npos) {
    std::string scheme = to_lower(rest.substr(0, scheme_end));
    if (scheme != "http") throw bad("proxy scheme \"" + scheme + "\" is not supported (only http:// proxies are)");
    rest.erase(0, scheme_end + 3);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  Proxy proxy;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    std::string userinfo = rest.substr(0, at);
    rest.erase(0, at + 1);
    size_t colon = userinfo.find(':');
    std::string user = percent_decode(userinfo.substr(0, colon));
    std::string password = colon == std::string::npos ? std::string() : percent_decode(userinfo.substr(colon + 1));
    proxy.authorization = "Basic " + base64_encode(user + ":" + password);
  }
  std::string port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string::npos) throw bad("unterminated IPv6 address");
    proxy.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) throw bad("garbage after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = rest.find(':');
    proxy.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
    if (port.find(':') != std::string::npos) throw bad("an IPv6 proxy address needs brackets");
  }
  if (proxy.host.empty()) throw bad("no host");
  if (!port.empty()) {
    char* end = nullptr;
    long number = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || number < 1 || number > 65535) throw bad("bad port \"" + port + "\"");
    proxy.port = std::to_string(number);
  }
  return proxy;
}

}  // namespace

std::optional<std::string> process_getenv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

std::optional<Proxy> proxy_for(const std::string& scheme, const std::string& host, const Getenv& getenv) {
  auto setting = scheme == "https" ? first_set(getenv, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
                                   : first_set(getenv, {"http_proxy", "all_proxy", "ALL_PROXY"});
  if (!setting) return std::nullopt;
  if (auto no_proxy = first_set(getenv, {"no_proxy", "NO_PROXY"}); no_proxy && no_proxy_matches(no_proxy->second, host)) {
    return std::nullopt;
  }
  return parse_proxy(setting->first, setting->second);
}

}  // namespace vpcri::http
