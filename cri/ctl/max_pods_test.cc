#include "cri/ctl/max_pods.h"

#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>

#include "cri/ctl/flags.h"

using namespace vpcri::ctl;

namespace {
std::string run(const std::vector<std::string>& args) {
  std::ostringstream out;
  max_pods_command(args, out);
  return out.str();
}
std::string error_of(const std::vector<std::string>& args) {
  try {
    run(args);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("vpcrictl max-pods prints kubelet's --max-pods for an instance type") {
  CHECK(run({"--instance-type", "m5.large"}) == "29\n");
  CHECK(run({"--instance-type=t3.medium"}) == "17\n");
  CHECK(run({"--instance-type", "m5.large", "--prefix-delegation"}) == "110\n");
  CHECK(run({"--prefix-delegation", "--instance-type", "c5.18xlarge"}) == "250\n");
  CHECK(run({"--instance-type", "m5.24xlarge"}) == "737\n");
}

TEST_CASE("vpcrictl max-pods: unknown types and missing flags are usage errors") {
  CHECK(error_of({}).find("--instance-type is required") != std::string::npos);
  CHECK(error_of({"--instance-type", "z9.huge"}).find("instance type \"z9.huge\" is not in vpcri's built-in table") !=
        std::string::npos);
  CHECK(error_of({"--instance-type", "m5.large", "extra"}).find("takes no positional arguments") != std::string::npos);
  CHECK(error_of({"--instance-typ", "m5.large"}).find("max-pods") != std::string::npos);
  try {
    run({"--help"});
    FAIL("no help");
  } catch (const HelpRequested& h) {
    CHECK(h.text.find("--prefix-delegation") != std::string::npos);
  }
}
