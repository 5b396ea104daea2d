#!/usr/bin/env python3
"""Streaming benchmark: exec round trips through the streaming Exec path, and port-forward
throughput against a direct TCP connection to the pod.

One run, on this machine, inside network namespaces of its own:
  1. a node namespace (up0 192.168.51.1/24, default route to an "outside" namespace that routes
     the pod range back) and a fresh vpcrid in it (`nsenter --net`) with `network.provider: local`
     on 10.98.0.0/24, temp --root/--state/--socket, the busybox test image preloaded
     (tests/fixtures/images.py); this script moves itself into the node namespace (setns), so
     its sockets and the vpcrictl it starts are the node's;
  2. one pod with one busybox container running `httpd -p 8080` over a directory holding a
     file of zeros of --mib MiB (default 256; --quick 32);
  3. exec: --runs times (default 200; --quick 20), interleaved, `vpcrictl exec -i CTR true`
     (Exec + SPDY/3.1 upgrade + session: the streaming path, stdin from /dev/null) and
     `vpcrictl exec CTR true` (ExecSync, the unary path, as a reference); wall time of each
     vpcrictl process, p50/p99/max; the first of each is a warm-up, not counted;
  4. port forward: --transfers times (default 5; --quick 2), interleaved, `GET /big` over
     HTTP/1.0 read to EOF (a) straight to the pod IP:8080 from the node and (b) through one
     `vpcrictl port-forward POD LOCAL:8080` (started once; every GET is a new forwarded
     connection); MiB/s from the request to EOF, median/min/max;
  5. prints a Markdown table and writes it to bench/results/streaming.md and the raw numbers to
     streaming.json (--quick: streaming-quick.*).

Everything it starts (vpcrid, vpcrictl port-forward, the pod, the namespaces, temp dirs) is
stopped by PID or removed on exit, also on failure and Ctrl-C. Needs root, iproute2, nsenter and
a built vpcrid/vpcrictl/pause-image.tar/vpcri-monitor/vpcri-init.

  python3 bench/streaming.py [--quick] [--runs N] [--transfers N] [--mib N] [--build-dir DIR] [--output FILE]
"""

import argparse
import ctypes
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
from bench_common import (CHILDREN, add_common_arguments, die_with_parent, find_binaries, git_commit,  # noqa: E402
                          loadavg, machine_info, percentile, report_header, run_main, VpcridProcess, version_of)

IP = "/usr/sbin/ip"
NODE_IP, OUTSIDE_IP, POD_RANGE = "192.168.51.1", "192.168.51.2", "10.98.0.0/24"
CLONE_NEWNET = 0x40000000
HTTP_PORT = 8080


class Namespaces:
    """The node and outside namespaces (as tests/integration/net_checks.cc's NodeNet); deleted on close."""

    def __init__(self):
        tag = "%d-%d" % (os.getpid(), random.randrange(1000000))
        self.node, self.outside = "vpcri-bst-%s-node" % tag, "vpcri-bst-%s-out" % tag
        self.created = []
        for ns in (self.node, self.outside):
            subprocess.run([IP, "netns", "add", ns], check=True)
            self.created.append(ns)
            self.ip(ns, "link", "set", "lo", "up")
        self.ip(self.node, "link", "add", "up0", "type", "veth", "peer", "name", "out0", "netns", self.outside)
        self.ip(self.node, "addr", "add", NODE_IP + "/24", "dev", "up0")
        self.ip(self.node, "link", "set", "up0", "up")
        self.ip(self.node, "route", "add", "default", "via", OUTSIDE_IP)
        self.ip(self.outside, "addr", "add", OUTSIDE_IP + "/24", "dev", "out0")
        self.ip(self.outside, "link", "set", "out0", "up")
        self.ip(self.outside, "route", "add", POD_RANGE, "via", NODE_IP)

    @staticmethod
    def ip(ns, *args):
        subprocess.run([IP, "-n", ns, *args], check=True)

    def enter_node(self):
        """Moves this (single-threaded) process into the node namespace; children inherit it."""
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        fd = os.open("/run/netns/" + self.node, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into " + self.node)
        finally:
            os.close(fd)

    def close(self):
        for ns in reversed(self.created):
            subprocess.run([IP, "netns", "delete", ns])
        self.created = []


class Node(VpcridProcess):
    def __init__(self, vpcrid, vpcrictl, base, image_archive, netns):
        config = ('images:\n  preload: ["%s"]\nnetwork:\n  provider: local\n  node_range: %s\n  mtu: 1500\n'
                  '  snat_exclude: [10.0.0.0/8]\n' % (image_archive, POD_RANGE))
        super().__init__(vpcrid, vpcrictl, base, config, netns=netns)
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work)

    def ctl_argv(self, *args):
        return [self.vpcrictl, "-r", "unix://" + self.socket, "-t", "60", *args]

    def ctl(self, *args):
        r = subprocess.run(self.ctl_argv(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("vpcrictl %s exited %d: %s%s\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr,
                                                                    self.log_tail()))
        return r.stdout

    def write(self, name, doc):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def remove_all_pods(self):
        if self.proc.poll() is not None:
            return
        r = subprocess.run(self.ctl_argv("pods", "-q"), capture_output=True, text=True)
        for pod in r.stdout.split():
            subprocess.run(self.ctl_argv("rmp", "-f", pod), capture_output=True)

    def stop(self):
        try:
            self.remove_all_pods()
        finally:
            super().stop()


def start_pod(node, mib):
    """The pod and its httpd container; returns (pod id, container id, pod IP)."""
    pod_cfg = node.write("pod.json", {"metadata": {"name": "stream-bench", "namespace": "bench", "uid": "stream-bench",
                                                   "attempt": 0}, "hostname": "stream-bench", "linux": {}})
    pod = node.ctl("runp", pod_cfg).strip()
    script = ("mkdir -p /w && dd if=/dev/zero of=/w/big bs=1048576 count=%d 2>/dev/null && httpd -p %d -h /w; "
              "exec sleep 100000" % (mib, HTTP_PORT))
    ctr_cfg = node.write("ctr.json", {"metadata": {"name": "web", "attempt": 0},
                                      "image": {"image": "docker.io/vpcri/imported:latest"},
                                      "command": ["/bin/sh", "-c", script], "linux": {}})
    ctr = node.ctl("create", pod, ctr_cfg, pod_cfg).strip()
    node.ctl("start", ctr)
    status = json.loads(node.ctl("inspectp", pod))
    status = status.get("status", status)
    pod_ip = status["network"]["ip"]
    deadline = time.monotonic() + 60
    while True:  # the file is written before httpd listens
        try:
            socket.create_connection((pod_ip, HTTP_PORT), timeout=1).close()
            return pod, ctr, pod_ip
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("httpd in the pod did not listen on %s:%d within 60 s" % (pod_ip, HTTP_PORT))
            time.sleep(0.1)


def timed_run(argv):
    start = time.perf_counter()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv), r.returncode, r.stderr.decode(errors="replace")))
    return elapsed * 1000


def measure_exec(node, ctr, runs, log):
    streaming, unary = [], []
    for i in range(runs + 1):
        s = timed_run(node.ctl_argv("exec", "-i", ctr, "true"))
        u = timed_run(node.ctl_argv("exec", ctr, "true"))
        if i > 0:  # the first of each is a warm-up
            streaming.append(s)
            unary.append(u)
    log("exec: %d round trips each" % runs)
    return {"streaming_ms": streaming, "exec_sync_ms": unary}


def get_big(port, host, expected):
    """MiB/s of one `GET /big` over HTTP/1.0, read to EOF; checks the body's length."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(b"GET /big HTTP/1.0\r\n\r\n")
        total = 0
        while True:
            n = s.recv_into(view)
            if n == 0:
                break
            total += n
    elapsed = time.perf_counter() - start
    if total < expected:
        raise RuntimeError("GET /big from %s:%d gave %d bytes, expected at least %d" % (host, port, total, expected))
    return expected / (1 << 20) / elapsed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_port_forward(node, pod, pod_ip, mib, transfers, log):
    local = free_port()
    forwarder = CHILDREN.popen(node.ctl_argv("port-forward", pod, "%d:%d" % (local, HTTP_PORT)),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=die_with_parent)
    try:
        line = forwarder.stdout.readline().decode()
        if not line.startswith("Forwarding from"):
            raise RuntimeError("vpcrictl port-forward: %r %s" % (line, forwarder.stderr.read().decode()))
        expected = mib << 20
        direct, forwarded = [], []
        for i in range(transfers):
            direct.append(get_big(HTTP_PORT, pod_ip, expected))
            forwarded.append(get_big(local, "127.0.0.1", expected))
            log("transfer %d: direct %.0f MiB/s, port-forward %.0f MiB/s" % (i + 1, direct[-1], forwarded[-1]))
        return {"direct_mib_s": direct, "port_forward_mib_s": forwarded}
    finally:
        CHILDREN.stop(forwarder)


def report(ctx, r):
    lines = report_header("Streaming: exec round trips and port-forward throughput", ctx,
                          "quick: few runs, a small file; the figures mean little")
    e, p = r["exec"], r["port_forward"]
    lines += [
        "",
        "vpcri %s (git %s). One busybox pod on the `local` provider in a node network namespace; "
        "everything on this host." % (ctx["vpcri_version"], ctx["git"]),
        "",
        "## Exec round trip of `true` (%d runs each, after one warm-up; wall time of the vpcrictl process)" % ctx["runs"],
        "",
        "| path | p50 | p99 | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in (("`vpcrictl exec -i` (Exec + SPDY/3.1 session)", "streaming_ms"),
                       ("`vpcrictl exec` (ExecSync, reference)", "exec_sync_ms")):
        v = e[key]
        lines.append("| %s | %.1f ms | %.1f ms | %.1f ms |" % (label, percentile(v, 50), percentile(v, 99), max(v)))
    lines += [
        "",
        "## Port-forward throughput (`GET` of a %d MiB file from busybox `httpd`, %d transfers each, interleaved)" % (
            ctx["mib"], ctx["transfers"]),
        "",
        "| path | median | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, key in (("direct TCP to the pod IP", "direct_mib_s"),
                       ("`vpcrictl port-forward` (SPDY/3.1 through vpcrid)", "port_forward_mib_s")):
        v = p[key]
        lines.append("| %s | %.0f MiB/s | %.0f MiB/s | %.0f MiB/s |" % (label, statistics.median(v), min(v), max(v)))
    ratio = statistics.median(p["port_forward_mib_s"]) / statistics.median(p["direct_mib_s"])
    lines += [
        "",
        "Port-forward / direct (medians): %.2f." % ratio,
        "",
        "Caveats: the exec figures include starting vpcrictl and its gRPC connection (both paths pay "
        "it); the streaming path also pays the HTTP upgrade and the SPDY streams. Port-forward data "
        "goes client → vpcrictl (loopback) → vpcrid (loopback, SPDY DATA frames of 32 KiB) → the pod "
        "(veth): two extra copies through user space, on the same 2 shared CPUs as httpd and this "
        "script. The direct path is one veth hop.",
        "",
    ]
    return "\n".join(lines)


def run(args, log):
    vpcrid, vpcrictl = find_binaries(args)
    ctx = {"quick": args.quick, "runs": args.runs, "transfers": args.transfers, "mib": args.mib,
           "machine": machine_info(), "load_start": loadavg(), "vpcri_version": version_of([vpcrictl, "--version"]),
           "git": git_commit(), "command": "python3 bench/streaming.py" + " ".join([""] + sys.argv[1:])}
    base = tempfile.mkdtemp(prefix="vpcri-streaming-bench-", dir=args.tmpdir)
    namespaces = None
    node = None
    try:
        images = os.path.join(base, "images")
        subprocess.run([sys.executable, os.path.join(REPO, "tests", "fixtures", "images.py"), "build", "--out", images],
                       check=True, stdout=subprocess.DEVNULL)
        namespaces = Namespaces()
        namespaces.enter_node()
        node = Node(vpcrid, vpcrictl, base, os.path.join(images, "oci-amd64.tar"), namespaces.node)
        pod, ctr, pod_ip = start_pod(node, args.mib)
        log("pod %s, container %s, IP %s" % (pod, ctr, pod_ip))
        result = {"exec": measure_exec(node, ctr, args.runs, log),
                  "port_forward": measure_port_forward(node, pod, pod_ip, args.mib, args.transfers, log)}
    finally:
        if node:
            node.stop()
        CHILDREN.stop_all()
        if namespaces:
            namespaces.close()
        shutil.rmtree(base, ignore_errors=True)
    ctx["load_end"] = loadavg()
    return report(ctx, result), dict(ctx, results=result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 exec runs, 2 transfers of 32 MiB")
    parser.add_argument("--runs", type=int, help="exec round trips per path (default 200)")
    parser.add_argument("--transfers", type=int, help="transfers per path (default 5)")
    parser.add_argument("--mib", type=int, help="size of the file transferred (default 256)")
    add_common_arguments(parser, "streaming", "; the JSON goes beside it")
    args = parser.parse_args()
    args.runs = args.runs if args.runs is not None else (20 if args.quick else 200)
    args.transfers = args.transfers if args.transfers is not None else (2 if args.quick else 5)
    args.mib = args.mib if args.mib is not None else (32 if args.quick else 256)
    if min(args.runs, args.transfers, args.mib) < 1:
        parser.error("--runs, --transfers and --mib must be at least 1")
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, vpcrid)")
    return run_main("streaming", args, run)


if __name__ == "__main__":
    sys.exit(main())
