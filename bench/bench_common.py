"""Shared by the bench scripts: child processes stopped by PID, finding the built binaries,
starting a vpcrid and waiting for its READY=1, the machine facts every result records."""

import ctypes
import json
import datetime
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PR_SET_PDEATHSIG = 1


class Children:
    """Every process we start, so cleanup can stop them by PID."""

    def __init__(self):
        self.procs = []

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, timeout=10):
        if p.returncode is None and p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)  # by PID, never by name
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
            except ProcessLookupError:
                pass
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            try:
                self.stop(p)
            except Exception as e:  # keep cleaning up
                print("%s: stopping pid %d: %s" % (os.path.basename(sys.argv[0]), p.pid, e), file=sys.stderr)


CHILDREN = Children()


def die_with_parent():
    """preexec_fn: the child gets SIGKILL if the bench dies, so no daemon outlives it."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_vpcrid(argv, directory, log_path, timeout=60, env=None):
    """Starts argv (vpcrid, possibly behind `nsenter --net=...`, which execs it: same PID) with
    $NOTIFY_SOCKET in `directory`; returns the Popen once vpcrid sent READY=1."""
    notify_path = os.path.join(directory, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        notify.bind(notify_path)
        env = dict(env if env is not None else os.environ, NOTIFY_SOCKET=notify_path)
        with open(log_path, "ab") as log:
            proc = CHILDREN.popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                  preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        notify.settimeout(0.2)
        while True:
            try:
                if b"READY=1" in notify.recv(4096):
                    return proc
            except socket.timeout:
                pass
            if proc.poll() is not None:
                raise RuntimeError("vpcrid exited with %s before it was ready:\n%s" % (proc.returncode,
                                                                                       file_tail(log_path)))
            if time.monotonic() > deadline:
                CHILDREN.stop(proc)
                raise RuntimeError("vpcrid was not ready within %d s:\n%s" % (timeout, file_tail(log_path)))
    finally:
        notify.close()


class VpcridProcess:
    """A vpcrid on temp dirs under BASE/vpcri (root, state, socket, log, config.yaml from
    config_text), started by start_vpcrid; `netns` runs it inside /run/netns/NETNS."""

    def __init__(self, vpcrid, vpcrictl, base, config_text, netns=None, env=None):
        self.vpcrictl = vpcrictl
        self.dir = os.path.join(base, "vpcri")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "vpcri.sock")
        self.log_path = os.path.join(self.dir, "vpcrid.log")
        os.makedirs(self.dir)
        config = os.path.join(self.dir, "config.yaml")
        with open(config, "w") as f:
            f.write(config_text)
        prefix = ["nsenter", "--net=/run/netns/" + netns] if netns else []
        self.proc = start_vpcrid(prefix + [vpcrid, "--root", self.root, "--state", self.state, "--socket", self.socket,
                                           "--config", config, "--log-level", "info"], self.dir, self.log_path, env=env)

    def log_tail(self):
        return file_tail(self.log_path)

    def stop(self):
        CHILDREN.stop(self.proc)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def file_tail(path, size=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-size:].decode(errors="replace")
    except OSError:
        return ""


def find_binaries(args):
    """vpcrid and vpcrictl: --vpcrid/--vpcrictl, else $VPCRID/$VPCRICTL, else --build-dir, else the
    newest <repo>/build*."""
    vpcrid = args.vpcrid or os.environ.get("VPCRID")
    vpcrictl = args.vpcrictl or os.environ.get("VPCRICTL")
    if not (vpcrid and vpcrictl):
        candidates = [args.build_dir] if args.build_dir else \
            sorted((os.path.join(REPO, d) for d in os.listdir(REPO) if d.startswith("build")),
                   key=lambda d: -os.path.getmtime(os.path.join(d, "cri", "vpcrid"))
                   if os.path.exists(os.path.join(d, "cri", "vpcrid")) else 0)
        for d in candidates:
            if os.path.exists(os.path.join(d, "cri", "vpcrid")) and os.path.exists(os.path.join(d, "cri", "vpcrictl")):
                vpcrid = vpcrid or os.path.join(d, "cri", "vpcrid")
                vpcrictl = vpcrictl or os.path.join(d, "cri", "vpcrictl")
                break
    if not (vpcrid and vpcrictl and os.access(vpcrid, os.X_OK) and os.access(vpcrictl, os.X_OK)):
        raise RuntimeError("no vpcrid/vpcrictl: build them (ninja -C BUILD cri/vpcrid cri/vpcrictl "
                           "pause/pause-image.tar) and pass --build-dir BUILD")
    return os.path.abspath(vpcrid), os.path.abspath(vpcrictl)


def version_of(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def git_commit():
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return git.stdout.strip() or "?"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) // 1024
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "mem_mib": mem,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def handle_termination():
    """SIGTERM and SIGINT both raise KeyboardInterrupt, so `finally` blocks clean up."""
    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored


def report_header(title, ctx, quick_note):
    """The first lines of a result: title, the command, the machine and its load."""
    m = ctx["machine"]
    return [
        "# " + title,
        "",
        "`%s`%s" % (ctx["command"], " (%s)" % quick_note if ctx["quick"] else ""),
        "",
        "Machine: %d CPUs (%s), %d MiB RAM, kernel %s, %s; load average %s at start, %s at end "
        "(a busy shared machine: other builds and tests ran at the same time)." % (
            m["nproc"], m["cpu"], m["mem_mib"], m["kernel"], m["date"], ctx["load_start"], ctx["load_end"]),
    ]


def add_common_arguments(parser, name, output_note=""):
    """The options every bench script takes: where the binaries are, the result file, temp dirs."""
    parser.add_argument("--build-dir", help="meson build dir with cri/vpcrid and cri/vpcrictl "
                                            "(default: $VPCRID/$VPCRICTL, else the newest <repo>/build*)")
    parser.add_argument("--vpcrid", help="path of vpcrid (overrides --build-dir)")
    parser.add_argument("--vpcrictl", help="path of vpcrictl (overrides --build-dir)")
    parser.add_argument("--output", help="Markdown result file (default: bench/results/%s.md, --quick: "
                                         "bench/results/%s-quick.md)%s" % (name, name, output_note))
    parser.add_argument("--tmpdir", help="where the temp dirs go (default: $TMPDIR or /tmp)")


def run_main(name, args, run, errors=()):
    """Runs run(args, log) -> (Markdown text, raw dict or None) with SIGTERM/SIGINT turned into
    KeyboardInterrupt (so its `finally` blocks clean up); writes the text to --output (default
    bench/results/NAME[-quick].md) and the raw numbers as JSON beside it. Returns the exit code."""
    handle_termination()

    def log(msg):
        print("%s: %s" % (name, msg), file=sys.stderr, flush=True)

    try:
        text, raw = run(args, log)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped and removed")
        return 130
    except (RuntimeError, OSError, ValueError, subprocess.CalledProcessError, *errors) as e:
        log("failed: %s" % e)
        return 1
    output = args.output or os.path.join(HERE, "results", name + ("-quick" if args.quick else "") + ".md")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        f.write(text)
    if raw is not None:
        with open(os.path.splitext(output)[0] + ".json", "w") as f:
            json.dump(raw, f, indent=1)
    print(text)
    log("written to " + output)
    return 0
