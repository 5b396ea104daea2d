#include "net/aws/botocore_runner.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace vpcri::net::aws::test {

nlohmann::json run_botocore(const std::string& script, const nlohmann::json& input) {
  char dir_template[] = "/tmp/vpcri-botocore-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
  std::string dir = dir_template;
  std::ofstream(dir + "/input.json") << input.dump();
  std::ofstream(dir + "/script.py") << script;
  // Debian's interpreter: python3-botocore is installed for it, whatever python3 is on PATH.
  std::string command = "/usr/bin/python3 " + dir + "/script.py " + dir + "/input.json";
  std::string output;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (pipe) {
      std::array<char, 4096> buffer{};
      while (fgets(buffer.data(), buffer.size(), pipe.get())) output += buffer.data();
    }
  }
  std::remove((dir + "/input.json").c_str());
  std::remove((dir + "/script.py").c_str());
  ::rmdir(dir.c_str());
  return nlohmann::json::parse(output);  // throws on no/garbled output: the test fails loudly
}

}  // namespace vpcri::net::aws::test
