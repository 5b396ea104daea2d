#!/usr/bin/python3
"""A fake EC2 (Query API 2016-11-15) and IMDSv2 with real state, for the aws provider's tests.

  fake_ec2.py --spec world.json

world.json (written by world.py) describes the VPC, subnets, security groups, instances (each
with its node netns and primary ENI), the test credentials, where to listen and a ready_file.
The process is meant to run inside the fabric netns (world.py starts it with nsenter): with
"plumb": true every attach / assign / unassign / detach is mirrored as veths, routes and
neighbours (fabric.py). Listeners:
  EC2   http://<ec2_address>:<http_port>/ and https://<ec2_address>:<https_port>/ (cert from the spec)
        Every request is SigV4-verified; POST /_control (JSON, unsigned) injects faults and dumps state.
  IMDS  http://<imds_address>:<imds_port>/latest/... (IMDSv2 only; the caller's source address
        names the instance)

Control requests (POST /_control, JSON object; every key optional, applied in this order):
  {"throttle_next": N}              the next N EC2 calls answer RequestLimitExceeded
  {"throttle_fraction": 0.3}        that fraction of calls does (0 stops it)
  {"throttle_actions": ["AssignPrivateIpAddresses"]}  limit throttling to these actions (null: all)
  {"latency_ms": 50}                every EC2 call waits that long first
  {"deny": ["DescribeInstanceTypes"]}  those actions answer UnauthorizedOperation
  {"attach_delay_ms": 500, "imds_lag_ms": 2000}
  {"fill_subnet": "subnet-...", "leave": 0} / {"free_subnet": "subnet-..."}
  {"reset_calls": true}
  {"create_network_interface": {"SubnetId": ..., "TagSpecifications": [...]}}  as the EC2 call, unsigned
The answer is {"calls": {action: count}, "throttled": n, "state": <dump>} (state only with "dump": true).
"""
import argparse
import json
import os
import random
import signal
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ec2_protocol  # noqa: E402
from ec2_protocol import ApiError  # noqa: E402
from ec2_state import Ec2State  # noqa: E402
import imds  # noqa: E402

ACTIONS = {
    "DescribeInstances": "describe_instances",
    "DescribeInstanceTypes": "describe_instance_types",
    "DescribeSubnets": "describe_subnets",
    "DescribeNetworkInterfaces": "describe_network_interfaces",
    "CreateNetworkInterface": "create_network_interface",
    "AttachNetworkInterface": "attach_network_interface",
    "ModifyNetworkInterfaceAttribute": "modify_network_interface_attribute",
    "AssignPrivateIpAddresses": "assign_private_ip_addresses",
    "UnassignPrivateIpAddresses": "unassign_private_ip_addresses",
    "DetachNetworkInterface": "detach_network_interface",
    "DeleteNetworkInterface": "delete_network_interface",
}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.throttle_next = 0
        self.throttle_fraction = 0.0
        self.throttle_actions = None
        self.latency = 0.0
        self.deny = set()
        self.calls = {}
        self.throttled = 0

    def apply(self, action):
        """Counts the call; returns the injected error for it, or None."""
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1
            latency = self.latency
            throttle = False
            if self.throttle_actions is None or action in self.throttle_actions:
                if self.throttle_next > 0:
                    self.throttle_next -= 1
                    throttle = True
                elif self.throttle_fraction and random.random() < self.throttle_fraction:
                    throttle = True
            if throttle:
                self.throttled += 1
            denied = action in self.deny
        if latency:
            time.sleep(latency)
        if throttle:
            return ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
        if denied:
            return ApiError("UnauthorizedOperation", f"You are not authorized to perform this operation. "
                            f"(ec2:{action})", 403)
        return None


class Ec2Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    state = None
    faults = None
    checker = None
    scheme = "http"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, content_type="text/xml;charset=UTF-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self._ec2(b"")

    def do_POST(self):
        body = self._body()
        if urlsplit(self.path).path == "/_control":
            self._control(body)
        else:
            self._ec2(body)

    def _ec2(self, body):
        request_id = str(uuid.uuid4())
        action = "-"
        try:
            url = f"{self.scheme}://{self.headers.get('Host', '')}{self.path}"
            headers = {k: v for k, v in self.headers.items()}
            self.checker.check(self.command, url, headers, body)
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            if self.command == "POST":
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            action = params.get("Action", "")
            if not action:
                raise ApiError("MissingAction", "The request must contain the parameter Action")
            if params.get("Version") != ec2_protocol.API_VERSION:
                raise ApiError("InvalidParameterValue", f"This fake serves Version {ec2_protocol.API_VERSION}, "
                               f"not {params.get('Version')!r}")
            if action not in ACTIONS:
                raise ApiError("InvalidAction", f"The action {action} is not valid for this web service.")
            injected = self.faults.apply(action)
            if injected:
                raise injected
            request = ec2_protocol.parse_request(action, params)
            if request.pop("DryRun", False):
                raise ApiError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
            result = getattr(self.state, ACTIONS[action])(request)
            self._send(200, ec2_protocol.serialize_response(action, result, request_id))
            print(f"ec2 {action} 200", file=sys.stderr, flush=True)
        except ApiError as e:
            self._send(e.http_status, ec2_protocol.error_response(e.code, e.message, request_id))
            print(f"ec2 {action} {e.http_status} {e.code}: {e.message}", file=sys.stderr, flush=True)
        except Exception as e:  # a bug here: answer like EC2's InternalError so it shows in the test
            import traceback
            traceback.print_exc()
            self._send(500, ec2_protocol.error_response("InternalError", repr(e), request_id))

    def _control(self, body):
        try:
            req = json.loads(body or b"{}")
            f, s = self.faults, self.state
            with f.lock:
                f.throttle_next = req.get("throttle_next", f.throttle_next)
                f.throttle_fraction = req.get("throttle_fraction", f.throttle_fraction)
                if "throttle_actions" in req:
                    f.throttle_actions = set(req["throttle_actions"]) if req["throttle_actions"] else None
                f.latency = req.get("latency_ms", f.latency * 1000) / 1000
                if "deny" in req:
                    f.deny = set(req["deny"])
                if req.get("reset_calls"):
                    f.calls, f.throttled = {}, 0
                answer = {"calls": dict(f.calls), "throttled": f.throttled}
            with s.lock:
                s.attach_delay = req.get("attach_delay_ms", s.attach_delay * 1000) / 1000
                s.imds_lag = req.get("imds_lag_ms", s.imds_lag * 1000) / 1000
            if "fill_subnet" in req:
                s.fill_subnet(req["fill_subnet"], req.get("leave", 0))
            if "free_subnet" in req:
                s.free_subnet(req["free_subnet"])
            if "create_network_interface" in req:  # e.g. an ENI "leaked" by a crashed node, tags and all
                answer["network_interface"] = s.create_network_interface(req["create_network_interface"])[
                    "NetworkInterface"]
            if req.get("dump"):
                answer["state"] = s.dump()
            self._send(200, json.dumps(answer).encode(), "application/json")
        except Exception as e:  # ApiError included: the control caller gets it as JSON
            self._send(400, json.dumps({"error": repr(e)}).encode(), "application/json")


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)

    plumbing = None
    if spec.get("plumb"):
        import fabric
        plumbing = fabric
    state = Ec2State(spec, plumbing)
    keys = {spec["credentials"]["access_key"]: (spec["credentials"]["secret_key"], None)}
    role = spec.get("role")
    if role:
        keys[role["access_key"]] = (role["secret_key"], role["token"])

    handler = type("Handler", (Ec2Handler,), {
        "state": state, "faults": Faults(), "checker": ec2_protocol.SignatureChecker(spec["region"], keys)})
    servers = [ThreadingHTTPServer((spec["ec2_address"], spec["http_port"]), handler)]
    if spec.get("https_port"):
        https_handler = type("HttpsHandler", (handler,), {"scheme": "https"})
        tls = ThreadingHTTPServer((spec["ec2_address"], spec["https_port"]), https_handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(spec["cert"], spec["key"])
        # The handshake happens in the connection's own thread, so a stalled client blocks only itself.
        tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(tls)
    servers.append(ThreadingHTTPServer((spec["imds_address"], spec["imds_port"]),
                                       imds.make_handler(state, spec)))
    for server in servers:
        server.daemon_threads = True
        serve(server)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ready = spec.get("ready_file")
    if ready:
        with open(ready + ".tmp", "w") as f:
            json.dump({"pid": os.getpid()}, f)
        os.rename(ready + ".tmp", ready)
    print("fake ec2 ready", file=sys.stderr, flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
