// Which sysctls a container may set.
#include "runtime/container/sysctl.h"

#include <doctest/doctest.h>

#include "runtime/container/init_error.h"

using namespace vpcri::runtime::container;

TEST_CASE("runtime-container: only namespaced sysctls of namespaces the container owns") {
  InitSpec spec;
  CHECK(sysctl_path("net.ipv4.ip_forward", "1", spec) == "net/ipv4/ip_forward");
  CHECK(sysctl_path("net/ipv4/conf/eth0.100/forwarding", "1", spec) == "net/ipv4/conf/eth0.100/forwarding");
  CHECK(sysctl_path("kernel.shmmax", "1", spec) == "kernel/shmmax");
  CHECK(sysctl_path("kernel.msgmax", "1", spec) == "kernel/msgmax");
  CHECK(sysctl_path("kernel.sem", "1 2 3 4", spec) == "kernel/sem");
  CHECK(sysctl_path("fs.mqueue.msg_max", "1", spec) == "fs/mqueue/msg_max");

  auto rejected = [&](const std::string& key, const std::string& value, const std::string& why) {
    try {
      sysctl_path(key, value, spec);
      FAIL("sysctl " << key << " was accepted");
    } catch (const InitError& e) {
      CHECK(e.err() == EINVAL);
      CHECK(std::string(e.what()) == "sysctl \"" + key + "\": " + why);
    }
  };
  rejected("kernel.hostname", "x", "not a namespaced sysctl");
  rejected("vm.overcommit_memory", "1", "not a namespaced sysctl");
  rejected("kernel.semaphore", "1", "not a namespaced sysctl");
  rejected("Net.ipv4.ip_forward", "1", "not a sysctl name");
  rejected("net..ipv4", "1", "not a sysctl name");
  rejected("net/../../kernel/core_pattern", "x", "not a sysctl name");
  rejected("net.ipv4.ip_forward", "1\n0", "the value has a newline");
  spec.net.mode = NamespaceSpec::Mode::host;
  rejected("net.ipv4.ip_forward", "1", "the container shares the host's network namespace");
  spec.ipc.mode = NamespaceSpec::Mode::host;
  rejected("kernel.shmmax", "1", "the container shares the host's IPC namespace");
}
