#!/usr/bin/python3
"""A VPC on one host: a fabric netns running the fake EC2 + IMDS, and N node netns.

  world.py up N [--dir D] [--instance-type T] [--https] ...   prints the world's JSON and returns;
                                                              the fake keeps running
  world.py down D                                             stops the fake, removes every netns and D
  world.py control D '{"dump": true}'                         POST /_control, prints the answer
  world.py exec D node0|fabric -- CMD...                      runs CMD in that netns (nsenter --net)

As a module: `with World.up(2) as w: ...` (down on exit, also when the body fails);
`w.nodes[i]` has netns / instance_id / ip / mac / eni_id; `with w.netns(w.nodes[0]["netns"]):`
switches the calling thread into a netns (sockets opened inside stay there); `w.control({...})`.

Layout (defaults): VPC 10.42.0.0/16; node subnet 10.42.0.0/24 (gateway .1, nodes from .10); a
small second subnet 10.42.1.0/27; the gateways, 169.254.169.254 (IMDS) and the EC2 endpoint
192.0.2.10 (HTTP :80, HTTPS :443 with a certificate generated here, `ca_file`) on the fabric's lo.
Nothing touches the host's own netns: the fabric and the nodes are fresh netns with random names.
"""
import argparse
import contextlib
import ipaddress
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, with python3-botocore
CLONE_NEWNET = 0x40000000
REGION = "us-west-2"
ACCESS_KEY, SECRET_KEY = "AKIAVPCRITEST0000001", "vpcri/test/secret/key/0000000000000000000"
ROLE = {"name": "vpcri-node-role", "access_key": "ASIAVPCRIROLE0000001",
        "secret_key": "vpcri/role/secret/key/00000000000000000", "token": "vpcri-role-session-token"}
EC2_ADDRESS = "192.0.2.10"
IMDS_ADDRESS = "169.254.169.254"


def _ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def nsenter(netns, *cmd, check=True, **kwargs):
    return subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *cmd], check=check, **kwargs)


def _hex(n):
    return secrets.token_hex(n)


class World:
    def __init__(self, directory, info):
        self.dir = directory
        self.info = info

    # ---- accessors ----
    @property
    def nodes(self):
        return self.info["nodes"]

    @property
    def fabric(self):
        return self.info["fabric"]

    @property
    def spec(self):
        return self.info["spec"]

    def ec2_url(self, https=False):
        """The EC2 endpoint (default ports left out, as a client's Host header leaves them out)."""
        if https:
            port = self.spec["https_port"]
            return f"https://{EC2_ADDRESS}" + (f":{port}" if port != 443 else "")
        port = self.spec["http_port"]
        return f"http://{EC2_ADDRESS}" + (f":{port}" if port != 80 else "")

    @staticmethod
    def load(directory):
        with open(os.path.join(directory, "world.json")) as f:
            return World(directory, json.load(f))

    # ---- lifecycle ----
    @staticmethod
    def up(n, directory=None, instance_type="t3.medium", https=True, attach_delay_ms=0, imds_lag_ms=0,
           node_subnet="10.42.0.0/24", extra_subnets=("10.42.1.0/27",)):
        directory = directory or tempfile.mkdtemp(prefix="vpcri-aws-world-")
        os.makedirs(directory, exist_ok=True)
        suffix = _hex(3)
        vpc_id = f"vpc-{_hex(9)[:17]}"
        az = REGION + "a"
        subnets = [{"id": f"subnet-{_hex(9)[:17]}", "cidr": c, "az": az, "tags": {"Name": f"vpcri-{i}"}}
                   for i, c in enumerate([node_subnet, *extra_subnets])]
        sg = {"id": f"sg-{_hex(9)[:17]}", "name": "vpcri-nodes"}
        base = node_subnet.split("/")[0].rsplit(".", 1)[0]
        nodes = [{"name": f"node{i}", "netns": f"vpcn{i}-{suffix}", "id": f"i-{_hex(9)[:17]}",
                  "type": instance_type, "subnet": subnets[0]["id"], "primary_ip": f"{base}.{10 + i}",
                  "mac": "02:" + ":".join(_hex(1) for _ in range(5)), "eni_id": f"eni-{_hex(9)[:17]}",
                  "security_groups": [sg["id"]]} for i in range(n)]
        spec = {"region": REGION, "vpc": {"id": vpc_id, "cidr": "10.42.0.0/16"}, "subnets": subnets,
                "security_groups": [sg], "instances": nodes, "plumb": True,
                "credentials": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}, "role": ROLE,
                "ec2_address": EC2_ADDRESS, "http_port": 80, "https_port": 443 if https else 0,
                "imds_address": IMDS_ADDRESS, "imds_port": 80,
                "attach_delay_ms": attach_delay_ms, "imds_lag_ms": imds_lag_ms,
                "ready_file": os.path.join(directory, "ready.json")}
        info = {"fabric": f"vpcf-{suffix}", "nodes": nodes, "spec": spec, "pid": None,
                "ca_file": os.path.join(directory, "ca.pem") if https else None}
        world = World(directory, info)
        world._save()
        try:
            world._build()
        except BaseException:
            world.down()
            raise
        return world

    def _save(self):
        with open(os.path.join(self.dir, "world.json.tmp"), "w") as f:
            json.dump(self.info, f, indent=2)
        os.rename(os.path.join(self.dir, "world.json.tmp"), os.path.join(self.dir, "world.json"))

    def _build(self):
        fab = self.fabric
        _ip("netns", "add", fab)
        self.info["netns_created"] = [fab]
        self._save()
        for node in self.nodes:
            _ip("netns", "add", node["netns"])
            self.info["netns_created"].append(node["netns"])
            self._save()
        _ip("-n", fab, "link", "set", "lo", "up")
        gateways = [str(ipaddress.ip_network(s["cidr"]).network_address + 1) for s in self.spec["subnets"]]
        for address in gateways + [IMDS_ADDRESS, EC2_ADDRESS]:
            _ip("-n", fab, "addr", "add", f"{address}/32", "dev", "lo")
        nsenter(fab, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0", check=True)
        if self.info["ca_file"]:
            key = os.path.join(self.dir, "ec2-key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", key, "-out", self.info["ca_file"], "-days", "2",
                            "-subj", "/CN=vpcri test ec2", "-addext",
                            f"subjectAltName=IP:{EC2_ADDRESS},DNS:ec2.{REGION}.amazonaws.com"],
                           check=True, capture_output=True)
            self.spec["cert"], self.spec["key"] = self.info["ca_file"], key
        spec_file = os.path.join(self.dir, "spec.json")
        with open(spec_file, "w") as f:
            json.dump(self.spec, f, indent=2)
        log = open(os.path.join(self.dir, "fake.log"), "ab")
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{fab}", PYTHON, os.path.join(HERE, "fake_ec2.py"),
                                 "--spec", spec_file], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        self.info["pid"] = proc.pid
        self._save()
        deadline = time.monotonic() + 20
        while not os.path.exists(self.spec["ready_file"]):
            if proc.poll() is not None:
                raise RuntimeError(f"fake EC2 exited with {proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake EC2 not ready after 20s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines=30):
        try:
            with open(os.path.join(self.dir, "fake.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _fake_running(self):
        pid = self.info.get("pid")
        if not pid:
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            return False
        return os.path.join(HERE, "fake_ec2.py").encode() in cmdline and \
            os.path.join(self.dir, "spec.json").encode() in cmdline

    def down(self):
        if self._fake_running():
            pid = self.info["pid"]
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not self._fake_running():
                    break
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for netns in reversed(self.info.get("netns_created", [])):
            _ip("netns", "del", netns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()

    # ---- poking ----
    @contextlib.contextmanager
    def netns(self, name):
        """Runs the body with the calling thread in /run/netns/<name>."""
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{name}") as target:
            if libc.setns(target.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {name}")
            try:
                yield
            finally:
                if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back home")

    def control(self, request):
        with self.netns(self.fabric):
            req = urllib.request.Request(self.ec2_url() + "/_control", data=json.dumps(request).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)

    def state(self):
        return self.control({"dump": True})["state"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("n", type=int)
    up.add_argument("--dir")
    up.add_argument("--instance-type", default="t3.medium")
    up.add_argument("--no-https", action="store_true")
    up.add_argument("--attach-delay-ms", type=int, default=0)
    up.add_argument("--imds-lag-ms", type=int, default=0)
    down = sub.add_parser("down")
    down.add_argument("dir")
    control = sub.add_parser("control")
    control.add_argument("dir")
    control.add_argument("json")
    ex = sub.add_parser("exec")
    ex.add_argument("dir")
    ex.add_argument("where")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "up":
        world = World.up(args.n, args.dir, args.instance_type, not args.no_https, args.attach_delay_ms,
                         args.imds_lag_ms)
        print(json.dumps(dict(world.info, dir=world.dir), indent=2))
    elif args.command == "down":
        World.load(args.dir).down()
    elif args.command == "control":
        print(json.dumps(World.load(args.dir).control(json.loads(args.json)), indent=2))
    elif args.command == "exec":
        world = World.load(args.dir)
        netns = world.fabric if args.where == "fabric" else \
            next(n["netns"] for n in world.nodes if args.where in (n["name"], n["netns"], n["id"]))
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        sys.exit(nsenter(netns, *cmd, check=False).returncode)


if __name__ == "__main__":
    main()
