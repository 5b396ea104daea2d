#include "cri/ctl/flags.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace vpcri::ctl {

Flags::Flags(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

namespace {

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::istringstream in(names);
  for (std::string name; std::getline(in, name, ',');) {
    auto start = name.find_first_not_of(' ');
    out.push_back(name.substr(start));
  }
  return out;
}

}  // namespace

void Flags::add(const std::string& names, const std::string& help, bool* value) {
  flags_.push_back({split_names(names), "", help, [value](const std::string&) { *value = true; }});
}

void Flags::add(const std::string& names, const std::string& arg, const std::string& help, std::string* value) {
  flags_.push_back({split_names(names), arg, help, [value](const std::string& v) { *value = v; }});
}

void Flags::add(const std::string& names, const std::string& arg, const std::string& help, int64_t* value) {
  auto split = split_names(names);
  std::string what = split.back();
  flags_.push_back({std::move(split), arg, help, [value, what](const std::string& v) { *value = parse_int(what, v); }});
}

void Flags::add(const std::string& names, const std::string& arg, const std::string& help, std::regex* value) {
  auto split = split_names(names);
  std::string what = split.back();
  flags_.push_back({std::move(split), arg, help, [value, what](const std::string& v) {
                      try {
                        *value = std::regex(v);
                      } catch (const std::regex_error& e) {
                        throw std::invalid_argument(what + ": invalid regular expression \"" + v + "\": " + e.what());
                      }
                    }});
}

void Flags::add(const std::string& names, const std::string& arg, const std::string& help,
                std::vector<std::string>* values) {
  flags_.push_back({split_names(names), arg, help, [values](const std::string& v) { values->push_back(v); }});
}

void Flags::add_labels(std::map<std::string, std::string>* labels) {
  flags_.push_back({{"--label"}, "KEY=VALUE", "only those with this label (repeatable; all must match)",
                    [labels](const std::string& v) {
                      auto [key, value] = parse_label(v);
                      (*labels)[key] = value;
                    }});
}

void Flags::add_output(Format* format) {
  flags_.push_back({{"-o", "--output"}, "FORMAT", "table or json (the raw response)", [format](const std::string& v) {
                      if (v == "json") {
                        *format = Format::json;
                      } else if (v == "table") {
                        *format = Format::table;
                      } else {
                        throw std::invalid_argument("--output: expected table or json, got \"" + v + "\"");
                      }
                    }});
}

const Flags::Flag* Flags::find(const std::string& name) const {
  for (const auto& flag : flags_) {
    for (const auto& n : flag.names) {
      if (n == name) return &flag;
    }
  }
  return nullptr;
}

std::vector<std::string> Flags::parse(const std::vector<std::string>& args) const {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      if (stop_at_positional_) {
        positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      continue;
    }
    if (a == "-h" || a == "--help") throw HelpRequested{help()};
    auto eq = a.rfind("--", 0) == 0 ? a.find('=') : std::string::npos;
    std::string name = a.substr(0, eq);
    const Flag* flag = find(name);
    if (!flag) usage_error("unknown option " + name);
    if (flag->arg.empty()) {
      if (eq != std::string::npos) usage_error(name + " takes no value");
      flag->set("");
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      usage_error(name + " needs a value (" + flag->arg + ")");
    }
    try {
      flag->set(value);
    } catch (const std::invalid_argument& e) {
      usage_error(e.what());
    }
  }
  return positional;
}

std::string Flags::help() const {
  std::ostringstream out;
  out << "Usage: vpcrictl " << usage_ << "\n\n" << description_ << "\n";
  if (flags_.empty()) return out.str();
  out << "\nOptions:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& flag : flags_) {
    std::string names;
    for (const auto& n : flag.names) names += (names.empty() ? "" : ", ") + n;
    if (flag.names.front().rfind("--", 0) == 0) names = "    " + names;
    rows.push_back({"  " + names + (flag.arg.empty() ? "" : " " + flag.arg), flag.help});
  }
  Table t(rows.front());
  for (size_t i = 1; i < rows.size(); ++i) t.add(rows[i]);
  t.add({"  -h, --help", "show this help"});
  t.print(out);
  return out.str();
}

void Flags::usage_error(const std::string& message) const {
  throw std::invalid_argument(command_ + ": " + message + " (usage: vpcrictl " + usage_ + ")");
}

std::pair<std::string, std::string> parse_label(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument("--label: expected KEY=VALUE, got \"" + text + "\"");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int64_t parse_int(const std::string& what, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno == ERANGE) {
    throw std::invalid_argument(what + ": expected a whole number, got \"" + text + "\"");
  }
  return value;
}

}  // namespace vpcri::ctl
