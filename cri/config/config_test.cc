#include "cri/config/config.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs.h"

using namespace vpcri;
using namespace vpcri::cri;

namespace {
// The message of the ConfigError that parsing `yaml` throws.
std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "/etc/vpcri/config.yaml");
  } catch (const ConfigError& e) {
    CHECK(e.code() == Errc::invalid_argument);
    return e.what();
  }
  FAIL("expected a ConfigError for: " << yaml);
  return {};
}
}  // namespace

TEST_CASE("no file or an empty file gives the embedded defaults") {
  Config c = load_config(std::nullopt, "/nonexistent/vpcri/config.yaml");
  CHECK(c.root == "/var/lib/vpcri");
  CHECK(c.state == "/run/vpcri");
  CHECK(c.socket == "/run/vpcri/vpcri.sock");
  CHECK(c.log_level == log::Level::info);
  CHECK(c.source == "embedded defaults");
  CHECK(parse_config("", "f").root == "/var/lib/vpcri");
  CHECK(parse_config("# only a comment\n", "f").socket == "/run/vpcri/vpcri.sock");
}

TEST_CASE("every key is read") {
  Config c = parse_config(
      "root: /data/vpcri\n"
      "state: /run/x\n"
      "socket: /run/x/cri.sock\n"
      "log_level: debug\n"
      "cgroup_driver: cgroupfs\n",
      "f.yaml");
  CHECK(c.root == "/data/vpcri");
  CHECK(c.state == "/run/x");
  CHECK(c.socket == "/run/x/cri.sock");
  CHECK(c.log_level == log::Level::debug);
  CHECK(c.cgroup_driver == CgroupDriver::cgroupfs);
  CHECK(c.source == "f.yaml");
  CHECK(config_to_json(c).find("\"root\":\"/data/vpcri\"") != std::string::npos);
}

TEST_CASE("an unknown key is reported with file, line, column and the known keys") {
  std::string e = error_of("root: /var/lib/vpcri\nlog_levle: debug\n");
  CHECK(e.rfind("/etc/vpcri/config.yaml:2:1: log_levle: unknown key", 0) == 0);
  CHECK(e.find("log_level") != std::string::npos);
}

TEST_CASE("a value of the wrong type is reported at the value") {
  CHECK(error_of("root:\n  - /a\n  - /b\n").rfind("/etc/vpcri/config.yaml:2:3: root: expected a string, got a list", 0) == 0);
  CHECK(error_of("state: {a: 1}\n").find(":1:8: state: expected a string, got a mapping") != std::string::npos);
  CHECK(error_of("root:\n").find("root: expected a string, got nothing (null)") != std::string::npos);
}

TEST_CASE("bad values say what was expected") {
  CHECK(error_of("root: var/lib\n").find(":1:7: root: expected an absolute path, got \"var/lib\"") != std::string::npos);
  CHECK(error_of("log_level: loud\n").find(":1:12: log_level: expected one of debug, info, warn, error, got \"loud\"") !=
        std::string::npos);
  CHECK(error_of("cgroup_driver: xyz\n").find("cgroup_driver: expected one of cgroupfs, systemd") != std::string::npos);
  CHECK(parse_config("cgroup_driver: systemd\n", "f").cgroup_driver == CgroupDriver::systemd);
  std::string long_socket = "socket: /" + std::string(120, 's') + "\n";
  CHECK(error_of(long_socket).find("socket: socket path is 121 bytes") != std::string::npos);
}

TEST_CASE("YAML syntax errors, duplicate keys and a non-mapping document are refused") {
  CHECK(error_of("root: [unclosed\n").find("YAML syntax error") != std::string::npos);
  CHECK(error_of("root: /a\nroot: /b\n").find(":2:1: root: duplicate key") != std::string::npos);
  CHECK(error_of("- root\n").find(":1:1: expected a mapping of settings at the top, got a list") != std::string::npos);
  CHECK(error_of("just a string\n").find("expected a mapping of settings at the top") != std::string::npos);
  CHECK(error_of("? [a, b]\n: 1\n").find("keys must be plain names") != std::string::npos);
}

TEST_CASE("an explicitly named config file must exist; a present default file is read") {
  CHECK_THROWS_WITH_AS(load_config(std::string("/nonexistent/c.yaml"), "/etc/x"),
                       doctest::Contains("cannot read config file"), Error);
  char tmpl[] = "/tmp/vpcri-config-test.XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  fs::write_file_atomic(dir + "/config.yaml", "log_level: warn\n");
  Config c = load_config(std::nullopt, dir + "/config.yaml");
  CHECK(c.log_level == log::Level::warn);
  CHECK(c.source == dir + "/config.yaml");
  std::filesystem::remove_all(dir);
}

TEST_CASE("validate checks values that flags set") {
  Config c;
  c.root = "relative";
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("root: expected an absolute path"), Error);
  c = Config{};
  c.socket = "/" + std::string(200, 'x');
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("socket: socket path is"), Error);
  CHECK_NOTHROW(validate(Config{}));
}

TEST_CASE("images and registries sections") {
  Config c = parse_config(
      "images:\n"
      "  platform: linux/arm64\n"
      "  preload: [/opt/images/a.tar, /opt/images/b.tar]\n"
      "  sandbox_image: registry.k8s.io/pause:3.10\n"
      "  max_layer_gib: 2\n"
      "  max_image_gib: 0\n"
      "registries:\n"
      "  docker.io:\n"
      "    mirrors: [\"http://127.0.0.1:5000\", \"https://mirror.example\"]\n"
      "  127.0.0.1:5000:\n"
      "    insecure_http: true\n",
      "f.yaml");
  CHECK(c.images.platform == "linux/arm64");
  CHECK(c.images.preload == std::vector<std::string>{"/opt/images/a.tar", "/opt/images/b.tar"});
  CHECK(c.images.sandbox_image == "registry.k8s.io/pause:3.10");
  REQUIRE(c.registries.count("docker.io") == 1);
  CHECK(c.registries["docker.io"].mirrors.size() == 2);
  CHECK_FALSE(c.registries["docker.io"].insecure_http);
  CHECK(c.registries["127.0.0.1:5000"].insecure_http);
  CHECK(Config{}.images.sandbox_image.rfind("localhost/vpcri/pause:", 0) == 0);
  CHECK(c.images.max_layer_gib == 2);
  CHECK(c.images.max_image_gib == 0);
  CHECK(Config{}.images.max_layer_gib == 16);
  CHECK(Config{}.images.max_image_gib == 64);
}

TEST_CASE("images and registries errors are located") {
  CHECK(error_of("images:\n  platform: amd64\n").find(":2:13: images.platform: expected os/architecture") !=
        std::string::npos);
  CHECK(error_of("images:\n  preload: [rel.tar]\n").find("images.preload[0]: expected an absolute path") !=
        std::string::npos);
  CHECK(error_of("images:\n  preload: /a.tar\n").find("images.preload: expected a list of strings") !=
        std::string::npos);
  CHECK(error_of("images:\n  pltform: linux/amd64\n").find(":2:3: images.pltform: unknown key") != std::string::npos);
  CHECK(error_of("registries:\n  docker.io:\n    mirrors: [ftp://x]\n")
            .find(":3:15: registries.docker.io.mirrors[0]: expected an http:// or https:// URL") != std::string::npos);
  CHECK(error_of("registries:\n  docker.io:\n    insecure_http: yes please\n")
            .find("registries.docker.io.insecure_http: expected true or false") != std::string::npos);
  CHECK(error_of("registries:\n  http://docker.io:\n    skip_host: false\n")
            .find("may only hold a host name") != std::string::npos);
  CHECK(error_of("registries:\n  docker.io:\n    skip_host: true\n").find("no mirrors are listed") !=
        std::string::npos);
  CHECK(error_of("registries:\n  docker.io: [a]\n").find("registries.docker.io: expected a mapping") !=
        std::string::npos);
  CHECK(error_of("registries:\n  docker.io: {}\n  docker.io: {}\n").find("duplicate key") != std::string::npos);
}

TEST_CASE("runtime helper binaries") {
  Config c = parse_config("runtime:\n  monitor_path: /opt/vpcri/vpcri-monitor\n  init_path: /opt/vpcri/vpcri-init\n"
                          "  pause_path: /opt/vpcri/pause\n",
                          "f.yaml");
  CHECK(c.runtime.monitor_path == "/opt/vpcri/vpcri-monitor");
  CHECK(c.runtime.init_path == "/opt/vpcri/vpcri-init");
  CHECK(c.runtime.pause_path == "/opt/vpcri/pause");
  CHECK(Config{}.runtime.monitor_path.find("vpcri-monitor") != std::string::npos);
  CHECK(error_of("runtime:\n  init_path: vpcri-init\n").find(":2:14: runtime.init_path: expected an absolute path") !=
        std::string::npos);
  CHECK(error_of("runtime:\n  monitr_path: /x\n").find(":2:3: runtime.monitr_path: unknown key") != std::string::npos);
}

TEST_CASE("runtime.max_concurrent_exec_sync") {
  CHECK(Config{}.runtime.max_concurrent_exec_sync == 64);
  CHECK(parse_config("runtime:\n  max_concurrent_exec_sync: 2\n", "f").runtime.max_concurrent_exec_sync == 2);
  CHECK(error_of("runtime:\n  max_concurrent_exec_sync: 0\n").find("runtime.max_concurrent_exec_sync: expected 1 to 4096") !=
        std::string::npos);
}

TEST_CASE("network section: defaults, every key, located errors") {
  Config d = parse_config("", "f");
  CHECK(d.network.provider == "local");
  CHECK(d.network.node_range.empty());
  CHECK(d.network.cooldown_seconds == 30);
  CHECK(d.network.mtu == 9001);
  Config c = parse_config(
      "network:\n"
      "  provider: local\n"
      "  node_range: 10.99.0.0/24\n"
      "  mtu: 1500\n"
      "  max_enis: 2\n"
      "  ips_per_eni: 4\n"
      "  max_pods: 6\n"
      "  warm_eni_target: 0\n"
      "  warm_ip_target: 2\n"
      "  minimum_ip_target: 3\n"
      "  cooldown_seconds: 2\n"
      "  external_snat: true\n"
      "  snat_exclude: [10.0.0.0/8]\n"
      "  primary_interface: up0\n"
      "  primary_ip: 192.168.50.1\n"
      "  host_veth_prefix: eni\n",
      "f");
  CHECK(c.network.node_range == "10.99.0.0/24");
  CHECK(c.network.mtu == 1500);
  CHECK(c.network.max_enis == 2);
  CHECK(c.network.ips_per_eni == 4);
  CHECK(c.network.max_pods == 6);
  CHECK(c.network.warm_eni_target == 0);
  CHECK(c.network.warm_ip_target == 2);
  CHECK(c.network.minimum_ip_target == 3);
  CHECK(c.network.cooldown_seconds == 2);
  CHECK(c.network.external_snat);
  CHECK(c.network.snat_exclude == std::vector<std::string>{"10.0.0.0/8"});
  CHECK(c.network.primary_interface == "up0");
  CHECK(c.network.primary_ip == "192.168.50.1");
  CHECK(error_of("network:\n  node_range: 10.99.0.0/33\n") ==
        "/etc/vpcri/config.yaml:2:15: network.node_range: expected an IPv4 CIDR such as 10.88.0.0/16, got \"10.99.0.0/33\"");
  CHECK(error_of("network:\n  mtu: big\n").find("2:8: network.mtu: expected an integer") != std::string::npos);
  CHECK(error_of("network:\n  mtu: 100\n").find("network.mtu: expected 576 to 9001, got 100") != std::string::npos);
  CHECK(error_of("network:\n  provider: gce\n").find("network.provider: expected one of local, aws, none") !=
        std::string::npos);
  CHECK(error_of("network:\n  snat_exclude: [nope]\n").find("network.snat_exclude[0]: expected an IPv4 CIDR") !=
        std::string::npos);
  CHECK(error_of("network:\n  cooldown: 3\n").find("network.cooldown: unknown key") != std::string::npos);
}

TEST_CASE("network.aws: defaults, every key, located errors") {
  Config d = parse_config("network:\n  provider: aws\n", "f");
  CHECK(d.network.provider == "aws");
  CHECK(d.network.aws.region.empty());
  CHECK(d.network.aws.imds_endpoint == "http://169.254.169.254");
  CHECK(d.network.aws.subnets.empty());
  CHECK_FALSE(d.network.aws.prefix_delegation);
  CHECK(d.network.aws.ec2_requests_per_second == 5);
  CHECK(d.network.aws.ec2_burst == 20);
  CHECK(d.network.aws.leaked_eni_grace_seconds == 300);
  Config c = parse_config(
      "network:\n"
      "  provider: aws\n"
      "  aws:\n"
      "    region: eu-west-1\n"
      "    ec2_endpoint: https://ec2.test:8443\n"
      "    sts_endpoint: https://sts.test:8443\n"
      "    imds_endpoint: http://10.9.9.9:1338\n"
      "    ca_file: /etc/vpcri/aws-ca.pem\n"
      "    subnets: [subnet-0123456789abcdef0, subnet-0a]\n"
      "    security_groups: [sg-01234567]\n"
      "    cluster_name: prod-1\n"
      "    prefix_delegation: true\n"
      "    ec2_requests_per_second: 2.5\n"
      "    ec2_burst: 7\n"
      "    leaked_eni_grace_seconds: 600\n",
      "f");
  const AwsNetworkConfig& a = c.network.aws;
  CHECK(a.region == "eu-west-1");
  CHECK(a.ec2_endpoint == "https://ec2.test:8443");
  CHECK(a.sts_endpoint == "https://sts.test:8443");
  CHECK(a.imds_endpoint == "http://10.9.9.9:1338");
  CHECK(a.ca_file == "/etc/vpcri/aws-ca.pem");
  CHECK(a.subnets == std::vector<std::string>{"subnet-0123456789abcdef0", "subnet-0a"});
  CHECK(a.security_groups == std::vector<std::string>{"sg-01234567"});
  CHECK(a.cluster_name == "prod-1");
  CHECK(a.prefix_delegation);
  CHECK(a.ec2_requests_per_second == 2.5);
  CHECK(a.ec2_burst == 7);
  CHECK(a.leaked_eni_grace_seconds == 600);
  CHECK(config_to_json(c).find("\"ec2_requests_per_second\":2.5") != std::string::npos);

  CHECK(error_of("network:\n  aws:\n    subnets: [subnet_0a]\n") ==
        "/etc/vpcri/config.yaml:3:15: network.aws.subnets[0]: expected an id such as subnet-0123456789abcdef0, got "
        "\"subnet_0a\"");
  CHECK(error_of("network:\n  aws:\n    security_groups: [subnet-0a]\n")
            .find("network.aws.security_groups[0]: expected an id such as sg-") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    region: US East\n").find("network.aws.region: expected an AWS region") !=
        std::string::npos);
  CHECK(error_of("network:\n  aws:\n    ec2_endpoint: ec2.local\n")
            .find("network.aws.ec2_endpoint: expected an http:// or https:// URL") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    ca_file: ca.pem\n").find("network.aws.ca_file: expected an absolute path") !=
        std::string::npos);
  CHECK(error_of("network:\n  aws:\n    ec2_requests_per_second: 0\n")
            .find("network.aws.ec2_requests_per_second: expected 0.1 to 1000, got 0") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    ec2_requests_per_second: fast\n")
            .find("network.aws.ec2_requests_per_second: expected a number") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    ec2_burst: 0\n").find("network.aws.ec2_burst: expected 1 to 1000") !=
        std::string::npos);
  CHECK(error_of("network:\n  aws:\n    leaked_eni_grace_seconds: 5\n")
            .find("network.aws.leaked_eni_grace_seconds: expected 60 to 604800") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    prefix_delegation: yes\n")
            .find("network.aws.prefix_delegation: expected true or false") != std::string::npos);
  CHECK(error_of("network:\n  aws:\n    subnet: [subnet-0a]\n").find("network.aws.subnet: unknown key") !=
        std::string::npos);
  CHECK(error_of("network:\n  aws: on\n").find("network.aws: expected a mapping") != std::string::npos);
  CHECK(error_of("network:\n  provider: aws\n  node_range: 10.99.0.0/24\n") ==
        "/etc/vpcri/config.yaml:3:15: network.node_range: not used with provider aws (pod IPs come from the VPC's "
        "subnets); remove it or use provider local");
}

TEST_CASE("streaming section: defaults, every key, located errors") {
  Config d = parse_config("", "f");
  CHECK(d.streaming.address == "127.0.0.1");
  CHECK(d.streaming.port == 0);
  CHECK(d.streaming.token_ttl_seconds == 60);
  CHECK(d.streaming.idle_timeout_seconds == 14400);
  Config c = parse_config(
      "streaming:\n"
      "  address: \"::1\"\n"
      "  port: 10010\n"
      "  max_sessions: 8\n"
      "  idle_timeout_seconds: 600\n"
      "  stream_creation_timeout_seconds: 5\n"
      "  token_ttl_seconds: 2\n"
      "  max_tokens: 10\n",
      "f");
  CHECK(c.streaming.address == "::1");
  CHECK(c.streaming.port == 10010);
  CHECK(c.streaming.max_sessions == 8);
  CHECK(c.streaming.idle_timeout_seconds == 600);
  CHECK(c.streaming.stream_creation_timeout_seconds == 5);
  CHECK(c.streaming.token_ttl_seconds == 2);
  CHECK(c.streaming.max_tokens == 10);
  CHECK(error_of("streaming:\n  address: localhost\n") ==
        "/etc/vpcri/config.yaml:2:12: streaming.address: expected an IPv4 or IPv6 address, got \"localhost\"");
  CHECK(error_of("streaming:\n  port: 70000\n").find("streaming.port: expected 0 to 65535, got 70000") !=
        std::string::npos);
  CHECK(config_to_json(c).find("\"token_ttl_seconds\":2") != std::string::npos);
  CHECK(d.streaming.tls_cert_file.empty());
  Config tls = parse_config("streaming:\n  tls_cert_file: /etc/node.pem\n  tls_key_file: /etc/node.key\n", "f");
  CHECK(tls.streaming.tls_cert_file == "/etc/node.pem");
  CHECK(tls.streaming.tls_key_file == "/etc/node.key");
  CHECK(error_of("streaming:\n  tls_cert_file: /etc/node.pem\n") ==
        "/etc/vpcri/config.yaml:2:3: streaming.tls_key_file: TLS needs both tls_cert_file and tls_key_file (or "
        "neither, for plain HTTP)");
  CHECK(error_of("streaming:\n  tls_key_file: /etc/node.key\n").find("streaming.tls_cert_file: TLS needs both") !=
        std::string::npos);
  CHECK(error_of("streaming:\n  tls_cert_file: node.pem\n  tls_key_file: /k\n")
            .find("streaming.tls_cert_file: expected an absolute path") != std::string::npos);
}

TEST_CASE("metrics and introspection addresses: defaults, IPv4 and IPv6, off, located errors, validate") {
  Config d = parse_config("", "f");
  CHECK(d.metrics.address == "127.0.0.1:61678");
  CHECK(d.introspection.address == "127.0.0.1:61679");
  Config c = parse_config("metrics:\n  address: \"[::1]:9100\"\nintrospection:\n  address: \"\"\n", "f");
  CHECK(c.metrics.address == "[::1]:9100");
  CHECK(c.introspection.address.empty());
  CHECK(config_to_json(c).find("\"introspection\":{\"address\":\"\"}") != std::string::npos);
  CHECK(error_of("metrics:\n  address: localhost:9100\n") ==
        "/etc/vpcri/config.yaml:2:12: metrics.address: expected IP:PORT such as 127.0.0.1:61678 ([addr]:PORT for "
        "IPv6, \"\" for off), got \"localhost:9100\"");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80", "[::1]", "1.2.3.4:x"}) {
    CAPTURE(bad);
    CHECK_FALSE(check_listen_address(bad).empty());
  }
  CHECK(error_of("introspection:\n  port: 1\n").find("introspection.port") != std::string::npos);
  Config flags;
  flags.metrics.address = "nope";
  CHECK_THROWS_WITH_AS(validate(flags), doctest::Contains("metrics.address: expected IP:PORT"), vpcri::Error);
}

// Found by fuzz/fuzz_config.cc: a byte that is not UTF-8 in a value made config_to_json (the
// config `Status` reports) throw nlohmann's type_error instead of the file being refused.
TEST_CASE("a file that is not UTF-8 is refused at the first bad byte, and every accepted config prints as JSON") {
  CHECK(error_of("root: /var/lib/vpcri\nstate: /run/v\xe9pcri\n") ==
        "/etc/vpcri/config.yaml:2:14: not valid UTF-8 text");
  CHECK(error_of("# caf\xc3 comment\n").rfind("/etc/vpcri/config.yaml:1:6:", 0) == 0);
  Config c = parse_config("root: /var/lib/vpcri-\xc3\xa9t\xc3\xa9\n", "/etc/vpcri/config.yaml");
  CHECK(config_to_json(c).find("vpcri-\xc3\xa9t\xc3\xa9") != std::string::npos);
}

// Found by fuzz/fuzz_config.cc in CI: valid UTF-8 in the file, control characters and a NUL in a
// plain scalar, and yaml-cpp's reading of them handed back a string with a lone 0xA0.
TEST_CASE("a value that YAML reading turns into bytes that are not UTF-8 is refused with its key") {
  const std::string yaml("root: /`wirovmax_EU\x1f\x1b\x1b\x1b\x1b\x1b\x1b\x1b /`wirovmax_EU\x1f\x1b\x1b\x1b\x1b\x1b\x1b\x1b"
                         "\x1bro\x1b\x1bro\x1bl \0_leiot",
                         66);
  std::string error;
  try {
    Config c = parse_config(yaml, "/etc/vpcri/config.yaml");
    CHECK_NOTHROW((void)config_to_json(c));  // if accepted at all, it must print
  } catch (const vpcri::Error& e) {
    error = e.what();
  }
  CHECK_MESSAGE(error.find("root: not valid UTF-8 text once the YAML is read") != std::string::npos, error);
}
