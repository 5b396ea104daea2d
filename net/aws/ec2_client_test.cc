// Ec2Client against a loopback HTTP server answering canned EC2 XML (shaped as the EC2 API
// reference's examples): the exact form parameters of each call, SigV4 headers, pagination,
// error mapping, retries and the token bucket.
#include "net/aws/ec2_client.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <deque>
#include <map>

#include "common/text.h"
#include "metrics/registry.h"
#include "net/aws/botocore_runner.h"
#include "net/aws/test_http_server.h"

using namespace vpcri::net::aws;
using vpcri::Errc;
using vpcri::net::Cidr;
using vpcri::net::IpAddress;
using vpcri::net::aws::test::CannedResponse;
using vpcri::net::aws::test::RecordedRequest;
using vpcri::net::aws::test::TestHttpServer;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNs = "http://ec2.amazonaws.com/doc/2016-11-15/";

class StaticCredentials : public CredentialsProvider {
 public:
  Credentials get() override { return {"AKIDEXAMPLE", "secret", "session-token", std::nullopt}; }
};

std::string ok(const std::string& action, const std::string& inner) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + action + "Response xmlns=\"" + kNs +
         "\">\n  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>\n" + inner + "\n</" + action + "Response>";
}

CannedResponse error_answer(int status, const std::string& code, const std::string& message) {
  CannedResponse response;
  response.status = status;
  response.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" + code +
                  "</Code><Message>" + message + "</Message></Error></Errors><RequestID>req-" + code +
                  "</RequestID></Response>";
  return response;
}

CannedResponse ok_answer(const std::string& body) {
  CannedResponse response;
  response.body = body;
  return response;
}

// Answers per Action, in order; the last answer of an action repeats.
struct Ec2Script {
  std::map<std::string, std::deque<CannedResponse>> answers;
  CannedResponse operator()(const RecordedRequest& request) {
    auto& queue = answers[request.form()["Action"]];
    if (queue.empty()) return error_answer(400, "InvalidAction", "no canned answer");
    CannedResponse answer = queue.front();
    if (queue.size() > 1) queue.pop_front();
    return answer;
  }
};

struct Fixture {
  std::shared_ptr<Ec2Script> script = std::make_shared<Ec2Script>();
  TestHttpServer server{[script = script](const RecordedRequest& request) { return (*script)(request); }};
  StaticCredentials credentials;
  std::vector<std::chrono::milliseconds> backoff_sleeps;
  std::vector<std::chrono::nanoseconds> throttle_sleeps;
  std::unique_ptr<Ec2Client> client;

  explicit Fixture(int max_retries = 3, double rate = 0) {
    TransportOptions transport;
    transport.timeout = 5s;
    transport.use_proxy = false;
    Ec2ClientOptions options;
    options.endpoint = server.url();
    options.region = "us-west-2";
    options.requests_per_second = rate;
    options.burst = 1;
    options.max_retries = max_retries;
    options.backoff.sleep = [this](std::chrono::milliseconds d) { backoff_sleeps.push_back(d); };
    options.throttle_sleep = [this](std::chrono::nanoseconds d) { throttle_sleeps.push_back(d); };
    client = std::make_unique<Ec2Client>(std::make_shared<ClientTransport>(transport), credentials, options);
  }
  void answer(const std::string& action, std::vector<CannedResponse> answers) {
    script->answers[action] = std::deque<CannedResponse>(answers.begin(), answers.end());
  }
  std::vector<std::map<std::string, std::string>> forms() const {
    std::vector<std::map<std::string, std::string>> result;
    for (const auto& request : server.requests()) result.push_back(request.form());
    return result;
  }
};

const char* kEniItem = R"(
    <item>
      <networkInterfaceId>eni-0f7db8e2e1EXAMPLE</networkInterfaceId>
      <subnetId>subnet-0a</subnetId>
      <vpcId>vpc-11112222</vpcId>
      <availabilityZone>us-west-2a</availabilityZone>
      <description>vpcri</description>
      <ownerId>123456789012</ownerId>
      <requesterManaged>false</requesterManaged>
      <status>in-use</status>
      <macAddress>02:74:B0:72:79:61</macAddress>
      <privateIpAddress>10.0.2.157</privateIpAddress>
      <sourceDestCheck>true</sourceDestCheck>
      <groupSet>
        <item><groupId>sg-1</groupId><groupName>default</groupName></item>
        <item><groupId>sg-2</groupId><groupName>nodes</groupName></item>
      </groupSet>
      <attachment>
        <attachmentId>eni-attach-0a1</attachmentId>
        <instanceId>i-0123</instanceId>
        <instanceOwnerId>123456789012</instanceOwnerId>
        <deviceIndex>1</deviceIndex>
        <status>attached</status>
        <attachTime>2026-12-06T09:00:00.000Z</attachTime>
        <deleteOnTermination>true</deleteOnTermination>
      </attachment>
      <tagSet>
        <item><key>cluster.k8s.amazonaws.com/name</key><value>c1</value></item>
      </tagSet>
      <privateIpAddressesSet>
        <item><privateIpAddress>10.0.2.158</privateIpAddress><primary>false</primary></item>
        <item><privateIpAddress>10.0.2.157</privateIpAddress><primary>true</primary></item>
      </privateIpAddressesSet>
      <ipv4PrefixSet>
        <item><ipv4Prefix>10.0.2.32/28</ipv4Prefix></item>
      </ipv4PrefixSet>
      <ipv6AddressesSet/>
    </item>)";

}  // namespace

TEST_CASE("DescribeNetworkInterfaces: form parameters, SigV4 headers, two pages, every field parsed") {
  Fixture fx;
  std::string page2_item = kEniItem;
  page2_item.replace(page2_item.find("eni-0f7db8e2e1EXAMPLE"), 21, "eni-second");
  fx.answer("DescribeNetworkInterfaces",
            {ok_answer(ok("DescribeNetworkInterfaces", std::string("<networkInterfaceSet>") + kEniItem +
                                                           "</networkInterfaceSet><nextToken>page/2+</nextToken>")),
             ok_answer(ok("DescribeNetworkInterfaces", "<networkInterfaceSet>" + page2_item + "</networkInterfaceSet>"))});
  auto enis = fx.client->describe_network_interfaces(
      {}, {{"tag:cluster.k8s.amazonaws.com/name", {"c1"}}, {"status", {"available", "in-use"}}});
  REQUIRE(enis.size() == 2);
  CHECK(enis[1].id == "eni-second");
  const NetworkInterface& eni = enis[0];
  CHECK(eni.id == "eni-0f7db8e2e1EXAMPLE");
  CHECK(eni.subnet_id == "subnet-0a");
  CHECK(eni.vpc_id == "vpc-11112222");
  CHECK(eni.availability_zone == "us-west-2a");
  CHECK(eni.mac_address == "02:74:b0:72:79:61");
  CHECK(eni.status == "in-use");
  CHECK(eni.description == "vpcri");
  CHECK(eni.security_group_ids == std::vector<std::string>{"sg-1", "sg-2"});
  REQUIRE(eni.private_ips.size() == 2);
  CHECK(eni.private_ips[0].address.to_string() == "10.0.2.157");  // the primary first
  CHECK(eni.private_ips[0].primary);
  CHECK(eni.private_ips[1].address.to_string() == "10.0.2.158");
  REQUIRE(eni.ipv4_prefixes.size() == 1);
  CHECK(eni.ipv4_prefixes[0].to_string() == "10.0.2.32/28");
  CHECK(eni.tags == std::vector<Tag>{{"cluster.k8s.amazonaws.com/name", "c1"}});
  CHECK(eni.attachment_id == "eni-attach-0a1");
  CHECK(eni.instance_id == "i-0123");
  CHECK(eni.device_index == 1);
  CHECK(eni.attachment_status == "attached");
  CHECK(eni.delete_on_termination);

  auto requests = fx.server.requests();
  REQUIRE(requests.size() == 2);
  std::map<std::string, std::string> first = requests[0].form();
  CHECK(first == std::map<std::string, std::string>{{"Action", "DescribeNetworkInterfaces"},
                                                    {"Version", "2016-11-15"},
                                                    {"Filter.1.Name", "tag:cluster.k8s.amazonaws.com/name"},
                                                    {"Filter.1.Value.1", "c1"},
                                                    {"Filter.2.Name", "status"},
                                                    {"Filter.2.Value.1", "available"},
                                                    {"Filter.2.Value.2", "in-use"},
                                                    {"MaxResults", "1000"}});
  CHECK(requests[1].form()["NextToken"] == "page/2+");
  CHECK(requests[0].body.find("tag%3Acluster.k8s.amazonaws.com%2Fname") != std::string::npos);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/");
  CHECK(requests[0].header("content-type") == "application/x-www-form-urlencoded; charset=utf-8");
  CHECK(requests[0].header("x-amz-security-token") == "session-token");
  CHECK(requests[0].header("x-amz-date").size() == 16);
  CHECK(requests[0].header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
  CHECK(requests[0].header("authorization").find("/us-west-2/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=") != std::string::npos);
}

TEST_CASE("DescribeNetworkInterfaces by id sends NetworkInterfaceId.N and no MaxResults") {
  Fixture fx;
  fx.answer("DescribeNetworkInterfaces", {ok_answer(ok("DescribeNetworkInterfaces", "<networkInterfaceSet/>"))});
  CHECK(fx.client->describe_network_interfaces({"eni-1", "eni-2"}).empty());
  auto form = fx.forms().at(0);
  CHECK(form["NetworkInterfaceId.1"] == "eni-1");
  CHECK(form["NetworkInterfaceId.2"] == "eni-2");
  CHECK(form.count("MaxResults") == 0);
}

TEST_CASE("DescribeInstances: reservationSet/instancesSet, the attached ENIs sorted by device index") {
  Fixture fx;
  std::string eni0 = kEniItem;
  eni0.replace(eni0.find("<deviceIndex>1"), 14, "<deviceIndex>0");
  eni0.replace(eni0.find("<instanceId>i-0123</instanceId>"), 31, "");
  eni0.replace(eni0.find("<availabilityZone>us-west-2a</availabilityZone>"), 47, "");
  fx.answer("DescribeInstances", {ok_answer(ok("DescribeInstances", R"(
  <reservationSet><item>
    <reservationId>r-1</reservationId>
    <instancesSet><item>
      <instanceId>i-0123</instanceId>
      <instanceType>m5.large</instanceType>
      <placement><availabilityZone>us-west-2a</availabilityZone><tenancy>default</tenancy></placement>
      <subnetId>subnet-0a</subnetId>
      <vpcId>vpc-11112222</vpcId>
      <privateIpAddress>10.0.2.157</privateIpAddress>
      <networkInterfaceSet>)" + std::string(kEniItem) + eni0 + R"(</networkInterfaceSet>
    </item></instancesSet>
  </item></reservationSet>)"))});
  Instance instance = fx.client->describe_instance("i-0123");
  CHECK(fx.forms().at(0)["InstanceId.1"] == "i-0123");
  CHECK(instance.id == "i-0123");
  CHECK(instance.instance_type == "m5.large");
  CHECK(instance.availability_zone == "us-west-2a");
  CHECK(instance.vpc_id == "vpc-11112222");
  CHECK(instance.subnet_id == "subnet-0a");
  CHECK(instance.private_ip.to_string() == "10.0.2.157");
  REQUIRE(instance.network_interfaces.size() == 2);
  CHECK(instance.network_interfaces[0].device_index == 0);
  CHECK(instance.network_interfaces[0].instance_id == "i-0123");  // filled from the instance
  CHECK(instance.network_interfaces[0].availability_zone == "us-west-2a");
  CHECK(instance.network_interfaces[1].device_index == 1);
}

TEST_CASE("DescribeInstances listing nothing is not_found") {
  Fixture fx;
  fx.answer("DescribeInstances", {ok_answer(ok("DescribeInstances", "<reservationSet/>"))});
  try {
    fx.client->describe_instance("i-gone");
    FAIL("no exception");
  } catch (const Ec2Error& error) {
    CHECK(error.code() == Errc::not_found);
  }
}

TEST_CASE("DescribeInstanceTypes and DescribeSubnets") {
  Fixture fx;
  fx.answer("DescribeInstanceTypes", {ok_answer(ok("DescribeInstanceTypes", R"(
  <instanceTypeSet>
    <item><instanceType>m5.large</instanceType><hypervisor>nitro</hypervisor>
      <networkInfo><networkPerformance>Up to 10 Gigabit</networkPerformance><maximumNetworkInterfaces>3</maximumNetworkInterfaces>
        <maximumNetworkCards>1</maximumNetworkCards><ipv4AddressesPerInterface>10</ipv4AddressesPerInterface></networkInfo></item>
    <item><instanceType>m4.large</instanceType><hypervisor>xen</hypervisor>
      <networkInfo><maximumNetworkInterfaces>2</maximumNetworkInterfaces><ipv4AddressesPerInterface>10</ipv4AddressesPerInterface></networkInfo></item>
  </instanceTypeSet>)"))});
  auto types = fx.client->describe_instance_types({"m5.large", "m4.large"});
  REQUIRE(types.size() == 2);
  CHECK(types[0].instance_type == "m5.large");
  CHECK(types[0].maximum_network_interfaces == 3);
  CHECK(types[0].ipv4_addresses_per_interface == 10);
  CHECK(types[0].nitro);
  CHECK_FALSE(types[1].nitro);
  CHECK(fx.forms().at(0)["InstanceType.1"] == "m5.large");
  CHECK(fx.forms().at(0)["InstanceType.2"] == "m4.large");

  fx.answer("DescribeSubnets", {ok_answer(ok("DescribeSubnets", R"(
  <subnetSet><item>
    <subnetId>subnet-0a</subnetId><subnetArn>arn:aws:ec2:us-west-2:123456789012:subnet/subnet-0a</subnetArn>
    <state>available</state><vpcId>vpc-11112222</vpcId><cidrBlock>10.0.2.0/24</cidrBlock>
    <availableIpAddressCount>250</availableIpAddressCount><availabilityZone>us-west-2a</availabilityZone>
    <defaultForAz>false</defaultForAz><mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>
    <tagSet><item><key>Name</key><value>private-a</value></item></tagSet>
  </item></subnetSet>)"))});
  auto subnets = fx.client->describe_subnets({"subnet-0a"});
  REQUIRE(subnets.size() == 1);
  CHECK(subnets[0].id == "subnet-0a");
  CHECK(subnets[0].vpc_id == "vpc-11112222");
  CHECK(subnets[0].cidr.to_string() == "10.0.2.0/24");
  CHECK(subnets[0].available_ip_address_count == 250);
  CHECK(subnets[0].availability_zone == "us-west-2a");
  CHECK(subnets[0].tags == std::vector<Tag>{{"Name", "private-a"}});
  CHECK(fx.forms().at(1)["SubnetId.1"] == "subnet-0a");
}

TEST_CASE("CreateNetworkInterface: subnet, groups, tags as TagSpecification.1, client token") {
  Fixture fx;
  fx.answer("CreateNetworkInterface",
            {ok_answer(ok("CreateNetworkInterface", std::string("<networkInterface>") +
                                                        std::string(kEniItem).substr(std::string(kEniItem).find("<item>") + 6) +
                                                        "<clientToken>tok-1</clientToken>"))});
  // The canned answer ends the item with </item>: turn it into </networkInterface>.
  auto& body = fx.script->answers["CreateNetworkInterface"].front().body;
  body.replace(body.rfind("</item>"), 7, "</networkInterface>");
  CreateNetworkInterfaceRequest request;
  request.subnet_id = "subnet-0a";
  request.security_group_ids = {"sg-1", "sg-2"};
  request.description = "vpcri ENI for i-0123";
  request.tags = {{"cluster.k8s.amazonaws.com/name", "c1"}, {"node.k8s.amazonaws.com/instance_id", "i-0123"}};
  request.client_token = "tok-1";
  NetworkInterface eni = fx.client->create_network_interface(request);
  CHECK(eni.id == "eni-0f7db8e2e1EXAMPLE");
  CHECK(fx.forms().at(0) == std::map<std::string, std::string>{
                                {"Action", "CreateNetworkInterface"},
                                {"Version", "2016-11-15"},
                                {"SubnetId", "subnet-0a"},
                                {"Description", "vpcri ENI for i-0123"},
                                {"SecurityGroupId.1", "sg-1"},
                                {"SecurityGroupId.2", "sg-2"},
                                {"TagSpecification.1.ResourceType", "network-interface"},
                                {"TagSpecification.1.Tag.1.Key", "cluster.k8s.amazonaws.com/name"},
                                {"TagSpecification.1.Tag.1.Value", "c1"},
                                {"TagSpecification.1.Tag.2.Key", "node.k8s.amazonaws.com/instance_id"},
                                {"TagSpecification.1.Tag.2.Value", "i-0123"},
                                {"ClientToken", "tok-1"}});
}

TEST_CASE("a create without a client token gets one, the same on each retry") {
  Fixture fx;
  fx.answer("CreateNetworkInterface", {error_answer(503, "RequestLimitExceeded", "Request limit exceeded."),
                                       ok_answer(ok("CreateNetworkInterface", "<networkInterface><networkInterfaceId>eni-9</networkInterfaceId></networkInterface>"))});
  CreateNetworkInterfaceRequest request;
  request.subnet_id = "subnet-0a";
  CHECK(fx.client->create_network_interface(request).id == "eni-9");
  auto forms = fx.forms();
  REQUIRE(forms.size() == 2);
  CHECK_FALSE(forms[0]["ClientToken"].empty());
  CHECK(forms[0]["ClientToken"] == forms[1]["ClientToken"]);
}

TEST_CASE("attach, DeleteOnTermination, detach, delete: parameters and answers") {
  Fixture fx;
  fx.answer("AttachNetworkInterface", {ok_answer(ok("AttachNetworkInterface",
                                                    "<attachmentId>eni-attach-70ab</attachmentId><networkCardIndex>0</networkCardIndex>"))});
  fx.answer("ModifyNetworkInterfaceAttribute", {ok_answer(ok("ModifyNetworkInterfaceAttribute", "<return>true</return>"))});
  fx.answer("DetachNetworkInterface", {ok_answer(ok("DetachNetworkInterface", "<return>true</return>"))});
  fx.answer("DeleteNetworkInterface", {ok_answer(ok("DeleteNetworkInterface", "<return>true</return>"))});
  CHECK(fx.client->attach_network_interface("eni-1", "i-0123", 2) == "eni-attach-70ab");
  fx.client->set_delete_on_termination("eni-1", "eni-attach-70ab", true);
  fx.client->detach_network_interface("eni-attach-70ab", true);
  fx.client->detach_network_interface("eni-attach-70ab", false);
  fx.client->delete_network_interface("eni-1");
  auto forms = fx.forms();
  REQUIRE(forms.size() == 5);
  CHECK(forms[0] == std::map<std::string, std::string>{{"Action", "AttachNetworkInterface"}, {"Version", "2016-11-15"},
                                                       {"NetworkInterfaceId", "eni-1"}, {"InstanceId", "i-0123"},
                                                       {"DeviceIndex", "2"}});
  CHECK(forms[1] == std::map<std::string, std::string>{{"Action", "ModifyNetworkInterfaceAttribute"},
                                                       {"Version", "2016-11-15"},
                                                       {"NetworkInterfaceId", "eni-1"},
                                                       {"Attachment.AttachmentId", "eni-attach-70ab"},
                                                       {"Attachment.DeleteOnTermination", "true"}});
  CHECK(forms[2] == std::map<std::string, std::string>{{"Action", "DetachNetworkInterface"}, {"Version", "2016-11-15"},
                                                       {"AttachmentId", "eni-attach-70ab"}, {"Force", "true"}});
  CHECK(forms[3].count("Force") == 0);
  CHECK(forms[4] == std::map<std::string, std::string>{{"Action", "DeleteNetworkInterface"}, {"Version", "2016-11-15"},
                                                       {"NetworkInterfaceId", "eni-1"}});
}

TEST_CASE("AssignPrivateIpAddresses (count, prefixes) and UnassignPrivateIpAddresses") {
  Fixture fx;
  fx.answer("AssignPrivateIpAddresses",
            {ok_answer(ok("AssignPrivateIpAddresses", R"(<networkInterfaceId>eni-1</networkInterfaceId>
  <assignedPrivateIpAddressesSet>
    <item><privateIpAddress>10.0.2.20</privateIpAddress></item>
    <item><privateIpAddress>10.0.2.21</privateIpAddress></item>
  </assignedPrivateIpAddressesSet><return>true</return>)")),
             ok_answer(ok("AssignPrivateIpAddresses", R"(<networkInterfaceId>eni-1</networkInterfaceId>
  <assignedPrivateIpAddressesSet/>
  <assignedIpv4PrefixSet><item><ipv4Prefix>10.0.2.48/28</ipv4Prefix></item></assignedIpv4PrefixSet><return>true</return>)"))});
  fx.answer("UnassignPrivateIpAddresses", {ok_answer(ok("UnassignPrivateIpAddresses", "<return>true</return>"))});
  auto ips = fx.client->assign_private_ips("eni-1", 2);
  REQUIRE(ips.size() == 2);
  CHECK(ips[0].to_string() == "10.0.2.20");
  CHECK(ips[1].to_string() == "10.0.2.21");
  auto prefixes = fx.client->assign_ipv4_prefixes("eni-1", 1);
  REQUIRE(prefixes.size() == 1);
  CHECK(prefixes[0].to_string() == "10.0.2.48/28");
  fx.client->unassign_private_ips("eni-1", {*IpAddress::parse("10.0.2.20"), *IpAddress::parse("10.0.2.21")});
  fx.client->unassign_ipv4_prefixes("eni-1", {*Cidr::parse("10.0.2.48/28")});
  auto forms = fx.forms();
  REQUIRE(forms.size() == 4);
  CHECK(forms[0]["SecondaryPrivateIpAddressCount"] == "2");
  CHECK(forms[0]["NetworkInterfaceId"] == "eni-1");
  CHECK(forms[1]["Ipv4PrefixCount"] == "1");
  CHECK(forms[1].count("SecondaryPrivateIpAddressCount") == 0);
  CHECK(forms[2] == std::map<std::string, std::string>{{"Action", "UnassignPrivateIpAddresses"}, {"Version", "2016-11-15"},
                                                       {"NetworkInterfaceId", "eni-1"},
                                                       {"PrivateIpAddress.1", "10.0.2.20"},
                                                       {"PrivateIpAddress.2", "10.0.2.21"}});
  CHECK(forms[3]["Ipv4Prefix.1"] == "10.0.2.48/28");
}

TEST_CASE("error answers become Ec2Error with the right Errc, request id, and no retry") {
  struct Case {
    int status;
    const char* code;
    Errc errc;
  };
  for (const Case& c : {Case{400, "InsufficientFreeAddressesInSubnet", Errc::resource_exhausted},
                        Case{400, "AttachmentLimitExceeded", Errc::resource_exhausted},
                        Case{400, "PrivateIpAddressLimitExceeded", Errc::resource_exhausted},
                        Case{403, "UnauthorizedOperation", Errc::failed_precondition},
                        Case{400, "InvalidParameterValue", Errc::invalid_argument},
                        Case{400, "InvalidNetworkInterfaceID.NotFound", Errc::not_found}}) {
    CAPTURE(c.code);
    Fixture fx;
    fx.answer("AssignPrivateIpAddresses", {error_answer(c.status, c.code, "explained")});
    try {
      fx.client->assign_private_ips("eni-1", 1);
      FAIL("no exception");
    } catch (const Ec2Error& error) {
      CHECK(error.aws_code() == c.code);
      CHECK(error.code() == c.errc);
      CHECK(error.http_status() == c.status);
      CHECK(error.request_id() == std::string("req-") + c.code);
      CHECK(std::string(error.what()).find("explained") != std::string::npos);
    }
    CHECK(fx.server.requests().size() == 1);
    CHECK(fx.backoff_sleeps.empty());
  }
}

TEST_CASE("RequestLimitExceeded, 5xx and a dropped connection are retried with backoff, then succeed") {
  Fixture fx(5);
  CannedResponse hang_up;
  hang_up.hang_up = true;
  fx.answer("DeleteNetworkInterface", {error_answer(503, "RequestLimitExceeded", "Request limit exceeded."),
                                       error_answer(500, "InternalError", "An internal error has occurred"),
                                       hang_up,
                                       ok_answer(ok("DeleteNetworkInterface", "<return>true</return>"))});
  fx.client->delete_network_interface("eni-1");
  CHECK(fx.server.requests().size() == 4);
  CHECK(fx.backoff_sleeps.size() == 3);
  auto authorizations = fx.server.requests();
  CHECK(authorizations[0].form() == authorizations[3].form());  // the same call each time
}

TEST_CASE("retries stop after max_retries; the last error is thrown as unavailable") {
  Fixture fx(2);
  fx.answer("DescribeSubnets", {error_answer(503, "Throttling", "Rate exceeded")});
  try {
    fx.client->describe_subnets({"subnet-0a"});
    FAIL("no exception");
  } catch (const Ec2Error& error) {
    CHECK(error.code() == Errc::unavailable);
    CHECK(error.throttled());
  }
  CHECK(fx.server.requests().size() == 3);
  CHECK(fx.backoff_sleeps.size() == 2);
}

TEST_CASE("the token bucket spaces calls beyond the burst") {
  Fixture fx(0, 1.0);  // 1 call/s, burst 1; sleeps are recorded, not slept
  fx.answer("DeleteNetworkInterface", {ok_answer(ok("DeleteNetworkInterface", "<return>true</return>"))});
  for (int i = 0; i < 3; ++i) fx.client->delete_network_interface("eni-1");
  CHECK(fx.server.requests().size() == 3);
  REQUIRE(fx.throttle_sleeps.size() == 2);
  CHECK(fx.throttle_sleeps[0] > 0ns);
  CHECK(fx.throttle_sleeps[1] > fx.throttle_sleeps[0]);
}

TEST_CASE("a body that is not XML is a clear error") {
  Fixture fx;
  fx.answer("DeleteNetworkInterface", {ok_answer("not xml <")});
  CHECK_THROWS_WITH_AS(fx.client->delete_network_interface("eni-1"), doctest::Contains("not XML"), Ec2Error);
}

namespace {

// botocore's EC2 Query serializer (the model's locationName/queryName rules) on API-level input.
constexpr const char* kSerializeScript = R"PY(
import json, sys
import botocore.session
from botocore import serialize
cases = json.load(open(sys.argv[1]))
model = botocore.session.get_session().get_service_model("ec2")
serializer = serialize.create_serializer("ec2", include_validation=True)
out = []
for operation, params in cases:
    request = serializer.serialize_to_request(params, model.operation_model(operation))
    out.append({k: str(v) for k, v in request["body"].items()})
print(json.dumps(out))
)PY";

// botocore's EC2 answer parser, for checking that the canned answers are shaped as the model says.
constexpr const char* kParseScript = R"PY(
import json, sys
import botocore.session
from botocore import parsers
cases = json.load(open(sys.argv[1]))
model = botocore.session.get_session().get_service_model("ec2")
parser = parsers.create_parser("ec2")
out = []
for operation, body in cases:
    shape = model.operation_model(operation).output_shape
    parsed = parser.parse({"body": body.encode(), "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata", None)
    out.append(parsed)
print(json.dumps(out, default=str))
)PY";

}  // namespace

TEST_CASE("every call's form parameters are exactly what botocore's EC2 serializer makes of the same input") {
  Fixture fx;
  auto ok_for = [](const std::string& action, const std::string& inner) { return ok_answer(ok(action, inner)); };
  fx.answer("DescribeInstances", {ok_for("DescribeInstances",
                                         "<reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>"
                                         "</item></instancesSet></item></reservationSet>")});
  fx.answer("DescribeInstanceTypes", {ok_for("DescribeInstanceTypes", "<instanceTypeSet/>")});
  fx.answer("DescribeSubnets", {ok_for("DescribeSubnets", "<subnetSet/>")});
  fx.answer("DescribeNetworkInterfaces", {ok_for("DescribeNetworkInterfaces", "<networkInterfaceSet/>")});
  fx.answer("CreateNetworkInterface", {ok_for("CreateNetworkInterface",
                                              "<networkInterface><networkInterfaceId>eni-1</networkInterfaceId></networkInterface>")});
  fx.answer("AttachNetworkInterface", {ok_for("AttachNetworkInterface", "<attachmentId>eni-attach-1</attachmentId>")});
  for (const char* action : {"ModifyNetworkInterfaceAttribute", "DetachNetworkInterface", "DeleteNetworkInterface",
                             "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses"}) {
    fx.answer(action, {ok_for(action, "<return>true</return>")});
  }
  fx.client->describe_instance("i-1");
  fx.client->describe_instance_types({"m5.large", "c5n.18xlarge"});
  fx.client->describe_subnets({}, {{"vpc-id", {"vpc-1"}}, {"tag:kubernetes.io/role/cni", {"1", "true"}}});
  fx.client->describe_subnets({"subnet-1", "subnet-2"});
  fx.client->describe_network_interfaces({}, {{"tag:node.k8s.amazonaws.com/instance_id", {"i-1"}}, {"status", {"available"}}});
  fx.client->describe_network_interfaces({"eni-1", "eni-2"});
  CreateNetworkInterfaceRequest create;
  create.subnet_id = "subnet-1";
  create.security_group_ids = {"sg-1", "sg-2"};
  create.description = "aws-K8S-i-1";
  create.tags = {{"cluster.k8s.amazonaws.com/name", "c 1"}, {"vpcri/created-at", "2026-12-06T09:00:00Z"}};
  create.client_token = "token-1";
  fx.client->create_network_interface(create);
  fx.client->attach_network_interface("eni-1", "i-1", 3);
  fx.client->set_delete_on_termination("eni-1", "eni-attach-1", false);
  fx.client->detach_network_interface("eni-attach-1", true);
  fx.client->delete_network_interface("eni-1");
  fx.client->assign_private_ips("eni-1", 5);
  fx.client->assign_ipv4_prefixes("eni-1", 2);
  fx.client->unassign_private_ips("eni-1", {*IpAddress::parse("10.0.0.5"), *IpAddress::parse("10.0.0.6")});
  fx.client->unassign_ipv4_prefixes("eni-1", {*Cidr::parse("10.0.0.16/28")});

  nlohmann::json botocore_input = nlohmann::json::parse(R"([
    ["DescribeInstances", {"InstanceIds": ["i-1"]}],
    ["DescribeInstanceTypes", {"InstanceTypes": ["m5.large", "c5n.18xlarge"]}],
    ["DescribeSubnets", {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]},
                                     {"Name": "tag:kubernetes.io/role/cni", "Values": ["1", "true"]}],
                         "MaxResults": 1000}],
    ["DescribeSubnets", {"SubnetIds": ["subnet-1", "subnet-2"]}],
    ["DescribeNetworkInterfaces", {"Filters": [{"Name": "tag:node.k8s.amazonaws.com/instance_id", "Values": ["i-1"]},
                                               {"Name": "status", "Values": ["available"]}],
                                   "MaxResults": 1000}],
    ["DescribeNetworkInterfaces", {"NetworkInterfaceIds": ["eni-1", "eni-2"]}],
    ["CreateNetworkInterface", {"SubnetId": "subnet-1", "Description": "aws-K8S-i-1", "Groups": ["sg-1", "sg-2"],
                                "TagSpecifications": [{"ResourceType": "network-interface",
                                  "Tags": [{"Key": "cluster.k8s.amazonaws.com/name", "Value": "c 1"},
                                           {"Key": "vpcri/created-at", "Value": "2026-12-06T09:00:00Z"}]}],
                                "ClientToken": "token-1"}],
    ["AttachNetworkInterface", {"NetworkInterfaceId": "eni-1", "InstanceId": "i-1", "DeviceIndex": 3}],
    ["ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": "eni-1",
                                         "Attachment": {"AttachmentId": "eni-attach-1", "DeleteOnTermination": false}}],
    ["DetachNetworkInterface", {"AttachmentId": "eni-attach-1", "Force": true}],
    ["DeleteNetworkInterface", {"NetworkInterfaceId": "eni-1"}],
    ["AssignPrivateIpAddresses", {"NetworkInterfaceId": "eni-1", "SecondaryPrivateIpAddressCount": 5}],
    ["AssignPrivateIpAddresses", {"NetworkInterfaceId": "eni-1", "Ipv4PrefixCount": 2}],
    ["UnassignPrivateIpAddresses", {"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": ["10.0.0.5", "10.0.0.6"]}],
    ["UnassignPrivateIpAddresses", {"NetworkInterfaceId": "eni-1", "Ipv4Prefixes": ["10.0.0.16/28"]}]
  ])");
  nlohmann::json expected = vpcri::net::aws::test::run_botocore(kSerializeScript, botocore_input);
  auto forms = fx.forms();
  REQUIRE(forms.size() == expected.size());
  for (size_t i = 0; i < forms.size(); ++i) {
    CAPTURE(forms[i]["Action"]);
    CHECK(forms[i] == expected[i].get<std::map<std::string, std::string>>());
  }
}

TEST_CASE("botocore's EC2 parser reads the canned answers as our parser does (they follow the model)") {
  std::string enis_body = ok("DescribeNetworkInterfaces", std::string("<networkInterfaceSet>") + kEniItem + "</networkInterfaceSet>");
  std::string assign_body = ok("AssignPrivateIpAddresses",
                               "<networkInterfaceId>eni-1</networkInterfaceId><assignedPrivateIpAddressesSet><item>"
                               "<privateIpAddress>10.0.2.20</privateIpAddress></item></assignedPrivateIpAddressesSet>"
                               "<assignedIpv4PrefixSet><item><ipv4Prefix>10.0.2.48/28</ipv4Prefix></item></assignedIpv4PrefixSet>");
  std::string subnets_body = ok("DescribeSubnets",
                                "<subnetSet><item><subnetId>subnet-0a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.2.0/24"
                                "</cidrBlock><availableIpAddressCount>250</availableIpAddressCount><availabilityZone>"
                                "us-west-2a</availabilityZone><tagSet><item><key>Name</key><value>a</value></item></tagSet>"
                                "</item></subnetSet><nextToken>t2</nextToken>");
  std::string types_body = ok("DescribeInstanceTypes",
                              "<instanceTypeSet><item><instanceType>m5.large</instanceType><hypervisor>nitro</hypervisor>"
                              "<networkInfo><maximumNetworkInterfaces>3</maximumNetworkInterfaces>"
                              "<ipv4AddressesPerInterface>10</ipv4AddressesPerInterface></networkInfo></item></instanceTypeSet>");
  std::string attach_body = ok("AttachNetworkInterface", "<attachmentId>eni-attach-70ab</attachmentId>");
  nlohmann::json parsed = vpcri::net::aws::test::run_botocore(
      kParseScript, nlohmann::json::array({nlohmann::json::array({"DescribeNetworkInterfaces", enis_body}),
                                           nlohmann::json::array({"AssignPrivateIpAddresses", assign_body}),
                                           nlohmann::json::array({"DescribeSubnets", subnets_body}),
                                           nlohmann::json::array({"DescribeInstanceTypes", types_body}),
                                           nlohmann::json::array({"AttachNetworkInterface", attach_body})}));
  REQUIRE(parsed.size() == 5);

  Fixture fx;
  fx.answer("DescribeNetworkInterfaces", {ok_answer(enis_body)});
  fx.answer("AssignPrivateIpAddresses", {ok_answer(assign_body)});
  fx.answer("DescribeSubnets", {ok_answer(subnets_body), ok_answer(ok("DescribeSubnets", "<subnetSet/>"))});
  fx.answer("DescribeInstanceTypes", {ok_answer(types_body)});
  fx.answer("AttachNetworkInterface", {ok_answer(attach_body)});

  const NetworkInterface eni = fx.client->describe_network_interfaces({"eni-0f7db8e2e1EXAMPLE"}).at(0);
  const nlohmann::json& theirs = parsed[0]["NetworkInterfaces"][0];
  CHECK(theirs["NetworkInterfaceId"] == eni.id);
  CHECK(theirs["SubnetId"] == eni.subnet_id);
  CHECK(theirs["VpcId"] == eni.vpc_id);
  CHECK(theirs["AvailabilityZone"] == eni.availability_zone);
  CHECK(vpcri::to_lower(theirs["MacAddress"].get<std::string>()) == eni.mac_address);
  CHECK(theirs["Status"] == eni.status);
  CHECK(theirs["Description"] == eni.description);
  REQUIRE(theirs["Groups"].size() == eni.security_group_ids.size());
  for (size_t i = 0; i < eni.security_group_ids.size(); ++i) CHECK(theirs["Groups"][i]["GroupId"] == eni.security_group_ids[i]);
  REQUIRE(theirs["PrivateIpAddresses"].size() == eni.private_ips.size());
  for (const auto& ip : theirs["PrivateIpAddresses"]) {
    bool found = false;
    for (const auto& ours : eni.private_ips) {
      found |= ours.address.to_string() == ip["PrivateIpAddress"] && ours.primary == ip["Primary"].get<bool>();
    }
    CHECK(found);
  }
  REQUIRE(theirs["Ipv4Prefixes"].size() == 1);
  CHECK(theirs["Ipv4Prefixes"][0]["Ipv4Prefix"] == eni.ipv4_prefixes[0].to_string());
  CHECK(theirs["TagSet"][0]["Key"] == eni.tags[0].key);
  CHECK(theirs["TagSet"][0]["Value"] == eni.tags[0].value);
  CHECK(theirs["Attachment"]["AttachmentId"] == eni.attachment_id);
  CHECK(theirs["Attachment"]["InstanceId"] == eni.instance_id);
  CHECK(theirs["Attachment"]["DeviceIndex"] == eni.device_index);
  CHECK(theirs["Attachment"]["Status"] == eni.attachment_status);
  CHECK(theirs["Attachment"]["DeleteOnTermination"] == eni.delete_on_termination);

  auto ips = fx.client->assign_private_ips("eni-1", 1);
  CHECK(parsed[1]["AssignedPrivateIpAddresses"][0]["PrivateIpAddress"] == ips.at(0).to_string());
  auto prefixes = fx.client->assign_ipv4_prefixes("eni-1", 1);
  CHECK(parsed[1]["AssignedIpv4Prefixes"][0]["Ipv4Prefix"] == prefixes.at(0).to_string());

  auto subnets = fx.client->describe_subnets({}, {});
  CHECK(parsed[2]["NextToken"] == "t2");
  const nlohmann::json& subnet = parsed[2]["Subnets"][0];
  CHECK(subnet["SubnetId"] == subnets.at(0).id);
  CHECK(subnet["VpcId"] == subnets[0].vpc_id);
  CHECK(subnet["CidrBlock"] == subnets[0].cidr.to_string());
  CHECK(subnet["AvailableIpAddressCount"] == subnets[0].available_ip_address_count);
  CHECK(subnet["AvailabilityZone"] == subnets[0].availability_zone);
  CHECK(subnet["Tags"][0]["Key"] == subnets[0].tags.at(0).key);

  auto types = fx.client->describe_instance_types({"m5.large"});
  const nlohmann::json& type = parsed[3]["InstanceTypes"][0];
  CHECK(type["InstanceType"] == types.at(0).instance_type);
  CHECK(type["Hypervisor"] == "nitro");
  CHECK(types[0].nitro);
  CHECK(type["NetworkInfo"]["MaximumNetworkInterfaces"] == types[0].maximum_network_interfaces);
  CHECK(type["NetworkInfo"]["Ipv4AddressesPerInterface"] == types[0].ipv4_addresses_per_interface);

  CHECK(parsed[4]["AttachmentId"] == fx.client->attach_network_interface("eni-1", "i-1", 1));
}

TEST_CASE("every call is counted by action, a failed one by its EC2 error code, each timed (vpcri_ec2_api_*)") {
  auto& calls = vpcri::metrics::global().counter("vpcri_ec2_api_calls_total", "", {"action"});
  auto& errors = vpcri::metrics::global().counter("vpcri_ec2_api_errors_total", "", {"action", "code"});
  auto& latency = vpcri::metrics::global().histogram("vpcri_ec2_api_call_duration_seconds", "", {"action"},
                                                     vpcri::metrics::latency_buckets());
  double calls_before = calls.with({"DeleteNetworkInterface"}).value();
  double denied_before = errors.with({"DeleteNetworkInterface", "UnauthorizedOperation"}).value();
  uint64_t timed_before = latency.with({"DeleteNetworkInterface"}).count();
  Fixture fx(5);
  // A retried throttle then success is one call and no error; a denial is one call and one error.
  fx.answer("DeleteNetworkInterface", {error_answer(503, "RequestLimitExceeded", "Request limit exceeded."),
                                       ok_answer(ok("DeleteNetworkInterface", "<return>true</return>")),
                                       error_answer(403, "UnauthorizedOperation", "not allowed")});
  fx.client->delete_network_interface("eni-1");
  CHECK(calls.with({"DeleteNetworkInterface"}).value() == calls_before + 1);
  CHECK(errors.with({"DeleteNetworkInterface", "UnauthorizedOperation"}).value() == denied_before);
  CHECK_THROWS_AS(fx.client->delete_network_interface("eni-1"), Ec2Error);
  CHECK(calls.with({"DeleteNetworkInterface"}).value() == calls_before + 2);
  CHECK(errors.with({"DeleteNetworkInterface", "UnauthorizedOperation"}).value() == denied_before + 1);
  CHECK(latency.with({"DeleteNetworkInterface"}).count() == timed_before + 2);
  std::string text = vpcri::metrics::global().render();
  CHECK(text.find("vpcri_ec2_api_errors_total{action=\"DeleteNetworkInterface\",code=\"UnauthorizedOperation\"}") !=
        std::string::npos);
}
