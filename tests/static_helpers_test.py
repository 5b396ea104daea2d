#!/usr/bin/env python3
"""The per-pod helpers (pause, vpcri-monitor) as built: static executables that run alone.

    static_helpers_test.py [--max-load-kib N] VERSION BINARY...

Each BINARY must be an ELF executable without PT_INTERP (the kernel loads it with no dynamic
loader and no shared library: pause runs in an empty root) that prints "<name> VERSION" for
--version with an empty environment. --max-load-kib bounds the bytes its PT_LOAD segments map
from the file: a musl build's text is what each pod pays in RSS, and static glibc's libc alone
is ~700 KiB, so the bound catches a helper that silently went back to glibc or grew a dependency.
"""
import argparse
import os
import struct
import subprocess
import sys

PT_LOAD, PT_INTERP = 1, 3
ET_EXEC, ET_DYN = 2, 3


def program_headers(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    e_type, = struct.unpack_from("<H", data, 16)
    e_phoff, = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    headers = []
    for i in range(e_phnum):
        p_type, _flags, _offset, _vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, e_phoff + i * e_phentsize)
        headers.append((p_type, p_filesz))
    return e_type, headers


def check(path, version, max_load_kib):
    problems = []
    e_type, headers = program_headers(path)
    if e_type not in (ET_EXEC, ET_DYN):
        problems.append(f"ELF type {e_type} is not an executable")
    if any(t == PT_INTERP for t, _ in headers):
        problems.append("has PT_INTERP: dynamically linked")
    load_kib = sum(size for t, size in headers if t == PT_LOAD) / 1024
    if max_load_kib is not None and load_kib > max_load_kib:
        problems.append(f"maps {load_kib:.0f} KiB from its file, more than {max_load_kib} KiB")
    name = os.path.basename(path)
    want = f"vpcri {name} {version}" if name == "pause" else f"{name} {version}"
    run = subprocess.run([path, "--version"], env={}, capture_output=True, text=True, timeout=10)
    if run.returncode != 0 or run.stdout.strip() != want:
        problems.append(f"--version: exit {run.returncode}, {run.stdout.strip()!r} (want {want!r})")
    print(f"{path}: {load_kib:.0f} KiB loaded, " + ("; ".join(problems) if problems else "static, runs"))
    return not problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-load-kib", type=int)
    parser.add_argument("version")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    ok = [check(b, args.version, args.max_load_kib) for b in args.binaries]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
