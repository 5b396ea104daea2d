#!/usr/bin/env python3
"""Renders vpcri-bench JSON results (one file per runtime and round) as a Markdown table.

  report.py --out DIR [--no-plot] [--runc VERSION] RESULT.json...   writes DIR/results.md, DIR/results.json
                                                                    and DIR/pod-start-latency.svg (gnuplot)
  report.py --check RESULT.json...                                  exit 1 if any scenario failed (smoke mode)

Each figure is the median over rounds, with the range [min-max] over rounds when there are
several (machine noise), for both runtimes, and the ratio vpcri/containerd of the medians.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

BASE = "containerd"
CAND = "vpcri"


def dig(doc, path):
    cur = doc
    for part in path:
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                return None
            cur = cur[part]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
    return cur


def conc(doc, workers, key):
    for c in doc.get("concurrency") or []:
        if isinstance(c, dict) and c.get("workers") == workers:
            return c.get(key) if c.get("started") else None
    return None


def conc_doc(doc, workers):
    for c in doc.get("concurrency") or []:
        if isinstance(c, dict) and c.get("workers") == workers:
            return c
    return None


def conc_errors(docs):
    out = []
    for d in docs:
        for c in d.get("concurrency") or []:
            if isinstance(c, dict) and c.get("errors"):
                out.append("round %d, concurrency %d: %d errors, first: %s" %
                           (d["_round"], c["workers"], len(c["errors"]), c["errors"][0][:300]))
        for key in ("steady",):
            v = d.get(key)
            if isinstance(v, dict) and v.get("errors"):
                out.append("round %d, %s: %d errors, first: %s" % (d["_round"], key, len(v["errors"]), v["errors"][0][:300]))
        e = d.get("exec")
        if isinstance(e, dict) and e.get("errors"):
            out.append("round %d, ExecSync: %d errors, first: %s" % (d["_round"], len(e["errors"]), e["errors"][0][:300]))
    return out


def per_pod_helpers(doc):
    pods = dig(doc, ["steady", "pods"])
    rss = dig(doc, ["steady", "helpers_rss_kb"])
    if not pods or rss is None:
        return None
    return rss / pods / 1024


def cpu_per_pod(doc):
    v = dig(doc, ["serial", "cpu", "cgroup_s_per_pod"])
    return v if v is not None else dig(doc, ["serial", "cpu", "proc_s_per_pod"])


def kb_to_mb(v):
    return None if v is None else v / 1024


def floor_p50(doc):
    return dig(doc, ["kernel_floor", "summary", "p50"])


def start_over_floor(doc):
    start, floor = dig(doc, ["serial", "start", "summary", "p50"]), floor_p50(doc)
    return start / floor if start is not None and floor else None


def rpc_row(label, path):
    """A CRI call's p50: no RPC may be slower than containerd's (target ratio 1)."""
    return ("  %s p50" % label, "ms", lambda d: dig(d, path + ["p50"]), "lower", 1.0)


# The calls kubelet makes often besides the pod start: serial teardown and the rpcs scenario.
TEARDOWN_OPS = ["StopContainer", "StopPodSandbox", "RemoveContainer", "RemovePodSandbox"]
# Rows whose ratio would compare two measurements of the same thing (the kernel, not a runtime).
NO_RATIO = {"Kernel floor of a pod, no runtime (p50)", "Pod start p50 / kernel floor p50",
            "Bare gRPC server on vpcrid's libraries, idle RSS"}
RPC_OPS = ["PullImage (present)", "ImageStatus", "ListImages", "RemoveImage", "ContainerStatus",
           "PodSandboxStatus", "ListContainers", "ListPodSandbox"]


# (label, unit, getter, direction, target ratio): direction "lower" means smaller is better and the
# target is met when ratio <= target; "higher" the other way.
ROWS = [
    ("Pod start p50 (serial)", "ms", lambda d: dig(d, ["serial", "start", "summary", "p50"]), "lower", 0.1),
    ("Pod start p99 (serial)", "ms", lambda d: dig(d, ["serial", "start", "summary", "p99"]), "lower", 0.2),
    ("Pod start max (serial)", "ms", lambda d: dig(d, ["serial", "start", "summary", "max"]), "lower", None),
    rpc_row("RunPodSandbox", ["serial", "start", "ops", "RunPodSandbox"]),
    rpc_row("CreateContainer", ["serial", "start", "ops", "CreateContainer"]),
    rpc_row("StartContainer", ["serial", "start", "ops", "StartContainer"]),
    ("Kernel floor of a pod, no runtime (p50)", "ms", floor_p50, "lower", None),
    ("Pod start p50 / kernel floor p50", "×", start_over_floor, "lower", None),
    ("Pods started/s, concurrency 8", "pods/s", lambda d: conc(d, 8, "pods_per_s"), "higher", 5.0),
    ("Pods started/s, concurrency 32", "pods/s", lambda d: conc(d, 32, "pods_per_s"), "higher", None),
    ("Pods started/s, concurrency 2 (smoke)", "pods/s", lambda d: conc(d, 2, "pods_per_s"), "higher", None),
    ("Pods that failed to start, concurrency 8", "pods",
     lambda d: None if conc_doc(d, 8) is None else conc_doc(d, 8)["pods"] - conc_doc(d, 8)["started"], "lower", None),
    ("Pods that failed to start, concurrency 32", "pods",
     lambda d: None if conc_doc(d, 32) is None else conc_doc(d, 32)["pods"] - conc_doc(d, 32)["started"], "lower", None),
    ("Pod start p50 under concurrency 8", "ms", lambda d: dig(conc(d, 8, "start") or {}, ["p50"]), "lower", None),
    ("Pod start p50 under concurrency 32", "ms", lambda d: dig(conc(d, 32, "start") or {}, ["p50"]), "lower", None),
    ("Teardown p50 (serial)", "ms", lambda d: dig(d, ["serial", "teardown", "summary", "p50"]), "lower", None),
    ("Teardown p99 (serial)", "ms", lambda d: dig(d, ["serial", "teardown", "summary", "p99"]), "lower", None),
] + [rpc_row(op, ["serial", "teardown", "ops", op]) for op in TEARDOWN_OPS] + [rpc_row(op, ["rpcs", "ops", op]) for op in RPC_OPS] + [
    ("Pods torn down/s, concurrency 8", "pods/s", lambda d: conc(d, 8, "teardown_pods_per_s"), "higher", None),
    ("Pods torn down/s, concurrency 32", "pods/s", lambda d: conc(d, 32, "teardown_pods_per_s"), "higher", None),
    ("Daemon RSS, idle (image pulled)", "MB", lambda d: kb_to_mb(dig(d, ["idle", "daemon_rss_kb"])), "lower", 1 / 3),
    ("Bare gRPC server on vpcrid's libraries, idle RSS", "MB", lambda d: kb_to_mb(dig(d, ["grpc_floor", "rss_kb"])),
     "lower", None),
    ("Daemon RSS, steady pods running", "MB", lambda d: kb_to_mb(dig(d, ["steady", "daemon_rss_kb"])), "lower", None),
    ("Helper RSS per running pod (shim/monitor + pause)", "MB", per_pod_helpers, "lower", None),
    ("Memory added per running pod (RSS, daemon + helpers)", "MB",
     lambda d: kb_to_mb(dig(d, ["steady", "added_rss_kb_per_pod"])), "lower", 0.1),
    ("Memory added per running pod (PSS, daemon + helpers)", "MB",
     lambda d: kb_to_mb(dig(d, ["steady", "added_pss_kb_per_pod"])), "lower", None),
    ("CPU per pod lifecycle (all runtime work)", "CPU ms",
     lambda d: None if cpu_per_pod(d) is None else cpu_per_pod(d) * 1000, "lower", None),
    ("  of which in the daemon's cgroup", "CPU ms",
     lambda d: (lambda v: None if v is None else v * 1000)(dig(d, ["serial", "cpu", "daemon_cgroup_s_per_pod"])),
     "lower", None),
    ("ExecSync p50", "ms", lambda d: dig(d, ["exec", "summary", "p50"]), "lower", 1.0),
    ("ExecSync p99", "ms", lambda d: dig(d, ["exec", "summary", "p99"]), "lower", None),
]


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def cell(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return "—", None
    med = statistics.median(vals)
    if len(vals) > 1:
        return "%s [%s–%s]" % (fmt(med), fmt(min(vals)), fmt(max(vals))), med
    return fmt(med), med


def first_error(docs):
    for d in docs:
        for key in ("version", "pulls", "idle", "serial", "concurrency", "steady", "exec"):
            v = d.get(key)
            if isinstance(v, dict) and "error" in v and v["error"] != "not run":
                return "%s: %s" % (key, v["error"])
    return None


def load(paths):
    """vpcri-bench results by runtime, each with the floors measured beside it (run.sh's
    floor-<runtime>-r<round>.json as doc["kernel_floor"], grpcfloor-... as doc["grpc_floor"])."""
    by_rt, floors = {}, {}
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        m = re.search(r"-r(\d+)\.json$", p)
        doc["_round"] = int(m.group(1)) if m else 0
        if doc.get("kind") in ("kernel_floor", "grpc_floor"):
            fm = re.search(r"floor-(.+)-r\d+\.json$", p)
            floors[(doc["kind"], fm.group(1) if fm else "", doc["_round"])] = doc
            continue
        by_rt.setdefault(doc["runtime"], []).append(doc)
    for rt, docs in by_rt.items():
        docs.sort(key=lambda d: d["_round"])
        for d in docs:
            for kind in ("kernel_floor", "grpc_floor"):
                if (kind, rt, d["_round"]) in floors:
                    d[kind] = floors[(kind, rt, d["_round"])]
    return by_rt


def machine():
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GB RAM" % (int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "%d CPUs (%s), %s, Linux %s" % (cpus, model, mem, platform.release())


def render(by_rt, runc):
    rts = [r for r in (BASE, CAND) if r in by_rt] + sorted(r for r in by_rt if r not in (BASE, CAND))
    both = BASE in by_rt and CAND in by_rt
    lines = []
    any_doc = next(iter(by_rt.values()))[0]
    opts = any_doc.get("options", {})
    rounds = max(len(v) for v in by_rt.values())
    lines.append("# vpcri vs containerd through the CRI")
    lines.append("")
    lines.append("Generated by `bench/run.sh` on %s. Machine: %s." % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                                     machine()))
    loads = []
    for docs in by_rt.values():
        for d in docs:
            for k in ("loadavg_before", "loadavg_after"):
                if d.get(k):
                    loads.append(float(d[k].split()[0]))
    if loads:
        lines.append("Machine noise: 1-minute load average %.1f–%.1f during the run (other jobs share this "
                     "machine); figures are the median of %d round(s), [min–max] over rounds." %
                     (min(loads), max(loads), rounds))
    lines.append("")
    vers = []
    for rt in rts:
        v = dig(by_rt[rt][0], ["version"]) or {}
        vers.append("%s: %s %s" % (rt, v.get("runtime_name", "?"), v.get("runtime_version", "?")))
    if runc:
        vers.append("runc: " + runc)
    lines.append("Versions: " + "; ".join(vers) + ".")
    lines.append("")
    header = "| figure | unit | " + " | ".join(rts) + (" | ratio vpcri/containerd | target | verdict |" if both else " |")
    lines.append(header)
    lines.append("|" + " --- |" * (header.count("|") - 1))
    missed = []
    rpcs_compared, rpcs_slower = 0, []
    for label, unit, get, direction, target in ROWS:
        cells, meds = [], {}
        for rt in rts:
            vals = []
            for d in by_rt[rt]:
                try:
                    vals.append(get(d))
                except (TypeError, KeyError, ZeroDivisionError):
                    vals.append(None)
            c, med = cell(vals)
            cells.append(c)
            meds[rt] = med
        if all(m is None for m in meds.values()):
            continue
        row = "| %s | %s | %s |" % (label, unit, " | ".join(cells))
        if both:
            b, c = meds.get(BASE), meds.get(CAND)
            ratio = c / b if b and c is not None and label not in NO_RATIO else None
            rtxt = fmt(ratio) if ratio is not None else "—"
            if target is None:
                ttxt, verdict = "", ""
            else:
                ttxt = ("≤ %s" if direction == "lower" else "≥ %s") % (fmt(target) if target >= 1 else "%.2g" % target)
                if ratio is None:
                    verdict = "**not measured**"
                    missed.append(label.strip())
                elif (ratio <= target) if direction == "lower" else (ratio >= target):
                    verdict = "met"
                else:
                    verdict = "**missed**"
                    missed.append(label.strip())
                if target == 1.0 and ratio is not None:  # one CRI call against containerd's
                    rpcs_compared += 1
                    if ratio > 1.0:
                        rpcs_slower.append("%s (%s×)" % (label.strip().replace(" p50", ""), fmt(ratio)))
            row += " %s | %s | %s |" % (rtxt, ttxt, verdict)
        lines.append(row)
    lines.append("")
    if both:
        if missed:
            lines.append("**vpcri misses its target on: %s.**" % "; ".join(missed))
        else:
            lines.append("vpcri meets every target in this run.")
        lines.append("")
        if rpcs_slower:
            lines.append("**CRI calls (p50) slower than containerd's: %s.**" % "; ".join(rpcs_slower))
        elif rpcs_compared:
            lines.append("CRI calls: none slower than containerd (p50 of each of the %d calls compared)." %
                         rpcs_compared)
        lines.append("")
    for rt in rts:
        err = first_error(by_rt[rt])
        if err:
            lines.append("- **%s failed a scenario**: %s" % (rt, err.replace("\n", " ")[:400]))
        for e in conc_errors(by_rt[rt]):
            lines.append("- **%s**: %s" % (rt, e.replace("\n", " ")))
    # Per-helper breakdown with the steady pods.
    lines.append("")
    lines.append("Helper processes with %s pods running (median round; RSS summed per executable):" %
                 opts.get("steady_pods", "?"))
    lines.append("")
    for rt in rts:
        docs = [d for d in by_rt[rt] if isinstance(d.get("steady"), dict) and "helpers_by_exe" in d["steady"]]
        if not docs:
            lines.append("- %s: not measured" % rt)
            continue
        d = docs[len(docs) // 2]["steady"]
        parts = []
        for exe, e in sorted(d["helpers_by_exe"].items()):
            parts.append("`%s` ×%d, %.1f MB RSS each (%.1f MB PSS)" %
                         (exe, e["count"], e["rss_kb"] / e["count"] / 1024, e["pss_kb"] / e["count"] / 1024))
        lines.append("- %s: daemon %.1f MB; %s" % (rt, d["daemon_rss_kb"] / 1024, "; ".join(parts) or "no helpers"))
    lines.append("")
    lines.append("How this was measured (same for both runtimes):")
    lines.append("")
    lines.append(
        "- Each round starts each daemon fresh, in its own network namespace, state dirs and cpuacct cgroup, with "
        "its own docker-registry on that namespace's loopback serving the same busybox test image "
        "(`tests/fixtures/images.py`, `%s`) and the same pause image (`pause/`, sandbox image of both). "
        "Images are pulled through the CRI before measuring; pulls are not timed here. "
        "Caches: image content and snapshots are warm (pulled once), page cache warm, nothing else shared." %
        any_doc.get("image", "?"))
    lines.append(
        "- Pod spec: one busybox `/bin/sleep 3600` container per pod, the same CRI requests byte for byte "
        "(pod cgroups under a parent of the bench's own). %d warm-up lifecycles are excluded. "
        "Pod start = RunPodSandbox + CreateContainer + StartContainer, serial, %s pods, each torn down right after "
        "(teardown = StopContainer with timeout %s s + StopPodSandbox + RemoveContainer + RemovePodSandbox)." %
        (opts.get("warmup", 0), opts.get("pods", "?"), opts.get("stop_timeout_s", 0)))
    lines.append(
        "- Throughput: W worker threads start %s pods each, pods/s = pods / wall time from the first request to the "
        "last StartContainer answer; then tear them down the same way." % opts.get("pods_per_worker", "?"))
    lines.append(
        "- Memory: RSS (and PSS) from /proc of the daemon and of its helper processes (containerd: "
        "`containerd-shim-runc-v2` and the `pause` container; vpcri: `vpcri-monitor` and `pause`), found as "
        "descendants of the daemon or of any process in its cgroup, idle (image pulled, no pods) and with %s pods "
        "running (median of 3 samples 1 s apart). Memory added per pod = (total with pods − total idle) / pods. "
        "The `sleep` workloads are not counted." % opts.get("steady_pods", "?"))
    lines.append(
        "- CPU: over the serial lifecycles, divided by the pod count: cpuacct usage of the daemon's cgroup (daemon, "
        "shims/monitors, runc, CNI plugins, and everything they spawn) plus that of the pods' parent cgroup (runc init "
        "/ vpcri-init setting containers up, pause, anything a runtime moves there; the idle sleeps add next to "
        "nothing). The client (vpcri-bench) is not counted.")
    lines.append("- ExecSync: `/bin/true` in the running steady pods, round robin, serial, 5 warm-up calls excluded.")
    lines.append(
        "- Other CRI calls (`rpcs`): with %s pods running, %s rounds (after 5 warm-up rounds) of PullImage of `%s` "
        "(present), ImageStatus of it, ListImages, ContainerStatus and PodSandboxStatus (round robin over the pods), "
        "ListContainers and ListPodSandbox (no filter), one call of each per round; then %s times: PullImage of `%s` "
        "(untimed), RemoveImage of it (timed; it shares its layers with the first image, so the removal deletes its "
        "config and manifests). StopContainer, StopPodSandbox, RemoveContainer and RemovePodSandbox are the serial "
        "teardown's. Verdict: the p50 of every CRI call in the table against containerd's." %
        (opts.get("rpc_pods", "?"), opts.get("rpc_calls", "?"), any_doc.get("image", "?"),
         opts.get("image_removes", "?"), opts.get("remove_image") or "?"))
    lines.append(
        "- Kernel floor: `bench/kernel_floor.cc`, no runtime, in the round's network namespace right before each "
        "daemon starts: clone3 with new net, ipc, uts, pid and mount namespaces; one netlink message creating a veth "
        "whose peer is born in the new netns; in the child one netlink batch (lo and eth0 up, a /32 address, a link "
        "route to the gateway and a default route); the mount tree made private; exec of a static `true`; timed until "
        "its exit status. Pod start / kernel floor says how far a runtime is from this machine's limit.")
    lines.append(
        "- gRPC floor: `bench/grpc_floor.cc`, a bare C++ gRPC server on the libraries vpcrid links (Debian's libgrpc++, "
        "protobuf, libstdc++), the CRI RuntimeService with only Version answered, on a unix socket; its RSS after 20 "
        "Version calls and a second of rest. vpcrid's idle RSS cannot go below it without leaving these shared "
        "libraries; the same figure stands in both columns (it is no runtime's).")
    lines.append(
        "- **Networking**: containerd pays for CNI (bridge + host-local + portmap plugins, a "
        "veth per pod) on every pod start and teardown; vpcri does its in-process datapath (a veth per pod, "
        "/32 routes, policy rules; IPs from its warm pool). SNAT is off on both sides (nothing leaves the "
        "namespace).")
    lines.append("- Nothing is tuned for either side: containerd runs Debian's package with a minimal config "
                 "(overlayfs, runc v2 shim, `restrict_oom_score_adj = true` since this machine lacks CAP_SYS_RESOURCE).")
    lines.append("")
    lines.append("Latency distribution: [pod-start-latency.svg](pod-start-latency.svg). Raw per-round JSON: "
                 "[results.json](results.json).")
    return "\n".join(lines) + "\n"


def plot(by_rt, out):
    if not shutil.which("gnuplot"):
        print("report.py: gnuplot not found, no plot", file=sys.stderr)
        return
    series = []
    for rt in sorted(by_rt):
        for key, label in ((["serial", "start", "samples_ms"], "pod start"), (["exec", "samples_ms"], "ExecSync")):
            samples = []
            for d in by_rt[rt]:
                samples += dig(d, key) or []
            if not samples:
                continue
            samples.sort()
            path = os.path.join(out, ".%s-%s.dat" % (rt, label.replace(" ", "-")))
            with open(path, "w") as f:
                for i, v in enumerate(samples):
                    f.write("%f %f\n" % (v, (i + 1) / len(samples)))
            series.append((path, "%s %s (n=%d)" % (rt, label, len(samples))))
    if not series:
        return
    svg = os.path.join(out, "pod-start-latency.svg")
    script = [
        "set terminal svg size 900,520 dynamic font 'sans,12'",
        "set output '%s'" % svg,
        "set title 'CRI latency distribution (CDF), vpcri vs containerd'",
        "set xlabel 'latency (ms, log scale)'",
        "set ylabel 'fraction of calls'",
        "set logscale x",
        "set grid",
        "set key bottom right",
        "plot " + ", ".join("'%s' using 1:2 with steps lw 2 title '%s'" % (p, t) for p, t in series),
    ]
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    for p, _ in series:
        os.unlink(p)


def check(by_rt):
    bad = 0
    for rt, docs in by_rt.items():
        err = first_error(docs)
        if err:
            print("report.py: %s: %s" % (rt, err), file=sys.stderr)
            bad = 1
        for d in docs:
            if not dig(d, ["serial", "start", "summary", "n"]):
                print("report.py: %s: no pod started" % rt, file=sys.stderr)
                bad = 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--runc", default="")
    ap.add_argument("results", nargs="+")
    args = ap.parse_args()
    by_rt = load(args.results)
    if args.check:
        sys.exit(check(by_rt))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(render(by_rt, args.runc))
    raw = {rt: docs for rt, docs in by_rt.items()}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(raw, f, indent=1, sort_keys=True)
        f.write("\n")
    if not args.no_plot:
        plot(by_rt, args.out)


if __name__ == "__main__":
    main()
