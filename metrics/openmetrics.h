// OpenMetrics 1.0 text for scrapers that ask for it (Accept: application/openmetrics-text),
// made from the registry's 0.0.4 text: the two formats differ only in counter family names
// (OpenMetrics names the family without `_total`, its samples keep it), `"` escaped in HELP,
// and the closing `# EOF`.
#pragma once

#include <string>
#include <string_view>

namespace vpcri::metrics {

inline constexpr const char* kOpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// True when an Accept header value asks for OpenMetrics text.
bool accepts_openmetrics(std::string_view accept);

// `text` as Registry::render() writes it: every family a HELP line, then its TYPE line, then its
// samples. A counter whose name lacks `_total` cannot be an OpenMetrics counter: typed `unknown`.
std::string to_openmetrics(std::string_view text);

}  // namespace vpcri::metrics
