#!/usr/bin/env python3
"""Per-phase breakdown of the pod start path from vpcrid's /metrics scrapes.

  python3 bench/phases.py vpcri-r1.metrics.txt [...]

Reads vpcri_operation_phase_seconds{operation,phase} (cri/server/operation_spans.h) from one or
more Prometheus text scrapes (one per round, counts and sums added up) and prints a Markdown table:
mean milliseconds per phase, its share of the operation, and the count.
"""
import re
import sys
from collections import defaultdict

SAMPLE = re.compile(r'^vpcri_operation_phase_seconds_(sum|count)\{operation="([^"]+)",phase="([^"]+)"\} (\S+)$')
ORDER = ["RunPodSandbox", "CreateContainer", "StartContainer"]
# The phases in the order the handlers run them (/metrics sorts them by name); others go last.
PHASES = {
    # "network" runs beside namespaces .. pin_pid_ns; its phase is the wait left after them.
    "RunPodSandbox": ["validate", "intent_record", "namespaces", "files_and_shm", "cgroup", "rootfs",
                      "spec", "launch_pause", "pin_pid_ns", "network", "ready_record", "publish"],
    "CreateContainer": ["validate", "intent_record", "rootfs", "spec", "created_record", "publish"],
    "StartContainer": ["validate", "cgroup", "spec", "launch", "running_record", "publish"],
}


def read(paths):
    sums, counts = defaultdict(float), defaultdict(float)
    phases = defaultdict(list)  # operation -> phases in first-seen order
    for path in paths:
        with open(path) as f:
            for line in f:
                m = SAMPLE.match(line.strip())
                if not m:
                    continue
                kind, op, phase, value = m.groups()
                if phase not in phases[op]:
                    phases[op].append(phase)
                (sums if kind == "sum" else counts)[(op, phase)] += float(value)
    return sums, counts, phases


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sums, counts, phases = read(sys.argv[1:])
    if not counts:
        sys.exit("phases.py: no vpcri_operation_phase_seconds samples in " + " ".join(sys.argv[1:]))
    print("| operation | phase | mean ms | share | count |")
    print("| --- | --- | ---: | ---: | ---: |")
    for op in sorted(phases, key=lambda o: ORDER.index(o) if o in ORDER else len(ORDER)):
        total = sum(sums[(op, p)] / counts[(op, p)] for p in phases[op] if counts[(op, p)])
        known = PHASES.get(op, [])
        for p in sorted(phases[op], key=lambda p: known.index(p) if p in known else len(known)):
            n = counts[(op, p)]
            mean = sums[(op, p)] / n if n else 0.0
            share = mean / total if total else 0.0
            print(f"| {op} | {p} | {mean * 1e3:.2f} | {share:.0%} | {int(n)} |")
        print(f"| {op} | **total** | **{total * 1e3:.2f}** | | |")


if __name__ == "__main__":
    main()
