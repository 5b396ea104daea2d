// Leveled, structured logging: one `ts=... level=... msg="..." key=value` line per event on
// stderr, which journald and log shippers split into fields without a custom parser.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace vpcri::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

std::optional<Level> parse_level(std::string_view name);
const char* level_name(Level level);

void set_level(Level level);
Level level();
inline bool enabled(Level l) { return l >= level(); }

using Field = std::pair<std::string_view, std::string>;
using Fields = std::initializer_list<Field>;

// Formats one line (without the trailing newline); exposed for tests.
std::string format(Level level, std::string_view msg, Fields fields);
void write(Level level, std::string_view msg, Fields fields = {});

inline void debug(std::string_view msg, Fields f = {}) { if (enabled(Level::debug)) write(Level::debug, msg, f); }
inline void info(std::string_view msg, Fields f = {}) { if (enabled(Level::info)) write(Level::info, msg, f); }
inline void warn(std::string_view msg, Fields f = {}) { if (enabled(Level::warn)) write(Level::warn, msg, f); }
inline void error(std::string_view msg, Fields f = {}) { write(Level::error, msg, f); }

}  // namespace vpcri::log
