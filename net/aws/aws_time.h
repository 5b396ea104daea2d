// The time formats AWS uses: SigV4's basic ISO 8601 ("20150830T123600Z") and the extended form
// of credential expirations ("2026-12-06T15:04:05Z", STS and IMDS, fractions allowed).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vpcri::net::aws {

std::string amz_date(std::chrono::system_clock::time_point time);
// "2026-01-01T00:00:00Z" (RFC 3339, UTC, whole seconds), as EC2 tags and timestamps carry it.
std::string rfc3339_utc(std::chrono::system_clock::time_point time);
// nullopt when `text` is not "YYYY-MM-DDTHH:MM:SS[.fff]Z".
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text);

}  // namespace vpcri::net::aws
