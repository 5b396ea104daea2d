#include "cri/server/pod_config.h"

#include <doctest/doctest.h>

#include "common/error.h"

using namespace vpcri::cri;

namespace {

std::string error_of(const std::map<std::string, std::string>& sysctls, bool host_net = false, bool host_ipc = false) {
  try {
    validate_sysctls(sysctls, host_net, host_ipc);
  } catch (const vpcri::Error& e) {
    CHECK(e.code() == vpcri::Errc::invalid_argument);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("namespaced sysctls are accepted") {
  CHECK(error_of({{"net.ipv4.ip_forward", "1"},
                  {"net/ipv4/ip_local_port_range", "1024 65535"},
                  {"net.ipv4.conf.eth0/100.forwarding", "1"},
                  {"kernel.shm_rmid_forced", "1"},
                  {"kernel.msgmax", "65536"},
                  {"kernel.sem", "250\t32000 32 128"},
                  {"fs.mqueue.msg_max", "10"}}) == "");
}

TEST_CASE("node-wide sysctls and host namespaces are refused") {
  CHECK(error_of({{"kernel.core_pattern", "core"}}).find("only namespaced sysctls") != std::string::npos);
  CHECK(error_of({{"vm.overcommit_memory", "1"}}).find("not allowed") != std::string::npos);
  CHECK(error_of({{"net.ipv4.ip_forward", "1"}}, true).find("host's network") != std::string::npos);
  CHECK(error_of({{"kernel.shmmax", "1"}}, false, true).find("host's IPC") != std::string::npos);
  CHECK(error_of({{"net.ipv4.ip_forward", "1"}}, false, true) == "");
}

TEST_CASE("injection through values or names is impossible (CVE-2022-0811)") {
  CHECK(error_of({{"kernel.shm_rmid_forced", "1+kernel.core_pattern=|/tmp/x"}}).find("separator") != std::string::npos);
  CHECK(error_of({{"net.ipv4.ip_forward", "1\nkernel.core_pattern=|/x"}}).find("newline") != std::string::npos);
  CHECK(error_of({{"net.ipv4.ip_forward", std::string("1\0x", 3)}}) != "");
  CHECK(error_of({{"net.ipv4.ip_forward", "1;2"}}) != "");
  CHECK(error_of({{"net.ipv4.ip_forward=1", "1"}}).find("invalid") != std::string::npos);
  CHECK(error_of({{"net/../kernel/core_pattern", "x"}}).find("invalid") != std::string::npos);
  CHECK(error_of({{"net..ipv4", "1"}}).find("invalid") != std::string::npos);
  CHECK(error_of({{"", "1"}}).find("invalid") != std::string::npos);
}

TEST_CASE("hosts and resolv.conf") {
  CHECK(hosts_file("web-0").find("127.0.0.1\tlocalhost\n") == 0);
  CHECK(hosts_file("web-0").find("\tweb-0\n") != std::string::npos);
  CHECK(resolv_conf({"10.0.0.10"}, {"default.svc.cluster.local", "svc.cluster.local"}, {"ndots:5"}) ==
        "nameserver 10.0.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n");
  CHECK(resolv_conf({}, {}, {}) == "");
  CHECK_THROWS_AS(resolv_conf({"10.0.0.10\nnameserver 6.6.6.6"}, {}, {}), vpcri::Error);
  CHECK_THROWS_AS(resolv_conf({}, {"a b"}, {}), vpcri::Error);
}
