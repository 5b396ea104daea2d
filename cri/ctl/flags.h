// Per-command flags for vpcrictl, crictl style: "--name VALUE", "--name=VALUE", "-n VALUE" and
// switches ("-q") in any order among the positional arguments; "--" ends the flags.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "cri/ctl/output.h"

namespace vpcri::ctl {

// Thrown by Flags::parse on -h/--help; main prints the text and exits 0.
struct HelpRequested {
  std::string text;
};

class Flags {
 public:
  // usage: "stop [options] ID...", description: one or more lines.
  Flags(std::string command, std::string usage, std::string description);

  // names: "-q, --quiet" or "--no-trunc".
  void add(const std::string& names, const std::string& help, bool* value);
  void add(const std::string& names, const std::string& arg, const std::string& help, std::string* value);
  void add(const std::string& names, const std::string& arg, const std::string& help, int64_t* value);
  // A regular expression (ECMAScript, close to the Go syntax crictl takes), for std::regex_search.
  void add(const std::string& names, const std::string& arg, const std::string& help, std::regex* value);
  // Repeatable: each use appends.
  void add(const std::string& names, const std::string& arg, const std::string& help, std::vector<std::string>* values);
  // Repeatable "--label key=value", collected into a map (the last value of a key wins).
  void add_labels(std::map<std::string, std::string>* labels);
  // "-o, --output table|json", overriding the global -o.
  void add_output(Format* format);
  // Flags end at the first positional argument (for exec: the command line that follows the id).
  void stop_at_positional() { stop_at_positional_ = true; }

  // Returns the positional arguments. Throws std::invalid_argument naming the command and its
  // usage for an unknown or incomplete flag, HelpRequested for -h/--help.
  std::vector<std::string> parse(const std::vector<std::string>& args) const;
  std::string help() const;
  // Throws std::invalid_argument("COMMAND: MESSAGE (usage: vpcrictl USAGE)").
  [[noreturn]] void usage_error(const std::string& message) const;

 private:
  struct Flag {
    std::vector<std::string> names;
    std::string arg;  // empty for a switch
    std::string help;
    std::function<void(const std::string&)> set;
  };
  const Flag* find(const std::string& name) const;

  std::string command_, usage_, description_;
  std::vector<Flag> flags_;
  bool stop_at_positional_ = false;
};

// "app=web" -> {"app", "web"}; throws std::invalid_argument unless KEY=VALUE with a non-empty key.
std::pair<std::string, std::string> parse_label(const std::string& text);

// Whole decimal integer; throws std::invalid_argument naming `what` otherwise.
int64_t parse_int(const std::string& what, const std::string& text);

}  // namespace vpcri::ctl
