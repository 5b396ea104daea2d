#!/usr/bin/env python3
"""Writes the ELF vmlinux inside a bzImage (vmlinuz) compressed with xz or gzip (Debian: xz).

  extract-vmlinux.py VMLINUZ OUTPUT

Like the kernel's scripts/extract-vmlinux: finds the compressed payload by its magic and
decompresses it. Exits 1 (writing nothing) if no payload decompresses to an ELF file.
"""
import gzip
import lzma
import sys
import zlib


def candidates(data):
    for magic, decompress in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                              (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(b))):
        start = data.find(magic)
        while start >= 0:
            yield start, decompress
            start = data.find(magic, start + 1)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py VMLINUZ OUTPUT")
    data = open(sys.argv[1], "rb").read()
    for start, decompress in candidates(data):
        try:
            out = decompress(data[start:])
        except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, EOFError):
            continue
        if out.startswith(b"\x7fELF"):
            with open(sys.argv[2], "wb") as f:
                f.write(out)
            return
    sys.exit(f"extract-vmlinux: no xz or gzip payload of an ELF kernel in {sys.argv[1]}")


if __name__ == "__main__":
    main()
