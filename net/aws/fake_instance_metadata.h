// In-memory instance metadata for the aws provider's unit tests. The tests set what IMDS says;
// it is deliberately not derived from FakeEc2Api, because real metadata lags EC2 after an
// attach or assign and the provider must take EC2 as the truth.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/aws/instance_metadata.h"

namespace vpcri::net::aws::testing {

class FakeInstanceMetadata : public InstanceMetadata {
 public:
  InstanceIdentity identity_value;
  std::vector<MetadataEni> enis_value;
  std::optional<Credentials> credentials_value;
  int identity_calls = 0;

  InstanceIdentity identity() override {
    ++identity_calls;
    return identity_value;
  }
  std::vector<MetadataEni> enis() override { return enis_value; }
  std::optional<Credentials> role_credentials() override { return credentials_value; }
};

}  // namespace vpcri::net::aws::testing
