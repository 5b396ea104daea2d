"""The instance metadata service, IMDSv2 only (HttpTokens=required), as each node sees it.

PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600) returns a token bound
to the calling instance; every GET needs it in X-aws-ec2-metadata-token (401 without: IMDSv1 is
refused). The caller is the instance owning the request's source address. ENIs and their IPs
come from Ec2State.imds_view, which lags EC2 by imds_lag like the real service can.
"""
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler

MAX_TTL = 21600


def _tree(state, spec, instance):
    """The metadata tree of one instance: nested dicts, leaves are strings."""
    subnet = state.subnets[instance["subnet"]]
    macs = {}
    for eni in state.imds_view(instance["id"]):
        entry = {k: str(v) for k, v in eni.items() if not isinstance(v, list)}
        for key in ("local-ipv4s", "vpc-ipv4-cidr-blocks", "security-group-ids"):
            entry[key] = "\n".join(eni[key])
        if eni["ipv4-prefix"]:  # absent, not empty, when the ENI has no prefix
            entry["ipv4-prefix"] = "\n".join(eni["ipv4-prefix"])
        entry["security-groups"] = "\n".join(state.groups.get(g, g) for g in eni["security-group-ids"])
        entry["local-hostname"] = state._dns(eni["local-ipv4s"][0])
        macs[eni["mac"]] = entry
    meta = {
        "ami-id": "ami-0123456789abcdef0",
        "instance-id": instance["id"],
        "instance-type": instance["type"],
        "local-ipv4": instance["primary_ip"],
        "local-hostname": state._dns(instance["primary_ip"]),
        "hostname": state._dns(instance["primary_ip"]),
        "mac": instance["mac"],
        "placement": {"availability-zone": subnet.az, "region": spec["region"]},
        "network": {"interfaces": {"macs": macs}},
    }
    role = spec.get("role")
    if role:
        expiration = datetime.datetime.utcnow() + datetime.timedelta(hours=6)
        meta["iam"] = {
            "info": json.dumps({"Code": "Success", "InstanceProfileArn":
                                f"arn:aws:iam::111122223333:instance-profile/{role['name']}"}),
            "security-credentials": {role["name"]: json.dumps({
                "Code": "Success", "LastUpdated": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Type": "AWS-HMAC", "AccessKeyId": role["access_key"], "SecretAccessKey": role["secret_key"],
                "Token": role["token"], "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}, indent=2)}}
    return meta


def make_handler(state, spec):
    tokens = {}  # token -> (instance id, expiry)
    lock = threading.Lock()

    class ImdsHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "EC2ws"

        def log_message(self, fmt, *args):
            pass

        def _send(self, status, body, headers=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _instance(self):
            return state.instance_by_address(self.client_address[0])

        def do_PUT(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/latest/api/token":
                return self._send(404, "Not Found")
            if self.headers.get("X-Forwarded-For"):
                return self._send(403, "Forbidden")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
                return self._send(400, "Bad Request")
            instance = self._instance()
            if instance is None:
                return self._send(403, "Forbidden")
            token = secrets.token_urlsafe(40)
            with lock:
                tokens[token] = (instance["id"], time.monotonic() + int(ttl))
            self._send(200, token, [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

        def do_GET(self):
            token = self.headers.get("X-aws-ec2-metadata-token")
            instance = self._instance()
            with lock:
                bound = tokens.get(token) if token else None
            if instance is None or bound is None or bound[0] != instance["id"] or bound[1] < time.monotonic():
                return self._send(401, "Unauthorized")
            path = self.path.split("?")[0]
            if not path.startswith("/latest/meta-data"):
                return self._send(404, "Not Found")
            node = _tree(state, spec, instance)
            for part in [p for p in path[len("/latest/meta-data"):].split("/") if p]:
                if not isinstance(node, dict) or part not in node:
                    return self._send(404, "Not Found")
                node = node[part]
            if isinstance(node, dict):
                return self._send(200, "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items()))
            self._send(200, node)

    return ImdsHandler
