#!/usr/bin/env python3
"""Image pull benchmark: vpcri (`vpcrictl pull`, pull + unpack) vs skopeo copy + umoci unpack.

One run, on this machine, everything on loopback:
  1. builds a deterministic multi-layer OCI image (gzip layers; seeded pseudo-random data mixed
     with text, so gzip costs what it costs on real images; layers with thousands of small files
     and one with a few large files) and pushes it to Debian's docker-registry started on a free
     127.0.0.1 port (tests/fixtures/registry.py);
  2. starts a fresh vpcrid on temp --root/--state/--socket that talks plain HTTP to that registry;
  3. per iteration, interleaved so machine-load drift hits both sides alike:
       vpcri:    `vpcrictl pull REF` (vpcri unpacks at pull time: the image is ready when it
                 returns), then `vpcrictl rmi REF`, then a check that the image's blobs and
                 snapshots are gone, so the next pull is cold (same daemon, same root);
       baseline: `skopeo copy docker://REF oci:DIR:latest` then `umoci unpack` into a bundle,
                 then `umoci raw unpack` (rootfs only, no mtree manifest) into another dir, on
                 fresh dirs each time;
  4. the first iteration is a warm-up (not counted) and also the correctness check: the trees
     vpcri and umoci unpacked hold the same regular files and bytes as the generated image;
  5. prints a Markdown table and writes it to bench/results/image_pull.md (--quick: a small
     image, one iteration, no warm-up, written to bench/results/image_pull-quick.md).

Wall time is measured around each command (process start to exit). Peak RSS: vpcrid's VmHWM
read after each pull, reset before it through /proc/PID/clear_refs ("5"), so it is that pull's
peak; skopeo's, umoci's and vpcrictl's from /usr/bin/time -f %M (GNU time; wait4's ru_maxrss if absent).

Everything it starts (registry, vpcrid, tools) is stopped by PID, and its temp dir removed,
also on failure and Ctrl-C. Needs root (vpcrid, umoci unpack), docker-registry, skopeo and umoci
(installed with apt-get when missing), and a built vpcrid/vpcrictl/pause-image.tar.

  python3 bench/image_pull.py [--quick] [--iterations N] [--build-dir DIR] [--output FILE]
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
import images as fx_images  # noqa: E402
import registry as fx_registry  # noqa: E402
from bench_common import (CHILDREN, add_common_arguments, find_binaries, git_commit,  # noqa: E402
                          loadavg, machine_info, report_header, run_main, VpcridProcess, version_of)

REPOSITORY = "bench/big"
TAG = "latest"
SEED = 20240101

# ---------------------------------------------------------------------------------------------
# The image


class Content:
    """Deterministic file contents: chunks of pseudo-random bytes mixed with pseudo-text."""

    CHUNK = 4096

    def __init__(self, seed):
        self.rng = random.Random(seed)
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        weights = [12, 9, 8, 8, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
        words = ["".join(self.rng.choices(letters, weights, k=self.rng.randint(2, 10))) for _ in range(4000)]
        words += ["the", "of", "and", "to", "in", "is", "for", "return", "if", "else", "def", "self",
                  "import", "const", "static", "int", "void", "struct", "include", "error"] * 20
        lines = []
        size = 0
        while size < (2 << 20):  # a 2 MiB corpus; slices at random offsets, deflate's window is 32 KiB
            line = " ".join(self.rng.choices(words, k=self.rng.randint(3, 14)))
            line = " " * (4 * self.rng.randint(0, 3)) + line + "\n"
            lines.append(line)
            size += len(line)
        self.corpus = "".join(lines).encode()

    def text(self, n):
        at = self.rng.randrange(0, len(self.corpus) - n) if n < len(self.corpus) else 0
        return self.corpus[at:at + n]

    def data(self, n, random_fraction):
        out = []
        left = n
        while left > 0:
            k = min(self.CHUNK, left)
            out.append(self.rng.randbytes(k) if self.rng.random() < random_fraction else self.text(k))
            left -= k
        return b"".join(out)


# Layer specs: (name, [(dir, count, min_size, max_size, random_fraction)], [(path, size, fraction)])
FULL_IMAGE = [
    ("base-text", [("usr/share/doc", 1500, 2 << 10, 12 << 10, 0.0)], []),
    ("small-files-a", [("usr/lib/python3/site-packages", 5000, 1 << 10, 6 << 10, 0.5)], []),
    ("large-files", [], [("opt/app/lib/libbig.so", 10 << 20, 0.6), ("opt/app/data/model.bin", 6 << 20, 0.6),
                         ("opt/app/bin/app", 3 << 20, 0.6)]),
    ("medium-files", [("usr/lib/x86_64-linux-gnu", 100, 32 << 10, 256 << 10, 0.5)], []),
    ("small-files-b", [("srv/www/static", 2000, 512, 4 << 10, 0.5)], []),
    ("app-config", [("etc/app", 40, 256, 4 << 10, 0.0)], [("opt/app/bin/helper", 1 << 20, 0.9)]),
]
QUICK_IMAGE = [
    ("base-text", [("usr/share/doc", 300, 1 << 10, 8 << 10, 0.0)], []),
    ("small-files", [("usr/lib/python3/site-packages", 500, 1 << 10, 4 << 10, 0.6)], []),
    ("large-files", [], [("opt/app/lib/libbig.so", 2 << 20, 0.7)]),
]


def build_image(spec, log):
    """Returns (layers, config, manifest, expected) with layers as images.Blob (gzip)."""
    content = Content(SEED)
    layers = []
    files = 0
    total = 0
    for name, groups, big_files in spec:
        t = fx_images._Tar()

        def add_file(path, data, mode=0o644):
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in t.entries:
                    t.dir(d)
            t.file(path, data, mode)

        for base, count, lo, hi, frac in groups:
            per_dir = 50
            for i in range(count):
                size = content.rng.randint(lo, hi)
                add_file("%s/pkg%03d/file%05d.dat" % (base, i // per_dir, i), content.data(size, frac))
                files += 1
                total += size
        for path, size, frac in big_files:
            add_file(path, content.data(size, frac), 0o755)
            files += 1
            total += size
        tar = t.bytes()
        gz = fx_images.gzip_bytes(tar)
        layers.append(fx_images.Blob(gz, fx_images.OCI_LAYER_GZIP, name=name, diff_id=fx_images.sha256_digest(tar),
                                     tar_size=len(tar)))
        log("  layer %-14s %6.1f MB tar -> %6.1f MB gzip" % (name, len(tar) / 1e6, len(gz) / 1e6))
    config = fx_images.Blob(fx_images.canonical_json({
        "architecture": "amd64", "os": "linux", "created": fx_images.CREATED,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/opt/app/bin/app"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.extra["diff_id"] for layer in layers]},
        "history": [{"created": fx_images.CREATED, "created_by": "vpcri bench/image_pull.py " + layer.extra["name"]}
                    for layer in layers],
    }), fx_images.OCI_CONFIG)
    manifest = fx_images.Blob(fx_images.canonical_json({
        "schemaVersion": 2, "mediaType": fx_images.OCI_MANIFEST,
        "config": config.descriptor(), "layers": [layer.descriptor() for layer in layers],
    }), fx_images.OCI_MANIFEST)
    expected = {"files": files, "bytes": total, "layers": len(layers),
                "compressed": sum(layer.size for layer in layers),
                "uncompressed": sum(layer.extra["tar_size"] for layer in layers)}
    return layers, config, manifest, expected


def push_image(registry_url, layers, config, manifest):
    pusher = fx_images.RegistryPusher(registry_url, REPOSITORY)
    for blob in layers + [config]:
        pusher.push_blob(blob)
    pusher.push_manifest(manifest, TAG)


# ---------------------------------------------------------------------------------------------
# Processes


class Result:
    def __init__(self, seconds, maxrss_kb, rc, out, err):
        self.seconds, self.maxrss_kb, self.rc, self.out, self.err = seconds, maxrss_kb, rc, out, err


TIME = "/usr/bin/time"


def timed(argv, workdir, env=None, check=True):
    """Runs argv; wall time, and the child's max RSS (kB) from /usr/bin/time -f %M.

    Not wait4()'s ru_maxrss of our own child: Linux carries the RSS high-water mark of the forked
    copy of this Python process (100+ MB while it holds the image) over exec, so every tool would
    show at least that. /usr/bin/time is small, so its child's pre-exec peak is too. Without it,
    the wait4 figure is used (an upper bound) and the report says so."""
    with tempfile.TemporaryFile(dir=workdir) as out, tempfile.TemporaryFile(dir=workdir) as err, \
            tempfile.NamedTemporaryFile(dir=workdir) as rss:
        wrapped = [TIME, "-f", "%M", "-o", rss.name] + argv if os.access(TIME, os.X_OK) else argv
        start = time.monotonic()
        p = CHILDREN.popen(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:
            CHILDREN.stop(p)
            raise
        seconds = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        CHILDREN.procs.remove(p)
        maxrss = usage.ru_maxrss
        if wrapped is not argv:
            m = re.search(rb"(\d+)\s*$", rss.read())
            maxrss = int(m.group(1)) if m else maxrss
        out.seek(0)
        err.seek(0)
        r = Result(seconds, maxrss, p.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))
    if check and r.rc != 0:
        raise RuntimeError("%s exited %d:\n%s%s" % (" ".join(argv), r.rc, r.out[-2000:], r.err[-2000:]))
    return r


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M)
    return int(m.group(1))


class Vpcrid(VpcridProcess):
    def __init__(self, vpcrid, vpcrictl, base, registry_host):
        super().__init__(vpcrid, vpcrictl, base, "registries:\n  %s:\n    insecure_http: true\n" % registry_host)

    def ctl(self, workdir, *args, check=True):
        return timed([self.vpcrictl, "-r", "unix://" + self.socket, "-t", "600"] + list(args), workdir, check=check)

    def store(self):
        """Blob digests and snapshot names in the image store."""
        def names(d):
            return set(os.listdir(d)) if os.path.isdir(d) else set()
        return names(os.path.join(self.root, "images", "blobs", "sha256")), \
            names(os.path.join(self.root, "images", "snapshots"))

    def reset_hwm(self):
        with open("/proc/%d/clear_refs" % self.proc.pid, "w") as f:
            f.write("5")  # resets the peak RSS (VmHWM) to the current RSS


# ---------------------------------------------------------------------------------------------
# Trees


def tree_stats(roots):
    """Regular files, their bytes, symlinks and dirs under roots (summed; not following links)."""
    files = nbytes = links = dirs = 0
    for top in roots:
        for dirpath, dirnames, filenames in os.walk(top):
            dirs += len(dirnames)
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                st = os.lstat(os.path.join(dirpath, name))
                if os.path.islink(os.path.join(dirpath, name)):
                    links += 1
                elif os.path.isfile(os.path.join(dirpath, name)):
                    files += 1
                    nbytes += st.st_size
    return {"files": files, "bytes": nbytes, "symlinks": links, "dirs": dirs}


# ---------------------------------------------------------------------------------------------
# Setup helpers


def ensure_tools(log):
    missing = [pkg for pkg, binary in (("skopeo", "skopeo"), ("umoci", "umoci")) if not shutil.which(binary)]
    if not os.path.exists(fx_registry.REGISTRY_BINARY):
        missing.append("docker-registry")
    if missing:
        log("installing %s with apt-get" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y"] + missing, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y"] + missing, env=env, check=True, capture_output=True)


def filesystem_of(path):
    """"ext4 (rw,relatime,discard,...) on /": mount options matter (discard makes deletes slow)."""
    found = "?"
    target = subprocess.run(["df", "--output=target", path], capture_output=True, text=True).stdout.split()[-1]
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == target:
                found = "%s (%s) on %s" % (fields[2], fields[3], target)
    return found


# ---------------------------------------------------------------------------------------------
# Report


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio(a, b):
    return "%.2f" % (a / b) if b else "n/a"


def report(ctx):
    img, it = ctx["image"], ctx["iterations"]
    v = stats(ctx["vpcri_s"])
    base = stats([a + b for a, b in zip(ctx["skopeo_s"], ctx["umoci_s"])])
    base_raw = stats([a + b for a, b in zip(ctx["skopeo_s"], ctx["umoci_raw_s"])])
    sk, um, umr = stats(ctx["skopeo_s"]), stats(ctx["umoci_s"]), stats(ctx["umoci_raw_s"])
    mib = lambda kb: kb / 1024  # noqa: E731
    v_rss = max(ctx["vpcrid_hwm_kb"])
    sk_rss, um_rss, umr_rss = max(ctx["skopeo_rss_kb"]), max(ctx["umoci_rss_kb"]), max(ctx["umoci_raw_rss_kb"])
    base_rss = max(sk_rss, um_rss)
    base_raw_rss = max(sk_rss, umr_rss)

    def row(name, s, rss):
        return "| %s | %.2f | %.2f | %.2f | %.1f |" % (name, s["median"], s["min"], s["max"], mib(rss))

    def ratio_row(name, s, rss):
        return "| %s | %s | %s | %s | %s |" % (name, ratio(v["median"], s["median"]), ratio(v["min"], s["min"]),
                                             ratio(v["max"], s["max"]), ratio(v_rss, rss))

    lines = report_header("Image pull benchmark: vpcri vs skopeo + umoci", ctx,
                          "quick mode: small image, 1 iteration, no warm-up") + [
        "Versions: %s (git %s); %s; %s; %s." % (ctx["vpcri_version"], ctx["git"], ctx["skopeo_version"],
                                                ctx["umoci_version"], ctx["registry_version"]),
        "",
        "Image `127.0.0.1:PORT/%s:%s` (OCI manifest, gzip layers, generated by this script from a fixed seed): "
        "%d layers, %.1f MB compressed, %.1f MB uncompressed tar, %d regular files, %.1f MB of file data." % (
            REPOSITORY, TAG, img["layers"], img["compressed"] / 1e6, img["uncompressed"] / 1e6, img["files"],
            img["bytes"] / 1e6),
        "",
        "| layer | tar MB | gzip MB |",
        "| --- | ---: | ---: |",
    ]
    lines += ["| %s | %.1f | %.1f |" % (name, t / 1e6, g / 1e6) for name, t, g in ctx["layer_sizes"]]
    lines += [
        "",
        "%d measured iteration%s%s. Wall time in seconds (process start to exit); peak RSS in MiB "
        "(vpcrid: VmHWM during the pull, reset before each pull; tools: %s, the "
        "largest over the iterations)." % (it, "" if it == 1 else "s",
                                          ", after 1 warm-up iteration not counted" if ctx["warmup"] else "",
                                          "`/usr/bin/time -f %M`" if os.access(TIME, os.X_OK) else
                                          "wait4's ru_maxrss, an upper bound: it includes this Python's "
                                          "pre-exec RSS"),
        "",
        "| what | median s | min s | max s | peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("**vpcri**: `vpcrictl pull` (pull + verify + unpack)", v, v_rss),
        row("**baseline**: `skopeo copy` + `umoci unpack`", base, base_rss),
        ratio_row("ratio vpcri / baseline", base, base_rss),
        row("baseline with `umoci raw unpack` (no mtree): `skopeo copy` + `umoci raw unpack`", base_raw, base_raw_rss),
        ratio_row("ratio vpcri / (skopeo + umoci raw unpack)", base_raw, base_raw_rss),
        row("`skopeo copy` alone (pull only, to an OCI layout dir)", sk, sk_rss),
        ratio_row("ratio vpcri / skopeo alone", sk, sk_rss),
        row("`umoci unpack` alone", um, um_rss),
        row("`umoci raw unpack` alone", umr, umr_rss),
        "",
        "Per iteration (s): vpcri %s; skopeo %s; umoci unpack %s; umoci raw unpack %s." % tuple(
            ", ".join("%.2f" % x for x in ctx[k]) for k in ("vpcri_s", "skopeo_s", "umoci_s", "umoci_raw_s")),
        "vpcrid RSS before the first pull: %.1f MiB; per-pull peaks: %s MiB. vpcrictl (the client) peak RSS: "
        "%.1f MiB." % (mib(ctx["vpcrid_idle_kb"]), ", ".join("%.1f" % mib(x) for x in ctx["vpcrid_hwm_kb"]),
                       mib(max(ctx["vpcrictl_rss_kb"]))),
        "",
        "Same work, checked before counting: regular files / bytes unpacked — vpcri (sum over its per-layer "
        "snapshots) %d / %d, umoci unpack rootfs %d / %d, umoci raw unpack %d / %d, generated %d / %d. "
        "The layers touch disjoint paths (no whiteouts or overwrites), so vpcri's per-layer snapshots and "
        "umoci's merged rootfs hold the same files." % (
            ctx["check"]["vpcri"]["files"], ctx["check"]["vpcri"]["bytes"], ctx["check"]["umoci"]["files"],
            ctx["check"]["umoci"]["bytes"], ctx["check"]["umoci_raw"]["files"], ctx["check"]["umoci_raw"]["bytes"],
            img["files"], img["bytes"]),
        "",
        "## Caveats",
        "",
        "- Both sides pull from the same docker-registry on 127.0.0.1 (plain HTTP, no auth); the registry's "
        "storage is in the page cache (pushed just before), so this measures the client side: HTTP, sha256, "
        "gunzip, tar extraction and file system writes — not network or registry disk.",
        "- Cold pulls on both sides: vpcri runs one fresh vpcrid (fresh temp --root/--state) for the whole run "
        "and `vpcrictl rmi`s the image after every pull; the script checks the image's blobs and snapshots are "
        "gone before the next pull (not timed). skopeo and umoci get fresh dirs every iteration. All on the "
        "same file system: %s." % ctx["fs"],
        "- Both sides verify: vpcri checks every blob's digest while streaming it and each layer's diff_id "
        "while unpacking; skopeo checks blob digests as it copies, umoci checks blob digests and diff_ids as "
        "it unpacks. Both keep the compressed blobs (vpcri's content store, skopeo's OCI dir).",
        "- vpcri fsyncs each blob, the snapshot dirs and its image record before the pull returns (crash "
        "safety on a node); whether skopeo/umoci sync as much was not checked — on this ext4 that cost is "
        "in vpcri's figure.",
        "- `umoci unpack` also writes an mtree manifest of the rootfs (hashing every file, for `umoci repack`) "
        "and a runtime config.json; `umoci raw unpack` does neither, so the raw row is the tighter baseline.",
        "- vpcri unpacks each layer into its own snapshot dir (overlayfs lowerdirs at container start); umoci "
        "merges the layers into one rootfs. Same files and bytes written here because the layers do not "
        "overlap.",
        "- Wall times include process start-up of vpcrictl / skopeo / umoci (milliseconds). vpcrid itself is "
        "already running, as on a node; its start-up is not counted.",
        "- A 2-CPU shared VM: other jobs were running (see load average), so expect noise of 10–20 %; "
        "iterations are interleaved (vpcri, then baseline) so drift affects both alike.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Main


def run(args, log):
    ensure_tools(log)
    vpcrid_bin, vpcrictl_bin = find_binaries(args)
    quick = args.quick
    iterations = args.iterations if args.iterations is not None else (1 if quick else 5)
    warmup = 0 if quick else 1
    ctx = {"quick": quick, "iterations": iterations, "warmup": warmup, "machine": machine_info(),
           "load_start": loadavg(),
           "command": "python3 bench/image_pull.py" + (" --quick" if quick else "") +
                      ("" if args.iterations is None else " --iterations %d" % args.iterations)}
    ctx["vpcri_version"] = version_of([vpcrictl_bin, "--version"])
    ctx["skopeo_version"] = version_of(["skopeo", "--version"])
    ctx["umoci_version"] = version_of(["umoci", "--version"])
    reg_ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "docker-registry"], capture_output=True,
                             text=True)
    ctx["registry_version"] = "docker-registry " + (reg_ver.stdout.strip() or "?")
    ctx["git"] = git_commit()

    base = tempfile.mkdtemp(prefix="vpcri-bench-", dir=args.tmpdir)
    ctx["fs"] = filesystem_of(base)
    reg = vpcri = None
    try:
        log("building the %s image" % ("quick" if quick else "full"))
        layers, config, manifest, expected = build_image(QUICK_IMAGE if quick else FULL_IMAGE, log)
        ctx["image"] = expected
        ctx["layer_sizes"] = [(layer.extra["name"], layer.extra["tar_size"], layer.size) for layer in layers]
        log("image: %d layers, %.1f MB compressed, %d files, %.1f MB file data" % (
            expected["layers"], expected["compressed"] / 1e6, expected["files"], expected["bytes"] / 1e6))

        reg = fx_registry.RegistryProcess(os.path.join(base, "registry"), "none")
        host = "127.0.0.1:%d" % reg.port
        ref = "%s/%s:%s" % (host, REPOSITORY, TAG)
        push_image(reg.url, layers, config, manifest)
        del layers  # ~50 MB of blobs; not needed any more
        log("pushed to %s" % ref)

        vpcri = Vpcrid(vpcrid_bin, vpcrictl_bin, base, host)
        ctx["vpcrid_idle_kb"] = proc_status_kb(vpcri.proc.pid, "VmRSS")
        empty_store = vpcri.store()
        work = os.path.join(base, "work")
        os.makedirs(work)

        keys = ("vpcri_s", "vpcrid_hwm_kb", "vpcrictl_rss_kb", "skopeo_s", "skopeo_rss_kb", "umoci_s",
                "umoci_rss_kb", "umoci_raw_s", "umoci_raw_rss_kb")
        for k in keys:
            ctx[k] = []
        image_id = None
        for i in range(warmup + iterations):
            label = "warm-up" if i < warmup else "iteration %d/%d" % (i - warmup + 1, iterations)
            measured = {}

            # vpcri: pull (+ unpack), check, rmi, check the store is back to empty.
            vpcri.reset_hwm()
            r = vpcri.ctl(work, "pull", ref)
            measured["vpcri_s"] = r.seconds
            measured["vpcrid_hwm_kb"] = proc_status_kb(vpcri.proc.pid, "VmHWM")
            measured["vpcrictl_rss_kb"] = r.maxrss_kb
            m = re.search(r"(sha256:[0-9a-f]{64})", r.out)
            if not m or (image_id and m.group(1) != image_id):
                raise RuntimeError("vpcrictl pull: unexpected answer: " + r.out)
            image_id = m.group(1)
            if i == 0:
                info = json.loads(vpcri.ctl(work, "inspecti", ref).out)
                layer_dirs = info["info"]["layers"]
                if len(layer_dirs) != expected["layers"]:
                    raise RuntimeError("vpcri has %d layer snapshots, the image %d" % (len(layer_dirs),
                                                                                        expected["layers"]))
                vpcri_tree = tree_stats(layer_dirs)
            vpcri.ctl(work, "rmi", ref)
            deadline = time.monotonic() + 60
            while vpcri.store() != empty_store:
                if time.monotonic() > deadline:
                    blobs, snaps = vpcri.store()
                    raise RuntimeError("after rmi the store still holds %d blobs and %d snapshots more than "
                                       "before the pull" % (len(blobs - empty_store[0]), len(snaps - empty_store[1])))
                time.sleep(0.05)

            # Baseline: skopeo copy, umoci unpack, umoci raw unpack; fresh dirs.
            d = tempfile.mkdtemp(dir=work)
            oci, bundle, raw = os.path.join(d, "oci"), os.path.join(d, "bundle"), os.path.join(d, "raw-rootfs")
            r = timed(["skopeo", "copy", "--src-tls-verify=false", "docker://" + ref, "oci:%s:%s" % (oci, TAG)], work)
            measured["skopeo_s"], measured["skopeo_rss_kb"] = r.seconds, r.maxrss_kb
            r = timed(["umoci", "unpack", "--image", "%s:%s" % (oci, TAG), bundle], work)
            measured["umoci_s"], measured["umoci_rss_kb"] = r.seconds, r.maxrss_kb
            r = timed(["umoci", "raw", "unpack", "--image", "%s:%s" % (oci, TAG), raw], work)
            measured["umoci_raw_s"], measured["umoci_raw_rss_kb"] = r.seconds, r.maxrss_kb
            if i == 0:
                umoci_tree = tree_stats([os.path.join(bundle, "rootfs")])
                umoci_raw_tree = tree_stats([raw])
                want = (expected["files"], expected["bytes"])
                got = {"vpcri": vpcri_tree, "umoci": umoci_tree, "umoci_raw": umoci_raw_tree}
                for name, t in got.items():
                    if (t["files"], t["bytes"]) != want:
                        raise RuntimeError("not the same work: %s unpacked %d files / %d bytes, the image has "
                                           "%d / %d (all: %s)" % (name, t["files"], t["bytes"], want[0], want[1],
                                                                  got))
                ctx["check"] = got
                log("check: vpcri, umoci and umoci raw each unpacked %d files, %d bytes" % want)
            shutil.rmtree(d)

            log("%-15s vpcri %.2fs (vpcrid peak %.0f MiB) | skopeo %.2fs + umoci %.2fs = %.2fs | umoci raw %.2fs" % (
                label, measured["vpcri_s"], measured["vpcrid_hwm_kb"] / 1024, measured["skopeo_s"],
                measured["umoci_s"], measured["skopeo_s"] + measured["umoci_s"], measured["umoci_raw_s"]))
            if i >= warmup:
                for k in keys:
                    ctx[k].append(measured[k])
        ctx["load_end"] = loadavg()
    finally:
        if vpcri is not None:
            vpcri.stop()
        if reg is not None:
            reg.stop()
        CHILDREN.stop_all()
        shutil.rmtree(base, ignore_errors=True)
    return report(ctx)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small image, 1 iteration, no warm-up (for CI)")
    parser.add_argument("--iterations", type=int, help="measured iterations (default 5; --quick: 1)")
    add_common_arguments(parser, "image_pull")
    args = parser.parse_args()
    if args.iterations is not None and args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if os.geteuid() != 0:
        parser.error("needs root (vpcrid, umoci unpack)")

    return run_main("image_pull", args, lambda a, log: (run(a, log), None), (fx_images.PushError,))


if __name__ == "__main__":
    sys.exit(main())
