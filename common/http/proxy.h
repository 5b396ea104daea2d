// Which proxy a request goes through, read from the environment the way curl reads it (so a
// node's existing HTTPS_PROXY / NO_PROXY settings keep working): https_proxy or HTTPS_PROXY for
// https URLs, http_proxy (lower case only: HTTP_PROXY can be set by a CGI request's Proxy
// header) for http URLs, all_proxy or ALL_PROXY for either; no_proxy or NO_PROXY lists hosts to
// reach directly.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace vpcri::http {

struct Proxy {
  std::string host;           // a name or an IP literal, without brackets
  std::string port = "1080";  // as curl: a proxy URL without a port means 1080
  std::string authorization;  // "Basic <base64>" from the proxy URL's user:password, or ""
};

using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_getenv(const std::string& name);

// `scheme` is "http" or "https"; `host` is the request's host (no brackets, no port). No proxy
// when none is set, when `host` matches no_proxy ("*"; a name or domain suffix, with or without a
// leading dot; an IP literal; an IPv4 or IPv6 CIDR). A proxy is an http:// URL or a bare
// host[:port]; any other scheme (https://, socks5://) or an unparsable value throws
// vpcri::Error(invalid_argument) naming the variable: going around a proxy the node was told to
// use would fail later and less clearly.
std::optional<Proxy> proxy_for(const std::string& scheme, const std::string& host,
                               const Getenv& getenv = process_getenv);

}  // namespace vpcri::http
