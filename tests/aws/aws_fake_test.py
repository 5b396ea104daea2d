#!/usr/bin/python3
"""The fake EC2 + IMDS and the VPC fabric, driven by the standard botocore client from inside a node.

Brings up a 2-node world (world.py), then checks that botocore (the AWS SDK's own serializer,
signer and parser) gets what the real EC2 would give: pagination, filters, limits and error codes,
SigV4 enforcement, injected throttling; that attach / assign / unassign / detach show up as veths,
routes and neighbours in the nodes and the fabric; and that IMDSv2 answers each node with its own
instance. Everything is removed afterwards (no netns, process or directory left).
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import warnings
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.config  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.session  # noqa: E402
from world import ACCESS_KEY, REGION, ROLE, SECRET_KEY, World  # noqa: E402

world = None
fake_log = ""


def setUpModule():
    global world
    world = World.up(2)


def tearDownModule():
    global fake_log
    fake_log = world.log_tail(60)
    world.down()


_session = botocore.session.get_session()  # one session: the EC2 model is loaded once


def client(node=0, secret=SECRET_KEY, access_key=ACCESS_KEY, token=None, retries=0, https=True):
    session = _session
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": retries + 1})
    c = session.create_client("ec2", region_name=REGION, endpoint_url=world.ec2_url(https),
                              verify=world.info["ca_file"] if https else None, aws_access_key_id=access_key,
                              aws_secret_access_key=secret, aws_session_token=token, config=config)
    return NodeClient(c, world.nodes[node]["netns"])


class NodeClient:
    """A botocore EC2 client whose calls are made from inside a node netns."""

    def __init__(self, c, netns):
        self._c, self._netns = c, netns

    def __getattr__(self, name):
        method = getattr(self._c, name)

        def call(*args, **kwargs):
            with world.netns(self._netns):
                return method(*args, **kwargs)
        return call


def error_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


def raw_call(params, secret=SECRET_KEY, tamper=None, node=0):
    """A hand-signed POST (what a client that bypasses botocore's validation would send)."""
    body = urllib.parse.urlencode(dict(params, Version="2016-11-15")).encode()
    url = world.ec2_url(https=False) + "/"
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ACCESS_KEY, secret), "ec2", REGION).add_auth(request)
    prepared = request.prepare()
    data = tamper(prepared.body) if tamper else prepared.body
    req = urllib.request.Request(url, data=data, headers=dict(prepared.headers), method="POST")
    with world.netns(world.nodes[node]["netns"]):
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def ip_json(netns, *args):
    import json
    out = subprocess.run(["ip", "-j", "-n", netns, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def imds(node, path, token=None, method="GET", headers=None):
    h = dict(headers or {})
    if token:
        h["X-aws-ec2-metadata-token"] = token
    req = urllib.request.Request("http://169.254.169.254" + path, headers=h, method=method)
    with world.netns(world.nodes[node]["netns"]):
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def imds_token(node, ttl="60"):
    status, token = imds(node, "/latest/api/token", method="PUT",
                         headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert status == 200, (status, token)
    return token


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Ec2Api(unittest.TestCase):
    def setUp(self):
        self.ec2 = client()
        self.node = world.nodes[0]
        self.created = []

    def tearDown(self):
        for eni_id in self.created:
            eni = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
            if "Attachment" in eni:
                self.ec2.detach_network_interface(AttachmentId=eni["Attachment"]["AttachmentId"])
            self.ec2.delete_network_interface(NetworkInterfaceId=eni_id)

    def create(self, subnet=None, **kwargs):
        eni = self.ec2.create_network_interface(SubnetId=subnet or self.node["subnet"], **kwargs)["NetworkInterface"]
        self.created.append(eni["NetworkInterfaceId"])
        return eni

    def test_describe_instance_and_its_primary_eni(self):
        reservations = self.ec2.describe_instances(InstanceIds=[self.node["id"]])["Reservations"]
        instance = reservations[0]["Instances"][0]
        self.assertEqual(instance["InstanceType"], "t3.medium")
        self.assertEqual(instance["PrivateIpAddress"], self.node["primary_ip"])
        (primary,) = instance["NetworkInterfaces"]
        self.assertEqual(primary["NetworkInterfaceId"], self.node["eni_id"])
        self.assertEqual(primary["Attachment"]["DeviceIndex"], 0)
        self.assertEqual(primary["MacAddress"], self.node["mac"])
        types = self.ec2.describe_instance_types(InstanceTypes=["t3.medium"])["InstanceTypes"]
        self.assertEqual(types[0]["NetworkInfo"]["MaximumNetworkInterfaces"], 3)
        self.assertEqual(types[0]["NetworkInfo"]["Ipv4AddressesPerInterface"], 6)
        self.assertEqual(error_code(self.ec2.describe_instances, InstanceIds=["i-00000000000000000"]),
                         "InvalidInstanceID.NotFound")

    def test_pagination_and_tag_filters(self):
        tags = [{"ResourceType": "network-interface", "Tags": [{"Key": "batch", "Value": "pages"}]}]
        ids = {self.create(TagSpecifications=tags)["NetworkInterfaceId"] for _ in range(7)}
        flt = [{"Name": "tag:batch", "Values": ["pages"]}]
        first = self.ec2.describe_network_interfaces(Filters=flt, MaxResults=5)
        self.assertEqual(len(first["NetworkInterfaces"]), 5)
        second = self.ec2.describe_network_interfaces(Filters=flt, MaxResults=5, NextToken=first["NextToken"])
        self.assertEqual(len(second["NetworkInterfaces"]), 2)
        self.assertNotIn("NextToken", second)
        seen = {e["NetworkInterfaceId"] for e in first["NetworkInterfaces"] + second["NetworkInterfaces"]}
        self.assertEqual(seen, ids)
        paged = [e["NetworkInterfaceId"] for page in self.ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=flt, PaginationConfig={"PageSize": 5}) for e in page["NetworkInterfaces"]]
        self.assertEqual(set(paged), ids)
        self.assertEqual(len(self.ec2.describe_network_interfaces(Filters=[
            {"Name": "tag-key", "Values": ["batch"]}, {"Name": "status", "Values": ["available"]}])
            ["NetworkInterfaces"]), 7)
        self.assertEqual(self.ec2.describe_network_interfaces(Filters=[{"Name": "tag:batch", "Values": ["other"]}])
                         ["NetworkInterfaces"], [])
        mine = self.ec2.describe_network_interfaces(Filters=[
            {"Name": "attachment.instance-id", "Values": [self.node["id"]]}])["NetworkInterfaces"]
        self.assertEqual([e["NetworkInterfaceId"] for e in mine], [self.node["eni_id"]])
        status, body = raw_call({"Action": "DescribeNetworkInterfaces", "MaxResults": "3"})  # botocore refuses 3
        self.assertEqual(status, 400)
        self.assertIn("<Code>InvalidParameterValue</Code>", body)
        self.assertEqual(error_code(self.ec2.describe_network_interfaces, Filters=flt, MaxResults=5,
                                    NextToken="garbage"), "InvalidPaginationToken")
        self.assertEqual(error_code(self.ec2.describe_network_interfaces, Filters=[{"Name": "bogus", "Values": ["x"]}]),
                         "InvalidParameterValue")

    def test_client_token_makes_create_idempotent(self):
        first = self.create(ClientToken="tok-1", Description="a")
        again = self.ec2.create_network_interface(SubnetId=self.node["subnet"], ClientToken="tok-1",
                                                  Description="a")["NetworkInterface"]
        self.assertEqual(first["NetworkInterfaceId"], again["NetworkInterfaceId"])
        self.assertEqual(error_code(self.ec2.create_network_interface, SubnetId=self.node["subnet"],
                                    ClientToken="tok-1", Description="b"), "IdempotentParameterMismatch")

    def test_limits_and_error_codes(self):
        a, b, c = self.create(), self.create(), self.create()
        attach = self.ec2.attach_network_interface(NetworkInterfaceId=a["NetworkInterfaceId"],
                                                   InstanceId=self.node["id"], DeviceIndex=1)
        self.ec2.modify_network_interface_attribute(NetworkInterfaceId=a["NetworkInterfaceId"], Attachment={
            "AttachmentId": attach["AttachmentId"], "DeleteOnTermination": True})
        eni = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[a["NetworkInterfaceId"]])["NetworkInterfaces"][0]
        self.assertTrue(eni["Attachment"]["DeleteOnTermination"])
        self.assertEqual(eni["Attachment"]["Status"], "attached")
        self.assertEqual(eni["Status"], "in-use")
        self.assertEqual(error_code(self.ec2.attach_network_interface, NetworkInterfaceId=b["NetworkInterfaceId"],
                                    InstanceId=self.node["id"], DeviceIndex=1), "InvalidParameterValue")
        self.ec2.attach_network_interface(NetworkInterfaceId=b["NetworkInterfaceId"], InstanceId=self.node["id"],
                                          DeviceIndex=2)
        self.assertEqual(error_code(self.ec2.attach_network_interface, NetworkInterfaceId=c["NetworkInterfaceId"],
                                    InstanceId=self.node["id"], DeviceIndex=3), "AttachmentLimitExceeded")
        self.assertEqual(error_code(self.ec2.delete_network_interface, NetworkInterfaceId=a["NetworkInterfaceId"]),
                         "InvalidNetworkInterface.InUse")
        assigned = self.ec2.assign_private_ip_addresses(NetworkInterfaceId=a["NetworkInterfaceId"],
                                                        SecondaryPrivateIpAddressCount=5)
        self.assertEqual(len(assigned["AssignedPrivateIpAddresses"]), 5)
        self.assertEqual(error_code(self.ec2.assign_private_ip_addresses, NetworkInterfaceId=a["NetworkInterfaceId"],
                                    SecondaryPrivateIpAddressCount=1), "PrivateIpAddressLimitExceeded")
        self.assertEqual(error_code(self.ec2.assign_private_ip_addresses, NetworkInterfaceId=b["NetworkInterfaceId"],
                                    Ipv4PrefixCount=6), "PrivateIpAddressLimitExceeded")
        prefix = self.ec2.assign_private_ip_addresses(NetworkInterfaceId=b["NetworkInterfaceId"],
                                                      Ipv4PrefixCount=1)["AssignedIpv4Prefixes"][0]["Ipv4Prefix"]
        self.assertTrue(prefix.endswith("/28"))
        self.ec2.unassign_private_ip_addresses(NetworkInterfaceId=b["NetworkInterfaceId"], Ipv4Prefixes=[prefix])
        self.assertEqual(error_code(self.ec2.unassign_private_ip_addresses, NetworkInterfaceId=a["NetworkInterfaceId"],
                                    PrivateIpAddresses=["10.42.200.1"]), "InvalidParameterValue")
        self.assertEqual(error_code(self.ec2.detach_network_interface, AttachmentId="eni-attach-00000000000000000"),
                         "InvalidAttachmentID.NotFound")
        self.assertEqual(error_code(self.ec2.delete_network_interface, NetworkInterfaceId="eni-00000000000000000"),
                         "InvalidNetworkInterfaceID.NotFound")
        self.assertEqual(error_code(self.ec2.describe_subnets, SubnetIds=["subnet-00000000000000000"]),
                         "InvalidSubnetID.NotFound")

    def test_subnet_exhaustion(self):
        small = world.spec["subnets"][1]["id"]
        eni = self.create(subnet=small)
        world.control({"fill_subnet": small, "leave": 1})
        try:
            subnet = self.ec2.describe_subnets(SubnetIds=[small])["Subnets"][0]
            self.assertEqual(subnet["AvailableIpAddressCount"], 1)
            self.assertEqual(error_code(self.ec2.assign_private_ip_addresses, NetworkInterfaceId=eni["NetworkInterfaceId"],
                                        SecondaryPrivateIpAddressCount=2), "InsufficientFreeAddressesInSubnet")
            self.ec2.assign_private_ip_addresses(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                                 SecondaryPrivateIpAddressCount=1)
            self.assertEqual(error_code(self.ec2.create_network_interface, SubnetId=small),
                             "InsufficientFreeAddressesInSubnet")
            self.assertEqual(error_code(self.ec2.assign_private_ip_addresses, NetworkInterfaceId=eni["NetworkInterfaceId"],
                                        Ipv4PrefixCount=1), "InsufficientCidrBlocks")
        finally:
            world.control({"free_subnet": small})

    def test_control_creates_a_leaked_eni(self):
        tags = [{"Key": "node.k8s.amazonaws.com/instance_id", "Value": self.node["id"]}]
        eni = world.control({"create_network_interface": {"SubnetId": self.node["subnet"], "TagSpecifications": [
            {"ResourceType": "network-interface", "Tags": tags}]}})["network_interface"]
        self.created.append(eni["NetworkInterfaceId"])
        found = self.ec2.describe_network_interfaces(Filters=[
            {"Name": "tag:node.k8s.amazonaws.com/instance_id", "Values": [self.node["id"]]},
            {"Name": "status", "Values": ["available"]}])["NetworkInterfaces"]
        self.assertEqual([(e["NetworkInterfaceId"], e["TagSet"]) for e in found], [(eni["NetworkInterfaceId"], tags)])

    def test_signature_is_verified(self):
        self.assertEqual(error_code(client(secret="not-the-secret").describe_subnets), "SignatureDoesNotMatch")
        self.assertEqual(error_code(client(access_key="AKIAUNKNOWN000000000").describe_subnets), "AuthFailure")
        status, body = raw_call({"Action": "DescribeSubnets"})
        self.assertEqual(status, 200, body)
        status, body = raw_call({"Action": "DescribeSubnets"}, tamper=lambda b: b.replace(b"Subnets", b"Instances"))
        self.assertEqual(status, 403)
        self.assertIn("<Code>SignatureDoesNotMatch</Code>", body)
        status, body = raw_call({"Action": "DescribeSubnets"}, secret="wrong")
        self.assertEqual(status, 403)
        # The instance role's session credentials (from IMDS) are accepted, with their token only.
        self.assertIn("Subnets", client(access_key=ROLE["access_key"], secret=ROLE["secret_key"],
                                        token=ROLE["token"]).describe_subnets())
        self.assertEqual(error_code(client(access_key=ROLE["access_key"], secret=ROLE["secret_key"],
                                           token="stolen").describe_subnets), "AuthFailure")
        self.assertIn("Subnets", client(https=False).describe_subnets())

    def test_unknown_and_missing_parameters_are_refused_like_ec2(self):
        status, body = raw_call({"Action": "AssignPrivateIpAddresses", "NetworkInterfaceId": self.node["eni_id"],
                                 "SecondaryPrivateIpAddressCount": "1", "IpCount": "1"})
        self.assertEqual(status, 400)
        self.assertIn("<Code>UnknownParameter</Code>", body)
        status, body = raw_call({"Action": "AttachNetworkInterface", "NetworkInterfaceId": self.node["eni_id"],
                                 "DeviceIndex": "1"})
        self.assertEqual(status, 400)
        self.assertIn("<Code>MissingParameter</Code>", body)
        self.assertIn("<RequestID>", body)
        status, body = raw_call({"Action": "AssignPrivateIpAddresses", "NetworkInterfaceId": self.node["eni_id"]})
        self.assertIn("<Code>MissingParameter</Code>", body)

    def test_injected_throttling_and_denial(self):
        world.control({"throttle_next": 2, "reset_calls": True})
        self.assertEqual(error_code(self.ec2.describe_subnets), "RequestLimitExceeded")
        retrying = client(retries=3).describe_subnets()
        self.assertEqual(retrying["ResponseMetadata"]["RetryAttempts"], 1)
        answer = world.control({})
        self.assertEqual(answer["throttled"], 2)
        self.assertEqual(answer["calls"]["DescribeSubnets"], 3)
        world.control({"deny": ["DescribeInstanceTypes"]})
        try:
            self.assertEqual(error_code(self.ec2.describe_instance_types, InstanceTypes=["t3.medium"]),
                             "UnauthorizedOperation")
        finally:
            world.control({"deny": []})


class Fabric(unittest.TestCase):
    def test_attach_assign_unassign_detach_in_the_netns(self):
        ec2, node = client(1), world.nodes[1]
        eni = ec2.create_network_interface(SubnetId=node["subnet"])["NetworkInterface"]
        eni_id, mac = eni["NetworkInterfaceId"], eni["MacAddress"]
        fab = "e" + eni_id[4:][-12:]
        try:
            attachment = ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=node["id"],
                                                      DeviceIndex=1)["AttachmentId"]
            (eth1,) = ip_json(node["netns"], "link", "show", "eth1")
            self.assertEqual(eth1["address"], mac)
            self.assertNotIn("UP", eth1["flags"])
            self.assertEqual(ip_json(node["netns"], "addr", "show", "eth1")[0]["addr_info"], [])
            ip = ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, SecondaryPrivateIpAddressCount=1)[
                "AssignedPrivateIpAddresses"][0]["PrivateIpAddress"]
            routes = ip_json(world.fabric, "route", "show", f"{ip}/32")
            self.assertEqual([r["dev"] for r in routes], [fab])
            neigh = [n for n in ip_json(world.fabric, "neigh", "show", "dev", fab) if n["dst"] == ip]
            self.assertEqual(neigh[0]["lladdr"], mac)
            self.assertIn("PERMANENT", neigh[0]["state"])
            prefix = ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, Ipv4PrefixCount=1)[
                "AssignedIpv4Prefixes"][0]["Ipv4Prefix"]
            self.assertEqual([r["dev"] for r in ip_json(world.fabric, "route", "show", prefix)], [fab])

            ec2.unassign_private_ip_addresses(NetworkInterfaceId=eni_id, PrivateIpAddresses=[ip])
            self.assertEqual(ip_json(world.fabric, "route", "show", f"{ip}/32"), [])
            ec2.unassign_private_ip_addresses(NetworkInterfaceId=eni_id, Ipv4Prefixes=[prefix])
            self.assertEqual(ip_json(world.fabric, "route", "show", prefix), [])

            ec2.detach_network_interface(AttachmentId=attachment)
            self.assertEqual(subprocess.run(["ip", "-n", node["netns"], "link", "show", "eth1"],
                                            capture_output=True).returncode, 1)
            self.assertEqual(subprocess.run(["ip", "-n", world.fabric, "link", "show", fab],
                                            capture_output=True).returncode, 1)
            self.assertEqual(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])[
                "NetworkInterfaces"][0]["Status"], "available")
        finally:
            ec2.delete_network_interface(NetworkInterfaceId=eni_id)

    def test_attach_delay_shows_attaching_then_the_interface(self):
        ec2, node = client(1), world.nodes[1]
        eni_id = ec2.create_network_interface(SubnetId=node["subnet"])["NetworkInterface"]["NetworkInterfaceId"]
        world.control({"attach_delay_ms": 300})
        try:
            attachment = ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=node["id"],
                                                      DeviceIndex=2)["AttachmentId"]
            eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
            self.assertEqual((eni["Status"], eni["Attachment"]["Status"]), ("attaching", "attaching"))
            self.assertEqual(subprocess.run(["ip", "-n", node["netns"], "link", "show", "eth2"],
                                            capture_output=True).returncode, 1)
            self.assertTrue(wait_for(lambda: subprocess.run(["ip", "-n", node["netns"], "link", "show", "eth2"],
                                                            capture_output=True).returncode == 0))
            eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
            self.assertEqual((eni["Status"], eni["Attachment"]["Status"]), ("in-use", "attached"))
            ec2.detach_network_interface(AttachmentId=attachment)
            self.assertEqual(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
                             ["Attachment"]["Status"], "detaching")
            self.assertTrue(wait_for(lambda: ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])[
                "NetworkInterfaces"][0]["Status"] == "available"))
        finally:
            world.control({"attach_delay_ms": 0})
            ec2.delete_network_interface(NetworkInterfaceId=eni_id)

    def test_nodes_reach_each_other_through_the_fabric(self):
        a, b = world.nodes
        seen = []
        with world.netns(b["netns"]):
            server = socket.create_server((b["primary_ip"], 7000))

        def accept():
            conn, peer = server.accept()
            seen.append(peer[0])
            conn.sendall(b"hello")
            conn.close()
        thread = threading.Thread(target=accept)
        thread.start()
        try:
            with world.netns(a["netns"]):
                with socket.create_connection((b["primary_ip"], 7000), timeout=5) as conn:
                    self.assertEqual(conn.recv(5), b"hello")
        finally:
            thread.join(5)
            server.close()
        self.assertEqual(seen, [a["primary_ip"]])


class Imds(unittest.TestCase):
    def test_token_flow_and_imdsv1_refused(self):
        self.assertEqual(imds(0, "/latest/meta-data/instance-id")[0], 401)
        self.assertEqual(imds(0, "/latest/api/token", method="PUT")[0], 400)
        self.assertEqual(imds(0, "/latest/api/token", method="PUT",
                              headers={"X-aws-ec2-metadata-token-ttl-seconds": "21601"})[0], 400)
        token = imds_token(0)
        self.assertEqual(imds(0, "/latest/meta-data/instance-id", token), (200, world.nodes[0]["id"]))
        self.assertEqual(imds(0, "/latest/meta-data/instance-id", "forged")[0], 401)
        self.assertEqual(imds(1, "/latest/meta-data/instance-id", token)[0], 401)  # bound to node 0

    def test_each_node_sees_its_own_instance(self):
        for i, node in enumerate(world.nodes):
            token = imds_token(i)
            self.assertEqual(imds(i, "/latest/meta-data/instance-id", token), (200, node["id"]))
            self.assertEqual(imds(i, "/latest/meta-data/instance-type", token), (200, "t3.medium"))
            self.assertEqual(imds(i, "/latest/meta-data/placement/availability-zone", token), (200, REGION + "a"))
            self.assertEqual(imds(i, "/latest/meta-data/placement/region", token), (200, REGION))
            self.assertEqual(imds(i, "/latest/meta-data/mac", token), (200, node["mac"]))
            base = f"/latest/meta-data/network/interfaces/macs/{node['mac']}/"
            self.assertEqual(imds(i, "/latest/meta-data/network/interfaces/macs/", token), (200, node["mac"] + "/"))
            self.assertEqual(imds(i, base + "device-number", token), (200, "0"))
            self.assertEqual(imds(i, base + "interface-id", token), (200, node["eni_id"]))
            self.assertEqual(imds(i, base + "subnet-id", token), (200, node["subnet"]))
            self.assertEqual(imds(i, base + "subnet-ipv4-cidr-block", token), (200, "10.42.0.0/24"))
            self.assertEqual(imds(i, base + "local-ipv4s", token), (200, node["primary_ip"]))
            self.assertEqual(imds(i, base + "vpc-ipv4-cidr-blocks", token), (200, "10.42.0.0/16"))
            self.assertEqual(imds(i, base + "security-group-ids", token), (200, node["security_groups"][0]))
            self.assertEqual(imds(i, base + "ipv4-prefix", token)[0], 404)

    def test_role_credentials(self):
        import json
        token = imds_token(0)
        self.assertEqual(imds(0, "/latest/meta-data/iam/security-credentials/", token), (200, ROLE["name"]))
        status, body = imds(0, f"/latest/meta-data/iam/security-credentials/{ROLE['name']}", token)
        creds = json.loads(body)
        self.assertEqual((creds["Code"], creds["AccessKeyId"], creds["Token"]),
                         ("Success", ROLE["access_key"], ROLE["token"]))

    def test_metadata_follows_ec2_after_a_lag(self):
        ec2, node = client(0), world.nodes[0]
        world.control({"imds_lag_ms": 1000})
        eni = ec2.create_network_interface(SubnetId=node["subnet"])["NetworkInterface"]
        try:
            attachment = ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                                      InstanceId=node["id"], DeviceIndex=1)["AttachmentId"]
            token = imds_token(0)
            macs = "/latest/meta-data/network/interfaces/macs/"
            self.assertEqual(imds(0, macs, token), (200, node["mac"] + "/"))  # not yet
            self.assertTrue(wait_for(lambda: eni["MacAddress"] + "/" in imds(0, macs, token)[1]))
            base = f"{macs}{eni['MacAddress']}/"
            self.assertEqual(imds(0, base + "device-number", token), (200, "1"))
            self.assertEqual(imds(0, base + "local-ipv4s", token), (200, eni["PrivateIpAddress"]))
            ec2.detach_network_interface(AttachmentId=attachment)
        finally:
            world.control({"imds_lag_ms": 0})
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])


def main():
    # botocore clients are dropped without close(), and the fake's Popen is meant to outlive its object.
    warnings.filterwarnings("ignore", category=ResourceWarning)
    # meson's timeout sends SIGTERM (unittest would record a SystemExit as one error and go on):
    # remove the world at once and leave.
    def terminated(*_):
        if world is not None:
            world.down()
        os._exit(143)
    signal.signal(signal.SIGTERM, terminated)
    try:
        result = unittest.main(exit=False, verbosity=2, warnings=False).result
    finally:
        if world is not None and os.path.exists(world.dir):
            world.down()
    leftovers = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                 if n in [world.fabric] + [node["netns"] for node in world.nodes]]
    ok = result.wasSuccessful()
    if leftovers or os.path.exists(world.dir):
        print(f"LEAK: netns {leftovers}, dir exists: {os.path.exists(world.dir)}", file=sys.stderr)
        ok = False
    if not ok:
        print("fake EC2 log:\n" + fake_log, file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
