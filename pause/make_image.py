#!/usr/bin/env python3
"""Packs the pause binary into an OCI image-layout tar, so pods start without any registry.

Usage: make_image.py PAUSE_BINARY REFERENCE ARCH OUTPUT_TAR
Deterministic: the same binary gives the same digests (fixed mtimes, owners, gzip header).
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    pause_path, reference, arch, output = sys.argv[1:5]
    with open(pause_path, "rb") as f:
        pause = f.read()
    layer_tar = tar_bytes([("pause", pause, 0o755)])
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps({
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535", "WorkingDir": "/",
                   "Labels": {"io.vpcri.sandbox": "true"}},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer_tar)]},
        "history": [{"created_by": "vpcri pause/make_image.py"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest), "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
            # The full name under both keys: containerd-style importers read the first, others
            # the OCI one.
            "annotations": {"io.containerd.image.name": reference,
                            "org.opencontainers.image.ref.name": reference},
        }],
    }, sort_keys=True).encode()
    blobs = [(b, None) for b in (layer, config, manifest)]
    members = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644),
               ("index.json", index, 0o644)]
    members += [("blobs/sha256/" + digest(b).split(":")[1], b, 0o644) for b, _ in blobs]
    with open(output, "wb") as f:
        f.write(tar_bytes(members))


if __name__ == "__main__":
    main()
