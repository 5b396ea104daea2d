#!/usr/bin/python3
"""Warm pool benchmark: pod create/delete cycles on one node with the `aws` network provider.

One VPC on this host (tests/aws/world.py: a fabric netns running the fake EC2 + IMDS, one node
netns whose primary ENI is eth0), one vpcrid in the node with `network.provider: aws` talking
HTTPS + SigV4 to the fake as to EC2, credentials from the instance role through IMDS. Every EC2
call waits --ec2-latency-ms first (the fake's `latency_ms`), as real EC2 calls take tens to
hundreds of milliseconds. Per configuration (a fresh world and vpcrid each):
  1. start vpcrid and wait until it reports NetworkReady (its first pool fill is counted apart);
  2. N cycles, one after the other: `vpcrictl runp` (timed: pod start latency), `stopp`, `rmp`.
     A RunPodSandbox refused with RESOURCE_EXHAUSTED (the pool has no free IP yet) is retried
     every 50 ms as kubelet would (kubelet backs off longer); its latency counts from the first
     attempt, and the start counts as one that waited for EC2 if the pool manager called EC2
     meanwhile (else it waited for cooling IPs);
  3. the fake's EC2 call counts by action, read before and after every start (so calls made
     while a pod was starting are seen), and the ENIs / IPs the node holds at the end.
Configurations: `default` (no warm-pool key set: WARM_ENI_TARGET=1), `no-warm`
(`warm_eni_target: 0`, the IP targets unset: the pool grows only when it is empty) and
`warm-ip-1` (`warm_ip_target: 1`: one spare IP, the AWS VPC CNI's advice for small subnets);
--quick runs the first two. `cooldown_seconds` is 0 unless --cooldown-seconds
says otherwise: with the default 30 s a pool of a few IPs cycled every ~0.3 s runs dry on cooling
IPs, and the bench would measure the cooldown, not EC2.

Prints a Markdown table and writes it to bench/results/aws_pool.md (raw numbers: aws_pool.json
beside it); --quick: 10 cycles per configuration, written to
bench/results/aws_pool-quick.md. Everything it creates (netns, veths, vpcrid, pods, temp dirs)
is removed on exit, also on failure and Ctrl-C; processes are stopped by PID.

  /usr/bin/python3 bench/aws_pool.py [--quick] [--cycles N] [--ec2-latency-ms MS] [--configs default,no-warm]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "aws"))
import world as aws_world  # noqa: E402
from bench_common import (CHILDREN, add_common_arguments, find_binaries, git_commit,  # noqa: E402
                          loadavg, machine_info, percentile, report_header, run_main, VpcridProcess, version_of)

CONFIGS = {
    "default": ("default warm pool (no warm-pool key set: WARM_ENI_TARGET=1)", ""),
    "no-warm": ("no warm pool (`warm_eni_target: 0`, `warm_ip_target`/`minimum_ip_target` unset)",
                "  warm_eni_target: 0\n"),
    "warm-ip-1": ("one spare IP (`warm_ip_target: 1`)", "  warm_ip_target: 1\n"),
}
RETRY_SECONDS = 0.05
START_DEADLINE_SECONDS = 120


def calls_delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


class Node(VpcridProcess):
    """vpcrid in the world's node netns; pods left behind are removed on stop."""

    def __init__(self, world, vpcrid, vpcrictl, base, network_extra, cooldown):
        config = ("network:\n  provider: aws\n  mtu: 9001\n  cooldown_seconds: %d\n%s"
                  "  aws:\n    region: %s\n    ec2_endpoint: %s\n    imds_endpoint: http://%s\n"
                  "    ca_file: %s\n    cluster_name: vpcri-bench\n" % (
                      cooldown, network_extra, aws_world.REGION, world.ec2_url(https=True), aws_world.IMDS_ADDRESS,
                      world.info["ca_file"]))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # the instance role, as on a node
        super().__init__(vpcrid, vpcrictl, base, config, netns=world.nodes[0]["netns"], env=env)
        self.work = os.path.join(self.dir, "pods")
        os.makedirs(self.work)

    def ctl(self, *args, check=True, options=()):
        r = subprocess.run([self.vpcrictl, "-r", "unix://" + self.socket, "-t", "60", *options, *args],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError("vpcrictl %s exited %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def wait_network_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            status = json.loads(self.ctl("info", options=("-o", "json")).stdout)
            conditions = status.get("status", status).get("conditions", [])
            network = [c for c in conditions if c.get("type") == "NetworkReady"]
            if network and network[0].get("status"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("NetworkReady not true within %d s: %s\n%s" % (timeout, network,
                                                                                  self.log_tail()))
            time.sleep(0.1)

    def pod_config(self, i):
        path = os.path.join(self.work, "pod.json")
        with open(path, "w") as f:
            json.dump({"metadata": {"name": "bench-%d" % i, "namespace": "aws-pool", "uid": "aws-pool-uid-%d" % i,
                                    "attempt": 0},
                       "hostname": "bench-%d" % i, "log_directory": os.path.join(self.work, "logs-%d" % i),
                       "linux": {}}, f)
        return path

    def remove_all_pods(self):
        if self.proc.poll() is not None:
            return
        for pod in self.ctl("pods", "-q", check=False).stdout.split():
            self.ctl("rmp", "-f", pod, check=False)

    def stop(self):
        try:
            self.remove_all_pods()
        finally:
            super().stop()


def held_by_node(world):
    """(ENIs attached to the node, secondary IPs on them) in the fake's state."""
    instance = world.nodes[0]["id"]
    enis = [e for e in world.state()["network_interfaces"]
            if e.get("Attachment", {}).get("InstanceId") == instance]
    ips = sum(1 for e in enis for a in e["PrivateIpAddresses"] if not a["Primary"])
    return len(enis), ips


def run_config(name, args, binaries, base, log):
    label, network_extra = CONFIGS[name]
    out = {"name": name, "label": label, "cycles": args.cycles}
    world = node = None
    try:
        world = aws_world.World.up(1, os.path.join(base, "world-" + name), instance_type=args.instance_type)
        world.control({"latency_ms": args.ec2_latency_ms, "reset_calls": True})
        t0 = time.monotonic()
        node = Node(world, binaries[0], binaries[1], os.path.join(base, name), network_extra, args.cooldown_seconds)
        node.wait_network_ready(60)
        out["ready_s"] = time.monotonic() - t0
        out["startup_calls"] = world.control({})["calls"]
        world.control({"reset_calls": True})
        out["held_at_start"] = held_by_node(world)

        starts, teardowns, attempts, waited, ec2_during_start = [], [], [], 0, []
        calls = {}
        begin = time.monotonic()
        for i in range(args.cycles):
            config = node.pod_config(i)
            t = time.monotonic()
            tries = 0
            while True:
                tries += 1
                r = node.ctl("runp", config, check=False)
                if r.returncode == 0:
                    break
                if "RESOURCEEXHAUSTED" not in r.stderr.upper().replace("_", "").replace(" ", "") or \
                        time.monotonic() - t > START_DEADLINE_SECONDS:
                    raise RuntimeError("cycle %d: vpcrictl runp exited %d: %s" % (i, r.returncode, r.stderr))
                time.sleep(RETRY_SECONDS)
            starts.append(time.monotonic() - t)
            attempts.append(tries)
            waited += tries > 1
            after = world.control({})["calls"]
            ec2_during_start.append(sum(calls_delta(calls, after).values()))
            pod = r.stdout.strip()
            t = time.monotonic()
            node.ctl("stopp", pod)
            node.ctl("rmp", pod)
            teardowns.append(time.monotonic() - t)
            calls = world.control({})["calls"]
            if (i + 1) % max(1, args.cycles // 10) == 0:
                log("%s: %d/%d cycles, start p50 %.0f ms, %d found no free IP, EC2 calls %d" % (
                    name, i + 1, args.cycles, 1000 * statistics.median(starts), waited, sum(calls.values())))
        out["elapsed_s"] = time.monotonic() - begin
        out["cycle_calls"] = world.control({})["calls"]
        out["held_at_end"] = held_by_node(world)
        out.update(starts_s=starts, teardowns_s=teardowns, attempts=attempts, waited=waited,
                   ec2_during_start=ec2_during_start)
        node.stop()
        node = None
        return out
    finally:
        if node is not None:
            node.stop()
        if world is not None:
            world.down()


def summarize(r):
    starts_ms = [1000 * s for s in r["starts_s"]]
    return {"start_p50_ms": percentile(starts_ms, 50), "start_p99_ms": percentile(starts_ms, 99),
            "start_max_ms": max(starts_ms), "teardown_p50_ms": 1000 * statistics.median(r["teardowns_s"]),
            "cycles_per_s": r["cycles"] / r["elapsed_s"], "cycle_calls_total": sum(r["cycle_calls"].values()),
            "startup_calls_total": sum(r["startup_calls"].values()),
            "starts_during_ec2": sum(1 for n in r["ec2_during_start"] if n),
            "waited_for_ec2": sum(1 for a, n in zip(r["attempts"], r["ec2_during_start"]) if a > 1 and n)}


def calls_text(calls):
    return ", ".join("%s %d" % (k, v) for k, v in sorted(calls.items())) or "none"


def report(ctx, results):
    lines = report_header("AWS warm pool benchmark: pod create/delete cycles against the fake EC2", ctx,
                          "quick mode: %d cycles per configuration" % ctx["cycles"]) + [
        "vpcri %s (git %s). One node (`%s`) with `network.provider: aws` against tests/aws/fake_ec2.py over "
        "HTTPS + SigV4, every EC2 call delayed %d ms; `cooldown_seconds: %d`; %d cycles per configuration "
        "(`vpcrictl runp`, `stopp`, `rmp`, one pod at a time)." % (
            ctx["vpcri_version"], ctx["git"], ctx["instance_type"], ctx["ec2_latency_ms"], ctx["cooldown_seconds"],
            ctx["cycles"]),
        "",
        "| configuration | EC2 calls in the cycles | pod start p50 | p99 | max | cycles/s | starts that found "
        "no free IP (of which waited for EC2) | starts during which EC2 was called | ENIs / secondary IPs at end |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = r["summary"]
        lines.append("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.2f | %d (%d) / %d | %d / %d | %d / %d |" % (
            r["label"], s["cycle_calls_total"], s["start_p50_ms"], s["start_p99_ms"], s["start_max_ms"],
            s["cycles_per_s"], r["waited"], s["waited_for_ec2"], r["cycles"], s["starts_during_ec2"], r["cycles"], r["held_at_end"][0],
            r["held_at_end"][1]))
    lines += ["", "Pod start with and without the pool manager calling EC2 at the same time:", "",
              "| configuration | starts during EC2 calls: p50 / max | the other starts: p50 / max |",
              "| --- | ---: | ---: |"]
    for r in results:
        busy = [1000 * t for t, n in zip(r["starts_s"], r["ec2_during_start"]) if n]
        idle = [1000 * t for t, n in zip(r["starts_s"], r["ec2_during_start"]) if not n]
        lines.append("| %s | %s | %s |" % (r["name"], *("%.0f / %.0f ms (%d)" % (statistics.median(v), max(v), len(v))
                                                         if v else "none" for v in (busy, idle))))
    lines += ["", "EC2 calls by action:", "",
              "| configuration | node start (until NetworkReady) | during the cycles |", "| --- | --- | --- |"]
    for r in results:
        lines.append("| %s | %d: %s (ready in %.1f s; %d ENIs / %d IPs) | %d: %s |" % (
            r["name"], r["summary"]["startup_calls_total"], calls_text(r["startup_calls"]), r["ready_s"],
            r["held_at_start"][0], r["held_at_start"][1], r["summary"]["cycle_calls_total"],
            calls_text(r["cycle_calls"])))
    lines += [
        "",
        "- Pod start: wall time of `vpcrictl runp` (RunPodSandbox through the CRI socket, vpcrictl's own process "
        "start of a few ms included), from the first attempt to the one that succeeded. A start \"found no free "
        "IP\" when RunPodSandbox was refused with RESOURCE_EXHAUSTED and retried every 50 ms (kubelet would back "
        "off for seconds instead); it \"waited for EC2\" when the pool manager also called EC2 meanwhile (else it "
        "waited for released IPs to cool down).",
        "- \"Starts during which EC2 was called\": the fake's call counter moved between the end of the previous "
        "cycle and the end of this start (the pool manager works in the background; these calls did not "
        "necessarily delay the start).",
        "- Cycles/s: cycles over the wall time of the whole loop, teardown (`stopp` + `rmp`, p50 shown in the "
        "JSON) and the bench's own reads of the fake's counters included.",
        "- Configurations: `default` sets no warm-pool key (WARM_ENI_TARGET=1: one whole ENI's worth of free IPs "
        "kept ready); `no-warm` sets `warm_eni_target: 0` with both IP targets unset (0 means unset for them, "
        "as in the AWS VPC CNI), so the pool grows only when it is empty, by what the ENI has room for; "
        "`warm-ip-1` sets `warm_ip_target: 1` (one free IP kept, the rest given back after the shrink delay).",
    ]
    return "\n".join(lines) + "\n"


def run(args, log):
    binaries = find_binaries(args)
    ctx = {"quick": args.quick, "cycles": args.cycles, "ec2_latency_ms": args.ec2_latency_ms,
           "cooldown_seconds": args.cooldown_seconds, "instance_type": args.instance_type,
           "machine": machine_info(), "load_start": loadavg(), "vpcri_version": version_of([binaries[1], "--version"]),
           "git": git_commit(),
           "command": "/usr/bin/python3 bench/aws_pool.py" + " ".join([""] + sys.argv[1:])}
    base = tempfile.mkdtemp(prefix="vpcri-aws-pool-", dir=args.tmpdir)
    results = []
    try:
        for name in args.configs:
            log("%s: %s, %d cycles, EC2 latency %d ms" % (name, CONFIGS[name][0], args.cycles, args.ec2_latency_ms))
            r = run_config(name, args, binaries, base, log)
            r["summary"] = summarize(r)
            results.append(r)
    finally:
        CHILDREN.stop_all()
        shutil.rmtree(base, ignore_errors=True)
    ctx["load_end"] = loadavg()
    return report(ctx, results), dict(ctx, results=results)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 cycles per configuration (for CI)")
    parser.add_argument("--cycles", type=int, help="pod create/delete cycles per configuration (default 500)")
    parser.add_argument("--ec2-latency-ms", type=int, default=50, help="delay of every EC2 call (default 50)")
    parser.add_argument("--cooldown-seconds", type=int, default=0, help="network.cooldown_seconds (default 0)")
    parser.add_argument("--configs", help="comma-separated, of: %s (default: all; --quick: default,no-warm)" %
                        ", ".join(CONFIGS))
    parser.add_argument("--instance-type", default="t3.medium", help="the node's instance type (default t3.medium: "
                                                                     "3 ENIs x 6 IPv4)")
    add_common_arguments(parser, "aws_pool", "; the JSON goes beside it")
    args = parser.parse_args()
    args.cycles = args.cycles if args.cycles is not None else (10 if args.quick else 500)
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")
    args.configs = [c for c in (args.configs or ("default,no-warm" if args.quick else ",".join(CONFIGS))).split(",")
                    if c]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown or not args.configs:
        parser.error("--configs: unknown %s (known: %s)" % (",".join(unknown), ", ".join(CONFIGS)))
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, vpcrid)")
    return run_main("aws_pool", args, run)


if __name__ == "__main__":
    sys.exit(main())
