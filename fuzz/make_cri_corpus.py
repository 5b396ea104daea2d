#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_cri (fuzz/corpus/cri/seed-*): each seed is a sequence of calls,
each 1 byte of RPC selector, 2 bytes of length (little endian) and the request serialized by
`protoc --encode` from the text format below. Selectors are the RPCs' positions in fuzz_cri.cc's
VPCRI_FUZZ_CALLS, read from that file, so the two cannot disagree. The ids are the records every
input starts with (fuzz_cri.cc: kPodReady = 1..., kContainerRunning = 4..., and so on).

    python3 fuzz/make_cri_corpus.py      # rewrites fuzz/corpus/cri/seed-*; needs protoc
"""
import pathlib
import re
import struct
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
PROTO_DIR = HERE.parent / "cri" / "api" / "v1"
OUT = HERE / "corpus" / "cri"

POD_READY, POD_NOT_READY = "1" * 64, "2" * 64
CREATED, RUNNING, EXITED, OF_NOT_READY = "3" * 64, "4" * 64, "5" * 64, "6" * 64

POD_CONFIG = """
  metadata { name: "nginx" namespace: "default" uid: "0b5a9b0e" attempt: 1 }
  hostname: "nginx"
  log_directory: "/var/log/pods/default_nginx_0b5a9b0e"
  dns_config { servers: "10.96.0.10" searches: "default.svc.cluster.local" options: "ndots:5" }
  port_mappings { protocol: TCP container_port: 80 host_port: 8080 host_ip: "127.0.0.1" }
  labels { key: "app" value: "nginx" }
  linux {
    cgroup_parent: "/kubepods/besteffort/pod0b5a9b0e"
    sysctls { key: "net.ipv4.ip_unprivileged_port_start" value: "0" }
    security_context { namespace_options { network: POD pid: CONTAINER ipc: POD } run_as_user { value: 0 } }
    resources { cpu_shares: 2 memory_limit_in_bytes: 67108864 }
  }
"""

CONTAINER_CONFIG = """
  metadata { name: "nginx" attempt: 0 }
  image { image: "docker.io/library/nginx:1.25" }
  command: "/docker-entrypoint.sh"
  args: "nginx" args: "-g" args: "daemon off;"
  working_dir: "/"
  envs { key: "PATH" value: "/usr/bin:/bin" }
  mounts { container_path: "/etc/config" host_path: "/tmp" readonly: true }
  log_path: "nginx/0.log"
  linux {
    resources { cpu_period: 100000 cpu_quota: 50000 memory_limit_in_bytes: 134217728 }
    security_context {
      capabilities { add_capabilities: "NET_ADMIN" drop_capabilities: "ALL" }
      namespace_options { pid: POD }
      run_as_user { value: 101 }
      seccomp { profile_type: RuntimeDefault }
      masked_paths: "/proc/kcore"
      readonly_paths: "/proc/sys"
    }
  }
"""

SEEDS = {
    "runtime-info": [
        ("Version", 'version: "v1"'),
        ("Status", "verbose: true"),
        ("RuntimeConfig", ""),
        ("UpdateRuntimeConfig", 'runtime_config { network_config { pod_cidr: "10.244.1.0/24,fd00:10:244:1::/64" } }'),
        ("ListMetricDescriptors", ""),
    ],
    "run-pod": [
        ("RunPodSandbox", "config {" + POD_CONFIG + "}"),
        ("RunPodSandbox", 'config { metadata { name: "a" namespace: "b" uid: "c" } '
                          'linux { security_context { namespace_options { network: NODE ipc: NODE pid: NODE } } } }'),
    ],
    "pods": [
        ("PodSandboxStatus", f'pod_sandbox_id: "{POD_READY}" verbose: true'),
        ("ListPodSandbox", 'filter { state { state: SANDBOX_READY } label_selector { key: "app" value: "x" } }'),
        ("PodSandboxStatus", f'pod_sandbox_id: "{POD_NOT_READY[:8]}"'),
        ("StopPodSandbox", f'pod_sandbox_id: "{POD_READY}"'),
        ("RemovePodSandbox", f'pod_sandbox_id: "{POD_READY}"'),
        ("ListPodSandbox", ""),
        ("ListContainers", ""),
    ],
    "create-container": [
        ("CreateContainer", f'pod_sandbox_id: "{POD_READY}" config {{' + CONTAINER_CONFIG + "} sandbox_config {" +
         POD_CONFIG + "}"),
        ("CreateContainer", f'pod_sandbox_id: "{POD_NOT_READY}" config {{' + CONTAINER_CONFIG + "}"),
    ],
    "containers": [
        ("ContainerStatus", f'container_id: "{CREATED}" verbose: true'),
        ("StartContainer", f'container_id: "{CREATED}"'),
        ("StartContainer", f'container_id: "{RUNNING}"'),
        ("StopContainer", f'container_id: "{RUNNING}" timeout: 0'),
        ("RemoveContainer", f'container_id: "{EXITED}"'),
        ("RemoveContainer", f'container_id: "{OF_NOT_READY}"'),
        ("ListContainers", f'filter {{ pod_sandbox_id: "{POD_READY}" state {{ state: CONTAINER_RUNNING }} }}'),
    ],
    "update-resources": [
        ("UpdateContainerResources", f'container_id: "{RUNNING}" linux {{ cpu_shares: 512 memory_limit_in_bytes: 268435456 '
                                     'hugepage_limits { page_size: "2MB" limit: 0 } }'),
        ("UpdateContainerResources", f'container_id: "{CREATED}" linux {{ unified {{ key: "memory.high" value: "max" }} }}'),
        ("ReopenContainerLog", f'container_id: "{RUNNING}"'),
    ],
    "exec": [
        ("ExecSync", f'container_id: "{RUNNING}" cmd: "ls" cmd: "/" timeout: 1'),
        ("Exec", f'container_id: "{RUNNING}" cmd: "sh" tty: true stdin: true stdout: true'),
        ("Attach", f'container_id: "{RUNNING}" stdin: true stdout: true stderr: true'),
        ("PortForward", f'pod_sandbox_id: "{POD_READY}" port: 80'),
    ],
    "stats": [
        ("ContainerStats", f'container_id: "{RUNNING}"'),
        ("ListContainerStats", f'filter {{ pod_sandbox_id: "{POD_READY}" }}'),
        ("PodSandboxStats", f'pod_sandbox_id: "{POD_READY}"'),
        ("ListPodSandboxStats", ""),
        ("ListPodSandboxMetrics", ""),
    ],
    "images": [
        ("ListImages", 'filter { image { image: "busybox" } }'),
        ("ImageStatus", 'image { image: "docker.io/library/busybox:latest" } verbose: true'),
        ("PullImage", 'image { image: "127.0.0.1:5000/busybox:1.36" } auth { username: "u" password: "p" }'),
        ("RemoveImage", 'image { image: "sha256:' + "e" * 64 + '" }'),
        ("ImageFsInfo", ""),
    ],
}


def selectors():
    source = (HERE / "fuzz_cri.cc").read_text()
    block = source[source.index("#define VPCRI_FUZZ_CALLS"):]
    block = block[:block.index("\n\n")]
    names = re.findall(r"X\((?:runtime|image), (\w+)\)", block)
    return {name: index for index, name in enumerate(names)}


def encode(rpc, text):
    message = "runtime.v1." + rpc + "Request"
    result = subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", f"--encode={message}", "api.proto"],
                            input=text.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{rpc}: {result.stderr.decode()}")
    return result.stdout


def main():
    table = selectors()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("seed-*"):
        old.unlink()
    for name, calls in SEEDS.items():
        data = b""
        for rpc, text in calls:
            body = encode(rpc, text)
            data += struct.pack("<BH", table[rpc], len(body)) + body
        (OUT / f"seed-{name}").write_bytes(data)
        print(f"seed-{name}: {len(calls)} calls, {len(data)} bytes")


if __name__ == "__main__":
    main()
