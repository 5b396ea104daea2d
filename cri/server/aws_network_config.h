// network.aws.* (cri/config) as the aws provider's and clients' settings.
#pragma once

#include "cri/config/config.h"
#include "net/aws/aws_provider.h"
#include "net/aws/clients.h"

namespace vpcri::cri {

net::aws::AwsClientConfig aws_client_config(const AwsNetworkConfig& aws);
net::aws::AwsProviderOptions aws_provider_options(const AwsNetworkConfig& aws);

}  // namespace vpcri::cri
