// Test support: runs a Python script with Debian's python3-botocore (an independent AWS client)
// on a JSON input and returns the JSON it prints, so tests compare our wire format to botocore's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vpcri::net::aws::test {

// The script reads its input from the file named by sys.argv[1] and prints one JSON value.
nlohmann::json run_botocore(const std::string& script, const nlohmann::json& input);

}  // namespace vpcri::net::aws::test
