#include "cri/ctl/flags.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace vpcri::ctl;

namespace {
std::string usage_error_of(const Flags& flags, const std::vector<std::string>& args) {
  try {
    flags.parse(args);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("expected a usage error");
  return {};
}
}  // namespace

TEST_CASE("label filters are KEY=VALUE") {
  CHECK(parse_label("app=web") == std::pair<std::string, std::string>{"app", "web"});
  CHECK(parse_label("a=b=c") == std::pair<std::string, std::string>{"a", "b=c"});
  CHECK(parse_label("empty=") == std::pair<std::string, std::string>{"empty", ""});
  CHECK_THROWS_WITH_AS(parse_label("app"), "--label: expected KEY=VALUE, got \"app\"", std::invalid_argument);
  CHECK_THROWS_AS(parse_label("=web"), std::invalid_argument);
}

TEST_CASE("flags and positional arguments in any order") {
  bool quiet = false, all = false;
  std::string pod;
  int64_t timeout = 0;
  std::map<std::string, std::string> labels;
  std::vector<std::string> images;
  Format format = Format::table;
  Flags flags("ps", "ps [options]", "List containers.");
  flags.add("-q, --quiet", "ids only", &quiet);
  flags.add("-a, --all", "all", &all);
  flags.add("-p, --pod", "POD_ID", "pod", &pod);
  flags.add("-t, --timeout", "SECONDS", "timeout", &timeout);
  flags.add("--image", "IMAGE", "image", &images);
  flags.add_labels(&labels);
  flags.add_output(&format);
  auto pos = flags.parse({"x", "-q", "--pod=abc", "--label", "app=web", "--label=tier=db", "--label", "app=api", "y",
                          "-t", "30", "--image", "i1", "--image", "i2", "-o", "json", "--", "-a"});
  CHECK(pos == std::vector<std::string>{"x", "y", "-a"});
  CHECK(quiet);
  CHECK_FALSE(all);
  CHECK(pod == "abc");
  CHECK(timeout == 30);
  CHECK(images == std::vector<std::string>{"i1", "i2"});
  CHECK(labels == std::map<std::string, std::string>{{"app", "api"}, {"tier", "db"}});
  CHECK(format == Format::json);

  CHECK(usage_error_of(flags, {"--bogus"}) == "ps: unknown option --bogus (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"--pod"}) == "ps: --pod needs a value (POD_ID) (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"-q=1"}) == "ps: unknown option -q=1 (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"--quiet=1"}) == "ps: --quiet takes no value (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"-t", "soon"}) ==
        "ps: --timeout: expected a whole number, got \"soon\" (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"--label", "app"}) ==
        "ps: --label: expected KEY=VALUE, got \"app\" (usage: vpcrictl ps [options])");
  CHECK(usage_error_of(flags, {"-o", "yaml"}) ==
        "ps: --output: expected table or json, got \"yaml\" (usage: vpcrictl ps [options])");
}

TEST_CASE("regular expressions are checked when parsed") {
  std::regex name("");
  Flags flags("pods", "pods [options]", "List pods.");
  flags.add("--name", "REGEX", "name", &name);
  flags.parse({"--name", "^web-\\d+"});
  CHECK(std::regex_search("web-12", name));
  CHECK_FALSE(std::regex_search("api-1", name));
  CHECK(usage_error_of(flags, {"--name", "("}).rfind("pods: --name: invalid regular expression \"(\"", 0) == 0);
}

TEST_CASE("exec's flags end at the first positional argument") {
  int64_t timeout = 0;
  Flags flags("exec", "exec [options] ID CMD", "Run a command.");
  flags.add("--timeout", "SECONDS", "timeout", &timeout);
  flags.stop_at_positional();
  auto pos = flags.parse({"--timeout", "5", "abc", "ls", "-l", "--timeout", "--help"});
  CHECK(timeout == 5);
  CHECK(pos == std::vector<std::string>{"abc", "ls", "-l", "--timeout", "--help"});
}

TEST_CASE("--help shows the usage, description and every flag") {
  bool force = false;
  int64_t t = 0;
  Flags flags("rm", "rm [-f] ID...", "Remove containers.");
  flags.add("-f, --force", "stop first", &force);
  flags.add("--timeout", "SECONDS", "grace period", &t);
  std::string help;
  try {
    flags.parse({"x", "--help"});
  } catch (const HelpRequested& h) {
    help = h.text;
  }
  CHECK(help ==
        "Usage: vpcrictl rm [-f] ID...\n\nRemove containers.\n\nOptions:\n"
        "  -f, --force             stop first\n"
        "      --timeout SECONDS   grace period\n"
        "  -h, --help              show this help\n");
  CHECK(parse_int("n", "-42") == -42);
  CHECK_THROWS_AS(parse_int("n", ""), std::invalid_argument);
  CHECK_THROWS_AS(parse_int("n", "99999999999999999999"), std::invalid_argument);
}
