"""The fake VPC's state and the EC2 operations on it: subnets with finite address space,
instances with an instance type (and so ENI / IP-per-ENI limits), ENIs, attachments, secondary
IPs, /28 prefixes and tags. Values in and out are dicts keyed by the API model's member names
(ec2_protocol parses and serializes them). Changes that a node would see are pushed to a
`plumbing` object (the fabric, or None) and recorded for the instance metadata service, which
may show them late (imds_lag).
"""
import base64
import fnmatch
import ipaddress
import json
import secrets
import threading
import time

from ec2_protocol import ApiError, max_results_range

OWNER_ID = "111122223333"
# instance type -> (maximum network interfaces, IPv4 addresses per interface, hypervisor)
INSTANCE_TYPES = {
    "t3.nano": (2, 2, "nitro"),
    "t3.small": (3, 4, "nitro"),
    "t3.medium": (3, 6, "nitro"),
    "m5.large": (3, 10, "nitro"),
    "m5.xlarge": (4, 15, "nitro"),
    "c5.xlarge": (4, 15, "nitro"),
    "m4.large": (2, 10, "xen"),
}


def new_id(prefix):
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def _matches(values, candidates):
    return any(fnmatch.fnmatchcase(str(c), v) for v in values for c in candidates)


class Subnet:
    def __init__(self, spec, vpc):
        self.id = spec["id"]
        self.cidr = ipaddress.ip_network(spec["cidr"])
        self.az = spec["az"]
        self.vpc = vpc
        self.tags = dict(spec.get("tags", {}))
        first = int(self.cidr.network_address)
        # AWS reserves the network address, .1 (router), .2 (DNS), .3 and the broadcast address.
        self.reserved = {first, first + 1, first + 2, first + 3, int(self.cidr.broadcast_address)}
        self.used = set()     # ints: addresses of ENIs (and of prefixes, all 16 each)
        self.phantom = set()  # used by "someone else" (control: fill_subnet)

    @property
    def gateway(self):
        return str(self.cidr.network_address + 1)

    def free_count(self):
        return self.cidr.num_addresses - len(self.reserved) - len(self.used) - len(self.phantom)

    def _taken(self, n):
        return n in self.reserved or n in self.used or n in self.phantom

    def allocate_ip(self, wanted=None):
        if wanted is not None:
            n = int(ipaddress.ip_address(wanted))
            if n not in range(int(self.cidr.network_address), int(self.cidr.broadcast_address) + 1):
                raise ApiError("InvalidParameterValue", f"Address {wanted} does not fall within the subnet's "
                               "address range")
            if self._taken(n):
                raise ApiError("InvalidIPAddress.InUse", f"Address {wanted} is in use.")
            self.used.add(n)
            return str(ipaddress.ip_address(n))
        for n in range(int(self.cidr.network_address), int(self.cidr.broadcast_address) + 1):
            if not self._taken(n):
                self.used.add(n)
                return str(ipaddress.ip_address(n))
        raise ApiError("InsufficientFreeAddressesInSubnet",
                       f"The specified subnet {self.id} does not have enough free addresses to satisfy the request.")

    def allocate_prefix(self):
        for block in self.cidr.subnets(new_prefix=28):
            addresses = range(int(block.network_address), int(block.broadcast_address) + 1)
            if not any(self._taken(n) for n in addresses):
                self.used.update(addresses)
                return str(block)
        raise ApiError("InsufficientCidrBlocks", f"The specified subnet {self.id} does not have enough "
                       "contiguous free address space to satisfy the request.")

    def release_ip(self, ip):
        self.used.discard(int(ipaddress.ip_address(ip)))

    def release_prefix(self, prefix):
        block = ipaddress.ip_network(prefix)
        self.used.difference_update(range(int(block.network_address), int(block.broadcast_address) + 1))

    def describe(self):
        return {"AvailabilityZone": self.az, "AvailabilityZoneId": self.az.replace("-", "") + "-az",
                "AvailableIpAddressCount": self.free_count(), "CidrBlock": str(self.cidr),
                "DefaultForAz": False, "MapPublicIpOnLaunch": False, "State": "available",
                "SubnetId": self.id, "VpcId": self.vpc["id"], "OwnerId": OWNER_ID,
                "SubnetArn": f"arn:aws:ec2:region:{OWNER_ID}:subnet/{self.id}",
                "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()]}


class Eni:
    def __init__(self, eni_id, subnet, groups, description, tags, mac=None):
        self.id = eni_id
        self.subnet = subnet
        self.groups = list(groups)
        self.description = description
        self.tags = dict(tags)
        self.mac = mac or "02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))
        self.private_ips = []  # the primary first
        self.prefixes = []
        self.attachment = None  # dict: AttachmentId, InstanceId, DeviceIndex, Status, DeleteOnTermination, AttachTime
        self.status = "available"
        self.client_token = None

    def slots(self):
        return len(self.private_ips) + len(self.prefixes)


class Ec2State:
    def __init__(self, spec, plumbing=None):
        self.lock = threading.RLock()
        self.region = spec["region"]
        self.vpc = dict(spec["vpc"])
        self.groups = {g["id"]: g["name"] for g in spec["security_groups"]}
        self.subnets = {s["id"]: Subnet(s, self.vpc) for s in spec["subnets"]}
        self.plumbing = plumbing
        self.attach_delay = spec.get("attach_delay_ms", 0) / 1000
        self.imds_lag = spec.get("imds_lag_ms", 0) / 1000
        self.enis = {}
        self.instances = {}
        self.imds_history = {}  # instance id -> [(time, view)], oldest first
        for inst in spec["instances"]:
            subnet = self.subnets[inst["subnet"]]
            eni = Eni(inst["eni_id"], subnet, inst["security_groups"], "Primary network interface", {},
                      mac=inst["mac"])
            eni.private_ips.append(subnet.allocate_ip(inst["primary_ip"]))
            self.enis[eni.id] = eni
            self.instances[inst["id"]] = dict(inst, launch_time=time.time())
            self._attach_now(eni, inst["id"], 0, delete_on_termination=True)
            self.imds_history[inst["id"]] = [(0, self._imds_view(inst["id"]))]

    # ---- helpers ----
    def _eni(self, eni_id):
        if not eni_id.startswith("eni-"):
            raise ApiError("InvalidNetworkInterfaceID.Malformed", f"Invalid id: \"{eni_id}\" (expecting \"eni-...\")")
        if eni_id not in self.enis:
            raise ApiError("InvalidNetworkInterfaceID.NotFound", f"The networkInterface ID '{eni_id}' does not exist")
        return self.enis[eni_id]

    def _instance(self, instance_id):
        if instance_id not in self.instances:
            raise ApiError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
        return self.instances[instance_id]

    def _limits(self, instance_id):
        return INSTANCE_TYPES[self.instances[instance_id]["type"]]

    def _attached(self, instance_id):
        return sorted((e for e in self.enis.values() if e.attachment and e.attachment["InstanceId"] == instance_id),
                      key=lambda e: e.attachment["DeviceIndex"])

    def _record_imds(self, instance_id):
        history = self.imds_history.setdefault(instance_id, [])
        now = time.monotonic()
        history.append((now, self._imds_view(instance_id)))
        while len(history) > 1 and history[1][0] <= now - self.imds_lag:
            history.pop(0)

    def _imds_view(self, instance_id):
        return [{"mac": e.mac, "device-number": e.attachment["DeviceIndex"], "interface-id": e.id,
                 "subnet-id": e.subnet.id, "subnet-ipv4-cidr-block": str(e.subnet.cidr),
                 "local-ipv4s": list(e.private_ips), "ipv4-prefix": list(e.prefixes),
                 "vpc-id": self.vpc["id"], "vpc-ipv4-cidr-block": self.vpc["cidr"],
                 "vpc-ipv4-cidr-blocks": [self.vpc["cidr"]], "security-group-ids": list(e.groups),
                 "owner-id": OWNER_ID}
                for e in self._attached(instance_id) if e.attachment["Status"] == "attached"]

    def imds_view(self, instance_id):
        """The instance's ENIs as metadata shows them: as they were imds_lag seconds ago."""
        with self.lock:
            cutoff = time.monotonic() - self.imds_lag
            visible = [view for t, view in self.imds_history[instance_id] if t <= cutoff]
            return visible[-1] if visible else self.imds_history[instance_id][0][1]

    def instance_by_address(self, ip):
        with self.lock:
            for eni in self.enis.values():
                if eni.attachment and ip in eni.private_ips:
                    return self.instances[eni.attachment["InstanceId"]]
        return None

    def _plumb(self, method, *args):
        if self.plumbing is not None:
            getattr(self.plumbing, method)(*args)

    def _route_all(self, eni):
        for ip in eni.private_ips:
            self._plumb("route_ip", eni.id, eni.mac, ip)
        for prefix in eni.prefixes:
            self._plumb("route_prefix", eni.id, prefix, eni.private_ips[0])

    def _after(self, delay, fn):
        if delay <= 0:
            fn()
        else:
            timer = threading.Timer(delay, lambda: self._locked(fn))
            timer.daemon = True
            timer.start()

    def _locked(self, fn):
        with self.lock:
            fn()

    def _attach_now(self, eni, instance_id, device_index, delete_on_termination=False):
        eni.attachment = {"AttachmentId": new_id("eni-attach"), "InstanceId": instance_id,
                          "DeviceIndex": device_index, "Status": "attaching",
                          "DeleteOnTermination": delete_on_termination, "AttachTime": time.time(),
                          "NetworkCardIndex": 0, "InstanceOwnerId": OWNER_ID}
        eni.status = "attaching"
        attachment = eni.attachment

        def complete():
            if eni.attachment is not attachment:
                return  # detached meanwhile
            attachment["Status"] = "attached"
            eni.status = "in-use"
            self._plumb("plug", eni.id, eni.mac, self.instances[instance_id]["netns"], device_index)
            if device_index == 0:
                self._plumb("configure_primary", self.instances[instance_id]["netns"], eni.private_ips[0],
                            eni.subnet.cidr.prefixlen, eni.subnet.gateway)
            self._route_all(eni)
            self._record_imds(instance_id)
        self._after(0 if device_index == 0 else self.attach_delay, complete)
        return attachment["AttachmentId"]

    # ---- describe ----
    def eni_description(self, e):
        out = {"AvailabilityZone": e.subnet.az, "Description": e.description,
               "Groups": [{"GroupId": g, "GroupName": self.groups.get(g, g)} for g in e.groups],
               "InterfaceType": "interface", "MacAddress": e.mac, "NetworkInterfaceId": e.id,
               "OwnerId": OWNER_ID, "PrivateIpAddress": e.private_ips[0],
               "PrivateDnsName": self._dns(e.private_ips[0]),
               "PrivateIpAddresses": [{"Primary": i == 0, "PrivateIpAddress": ip, "PrivateDnsName": self._dns(ip)}
                                      for i, ip in enumerate(e.private_ips)],
               "RequesterManaged": False, "SourceDestCheck": True, "Status": e.status,
               "SubnetId": e.subnet.id, "TagSet": [{"Key": k, "Value": v} for k, v in e.tags.items()],
               "VpcId": self.vpc["id"]}
        if e.prefixes:
            out["Ipv4Prefixes"] = [{"Ipv4Prefix": p} for p in e.prefixes]
        if e.attachment:
            out["Attachment"] = dict(e.attachment)
        return out

    def _dns(self, ip):
        return f"ip-{ip.replace('.', '-')}.{self.region}.compute.internal"

    @staticmethod
    def _filter(items, filters, fields):
        """fields(item) -> {filter name: [candidate values]}; tag:K and tag-key come from item "tags"."""
        for f in filters or []:
            name, values = f.get("Name", ""), f.get("Values", [])
            kept = []
            for item in items:
                fv = fields(item)
                if name.startswith("tag:"):
                    candidates = [fv["tags"][name[4:]]] if name[4:] in fv["tags"] else []
                elif name == "tag-key":
                    candidates = list(fv["tags"])
                elif name in fv:
                    candidates = fv[name]
                else:
                    raise ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")
                if _matches(values, candidates):
                    kept.append(item)
            items = kept
        return items

    def _paginate(self, operation, items, request, ids_key):
        max_results, token = request.get("MaxResults"), request.get("NextToken")
        if max_results is None and token is None:
            return items, None
        if request.get(ids_key):
            raise ApiError("InvalidParameterCombination",
                           f"The parameter {ids_key} cannot be used with the parameter MaxResults")
        low, high = max_results_range(operation)
        if max_results is not None and not low <= max_results <= high:
            raise ApiError("InvalidParameterValue", f"Value ( {max_results} ) for parameter maxResults is invalid. "
                           f"Expecting a value between {low} and {high}.")
        start = 0
        if token is not None:
            try:
                op, start = json.loads(base64.b64decode(token, validate=True))
                assert op == operation and isinstance(start, int) and 0 <= start <= len(items)
            except Exception:
                raise ApiError("InvalidPaginationToken", f"Invalid pagination token: {token}") from None
        end = start + (max_results or high)
        next_token = base64.b64encode(json.dumps([operation, end]).encode()).decode() if end < len(items) else None
        return items[start:end], next_token

    def describe_network_interfaces(self, req):
        ids = req.get("NetworkInterfaceIds", [])
        with self.lock:
            items = [self._eni(i) for i in ids] if ids else list(self.enis.values())

            def fields(e):
                a = e.attachment or {}
                return {"tags": e.tags, "network-interface-id": [e.id], "subnet-id": [e.subnet.id],
                        "vpc-id": [self.vpc["id"]], "status": [e.status], "mac-address": [e.mac],
                        "description": [e.description], "group-id": e.groups, "availability-zone": [e.subnet.az],
                        "owner-id": [OWNER_ID], "requester-managed": ["false"], "interface-type": ["interface"],
                        "private-ip-address": [e.private_ips[0]], "addresses.private-ip-address": e.private_ips,
                        "attachment.instance-id": [a["InstanceId"]] if a else [],
                        "attachment.attachment-id": [a["AttachmentId"]] if a else [],
                        "attachment.device-index": [a["DeviceIndex"]] if a else [],
                        "attachment.status": [a["Status"]] if a else [],
                        "attachment.delete-on-termination": [str(a["DeleteOnTermination"]).lower()] if a else []}
            items = self._filter(items, req.get("Filters"), fields)
            page, token = self._paginate("DescribeNetworkInterfaces", items, req, "NetworkInterfaceIds")
            out = {"NetworkInterfaces": [self.eni_description(e) for e in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_subnets(self, req):
        ids = req.get("SubnetIds", [])
        with self.lock:
            for i in ids:
                if i not in self.subnets:
                    raise ApiError("InvalidSubnetID.NotFound", f"The subnet ID '{i}' does not exist")
            items = [self.subnets[i] for i in ids] if ids else list(self.subnets.values())
            items = self._filter(items, req.get("Filters"), lambda s: {
                "tags": s.tags, "subnet-id": [s.id], "vpc-id": [self.vpc["id"]], "availability-zone": [s.az],
                "cidr-block": [str(s.cidr)], "state": ["available"],
                "available-ip-address-count": [s.free_count()]})
            page, token = self._paginate("DescribeSubnets", items, req, "SubnetIds")
            out = {"Subnets": [s.describe() for s in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_instance_types(self, req):
        names = req.get("InstanceTypes") or sorted(INSTANCE_TYPES)
        for name in names:
            if name not in INSTANCE_TYPES:
                raise ApiError("InvalidInstanceType", f"The following supplied instance types do not exist: [{name}]")
        items = self._filter(names, req.get("Filters"), lambda n: {
            "tags": {}, "instance-type": [n], "hypervisor": [INSTANCE_TYPES[n][2]],
            "network-info.maximum-network-interfaces": [INSTANCE_TYPES[n][0]],
            "network-info.ipv4-addresses-per-interface": [INSTANCE_TYPES[n][1]]})
        page, token = self._paginate("DescribeInstanceTypes", items, req, "InstanceTypes")
        out = {"InstanceTypes": [{
            "InstanceType": n, "CurrentGeneration": True, "Hypervisor": INSTANCE_TYPES[n][2],
            "NetworkInfo": {"MaximumNetworkInterfaces": INSTANCE_TYPES[n][0], "MaximumNetworkCards": 1,
                            "DefaultNetworkCardIndex": 0,
                            "NetworkCards": [{"NetworkCardIndex": 0,
                                              "MaximumNetworkInterfaces": INSTANCE_TYPES[n][0]}],
                            "Ipv4AddressesPerInterface": INSTANCE_TYPES[n][1],
                            "Ipv6AddressesPerInterface": INSTANCE_TYPES[n][1], "Ipv6Supported": True,
                            "EnaSupport": "required"}} for n in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_instances(self, req):
        ids = req.get("InstanceIds", [])
        with self.lock:
            items = [self._instance(i) for i in ids] if ids else list(self.instances.values())
            items = self._filter(items, req.get("Filters"), lambda i: {
                "tags": {}, "instance-id": [i["id"]], "instance-type": [i["type"]], "subnet-id": [i["subnet"]],
                "vpc-id": [self.vpc["id"]], "private-ip-address": [i["primary_ip"]],
                "instance-state-name": ["running"], "availability-zone": [self.subnets[i["subnet"]].az],
                "network-interface.network-interface-id": [e.id for e in self._attached(i["id"])]})
            page, token = self._paginate("DescribeInstances", items, req, "InstanceIds")
            out = {"Reservations": [{"ReservationId": "r-" + i["id"][2:], "OwnerId": OWNER_ID, "Groups": [],
                                     "Instances": [self._instance_description(i)]} for i in page]}
        if token:
            out["NextToken"] = token
        return out

    def _instance_description(self, i):
        enis = []
        for e in self._attached(i["id"]):
            d = self.eni_description(e)
            a = d.pop("Attachment")
            for key in ("AvailabilityZone", "RequesterManaged", "TagSet"):
                d.pop(key)
            d["Attachment"] = {k: a[k] for k in ("AttachTime", "AttachmentId", "DeleteOnTermination",
                                                 "DeviceIndex", "Status", "NetworkCardIndex")}
            enis.append(d)
        return {"InstanceId": i["id"], "InstanceType": i["type"], "ImageId": "ami-0123456789abcdef0",
                "LaunchTime": i["launch_time"], "Placement": {"AvailabilityZone": self.subnets[i["subnet"]].az,
                                                              "Tenancy": "default"},
                "PrivateIpAddress": i["primary_ip"], "PrivateDnsName": self._dns(i["primary_ip"]),
                "SubnetId": i["subnet"], "VpcId": self.vpc["id"], "State": {"Code": 16, "Name": "running"},
                "Hypervisor": INSTANCE_TYPES[i["type"]][2], "Architecture": "x86_64",
                "SecurityGroups": [{"GroupId": g, "GroupName": self.groups[g]} for g in i["security_groups"]],
                "NetworkInterfaces": enis, "SourceDestCheck": True}

    # ---- mutations ----
    def create_network_interface(self, req):
        with self.lock:
            token = req.get("ClientToken")
            if token:
                for e in self.enis.values():
                    if e.client_token and e.client_token[0] == token:
                        if e.client_token[1] != req:
                            raise ApiError("IdempotentParameterMismatch", "The client token you have provided is "
                                           "associated with a resource that has different parameters")
                        return {"NetworkInterface": self.eni_description(e), "ClientToken": token}
            subnet_id = req["SubnetId"]
            if subnet_id not in self.subnets:
                raise ApiError("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")
            subnet = self.subnets[subnet_id]
            for g in req.get("Groups", []):
                if g not in self.groups:
                    raise ApiError("InvalidGroup.NotFound", f"The security group '{g}' does not exist in VPC "
                                   f"'{self.vpc['id']}'")
            tags = {}
            for spec in req.get("TagSpecifications", []):
                if spec.get("ResourceType") != "network-interface":
                    raise ApiError("InvalidParameterValue", f"'{spec.get('ResourceType')}' is not a valid "
                                   "taggable resource type for this operation.")
                for tag in spec.get("Tags", []):
                    tags[tag["Key"]] = tag.get("Value", "")
            extra = req.get("SecondaryPrivateIpAddressCount", 0)
            if subnet.free_count() < 1 + extra:
                raise ApiError("InsufficientFreeAddressesInSubnet", f"The specified subnet {subnet.id} does not "
                               "have enough free addresses to satisfy the request.")
            eni = Eni(new_id("eni"), subnet, req.get("Groups") or [sorted(self.groups)[0]],
                      req.get("Description", ""), tags)
            eni.private_ips.append(subnet.allocate_ip(req.get("PrivateIpAddress")))
            for _ in range(extra):
                eni.private_ips.append(subnet.allocate_ip())
            if token:
                eni.client_token = (token, req)
            self.enis[eni.id] = eni
            out = {"NetworkInterface": self.eni_description(eni)}
            if token:
                out["ClientToken"] = token
            return out

    def attach_network_interface(self, req):
        with self.lock:
            eni = self._eni(req["NetworkInterfaceId"])
            instance = self._instance(req["InstanceId"])
            index = req["DeviceIndex"]
            if eni.attachment:
                raise ApiError("InvalidNetworkInterface.InUse", f"Interface: [{eni.id}] in use.")
            if eni.subnet.az != self.subnets[instance["subnet"]].az:
                raise ApiError("InvalidParameterValue", "The network interface and the instance must be in the "
                               "same availability zone")
            if not 1 <= index <= 31:
                raise ApiError("InvalidParameterValue", f"Invalid value '{index}' for deviceIndex")
            attached = self._attached(instance["id"])
            if len(attached) >= self._limits(instance["id"])[0]:
                raise ApiError("AttachmentLimitExceeded", f"Interface count {len(attached) + 1} exceeds the limit "
                               f"for {instance['type']}")
            if any(e.attachment["DeviceIndex"] == index for e in attached):
                raise ApiError("InvalidParameterValue", f"Instance '{instance['id']}' already has an interface "
                               f"attached at device index '{index}'.")
            return {"AttachmentId": self._attach_now(eni, instance["id"], index), "NetworkCardIndex": 0}

    def _attachment(self, attachment_id):
        for e in self.enis.values():
            if e.attachment and e.attachment["AttachmentId"] == attachment_id:
                return e
        raise ApiError("InvalidAttachmentID.NotFound", f"The attachment ID '{attachment_id}' does not exist")

    def modify_network_interface_attribute(self, req):
        with self.lock:
            eni = self._eni(req["NetworkInterfaceId"])
            changes = [k for k in ("Attachment", "Description", "Groups", "SourceDestCheck") if k in req]
            if len(changes) != 1:
                raise ApiError("InvalidParameterCombination", "Exactly one attribute may be modified per call")
            if "Attachment" in req:
                a = req["Attachment"]
                if eni.attachment is None or eni.attachment["AttachmentId"] != a.get("AttachmentId"):
                    raise ApiError("InvalidAttachmentID.NotFound",
                                   f"The attachment ID '{a.get('AttachmentId')}' does not exist")
                if "DeleteOnTermination" in a:
                    eni.attachment["DeleteOnTermination"] = a["DeleteOnTermination"]
            elif "Description" in req:
                eni.description = req["Description"].get("Value", "")
            elif "Groups" in req:
                eni.groups = list(req["Groups"])
            return {}

    def detach_network_interface(self, req):
        with self.lock:
            eni = self._attachment(req["AttachmentId"])
            if eni.attachment["DeviceIndex"] == 0:
                raise ApiError("OperationNotPermitted", "The network interface at device index 0 cannot be detached.")
            if eni.attachment["Status"] == "detaching":
                raise ApiError("IncorrectState", f"The attachment '{req['AttachmentId']}' is already detaching")
            instance_id = eni.attachment["InstanceId"]
            eni.attachment["Status"] = "detaching"
            eni.status = "detaching"
            attachment = eni.attachment

            def complete():
                if eni.attachment is not attachment:
                    return
                self._plumb("unplug", eni.id)
                eni.attachment = None
                eni.status = "available"
                self._record_imds(instance_id)
            self._after(self.attach_delay, complete)
            return {}

    def delete_network_interface(self, req):
        with self.lock:
            eni = self._eni(req["NetworkInterfaceId"])
            if eni.attachment:
                raise ApiError("InvalidNetworkInterface.InUse", f"The network interface '{eni.id}' is currently "
                               "in use.")
            for ip in eni.private_ips:
                eni.subnet.release_ip(ip)
            for prefix in eni.prefixes:
                eni.subnet.release_prefix(prefix)
            del self.enis[eni.id]
            return {}

    def assign_private_ip_addresses(self, req):
        with self.lock:
            eni = self._eni(req["NetworkInterfaceId"])
            count = req.get("SecondaryPrivateIpAddressCount")
            explicit = req.get("PrivateIpAddresses", [])
            prefix_count = req.get("Ipv4PrefixCount")
            if sum(x is not None and x != [] for x in (count, explicit, prefix_count, req.get("Ipv4Prefixes"))) != 1:
                if not any((count, explicit, prefix_count, req.get("Ipv4Prefixes"))):
                    raise ApiError("MissingParameter", "Either SecondaryPrivateIpAddressCount, PrivateIpAddress, "
                                   "Ipv4PrefixCount or Ipv4Prefix must be specified")
                raise ApiError("InvalidParameterCombination", "Specify only one of SecondaryPrivateIpAddressCount, "
                               "PrivateIpAddress, Ipv4PrefixCount and Ipv4Prefix")
            wanted = count if count is not None else len(explicit) or prefix_count or 0
            if wanted < 1:
                raise ApiError("InvalidParameterValue", f"Invalid count {wanted}: must be at least 1")
            if req.get("Ipv4Prefixes"):
                raise ApiError("InvalidParameterValue", "Explicit Ipv4Prefix values are not supported by this fake")
            limit = self._limits(eni.attachment["InstanceId"])[1] if eni.attachment else 50
            if eni.slots() + wanted > limit:
                raise ApiError("PrivateIpAddressLimitExceeded", f"Number of private addresses will exceed limit "
                               f"({limit}) for interface {eni.id}")
            if prefix_count is None and eni.subnet.free_count() < wanted:
                raise ApiError("InsufficientFreeAddressesInSubnet", f"The specified subnet {eni.subnet.id} does not "
                               "have enough free addresses to satisfy the request.")
            out = {"NetworkInterfaceId": eni.id}
            if prefix_count is not None:
                got = []
                try:
                    for _ in range(prefix_count):
                        got.append(eni.subnet.allocate_prefix())
                except ApiError:
                    for p in got:
                        eni.subnet.release_prefix(p)
                    raise
                eni.prefixes.extend(got)
                out["AssignedIpv4Prefixes"] = [{"Ipv4Prefix": p} for p in got]
                for p in got:
                    if eni.attachment and eni.attachment["Status"] == "attached":
                        self._plumb("route_prefix", eni.id, p, eni.private_ips[0])
            else:
                got = [eni.subnet.allocate_ip(ip) for ip in explicit] or \
                      [eni.subnet.allocate_ip() for _ in range(wanted)]
                eni.private_ips.extend(got)
                out["AssignedPrivateIpAddresses"] = [{"PrivateIpAddress": ip} for ip in got]
                if eni.attachment and eni.attachment["Status"] == "attached":
                    for ip in got:
                        self._plumb("route_ip", eni.id, eni.mac, ip)
            if eni.attachment:
                self._record_imds(eni.attachment["InstanceId"])
            return out

    def unassign_private_ip_addresses(self, req):
        with self.lock:
            eni = self._eni(req["NetworkInterfaceId"])
            ips, prefixes = req.get("PrivateIpAddresses", []), req.get("Ipv4Prefixes", [])
            if not ips and not prefixes:
                raise ApiError("MissingParameter", "Either PrivateIpAddress or Ipv4Prefix must be specified")
            for ip in ips:
                if ip not in eni.private_ips[1:]:
                    raise ApiError("InvalidParameterValue", f"Some of the specified addresses are not assigned to "
                                   f"interface {eni.id}" if ip != eni.private_ips[0] else
                                   f"The primary address {ip} of interface {eni.id} cannot be unassigned")
            for p in prefixes:
                if p not in eni.prefixes:
                    raise ApiError("InvalidParameterValue", f"Prefix {p} is not assigned to interface {eni.id}")
            for ip in ips:
                eni.private_ips.remove(ip)
                eni.subnet.release_ip(ip)
                self._plumb("unroute_ip", eni.id, ip)
            for p in prefixes:
                eni.prefixes.remove(p)
                eni.subnet.release_prefix(p)
                self._plumb("unroute_prefix", eni.id, p)
            if eni.attachment:
                self._record_imds(eni.attachment["InstanceId"])
            return {}

    # ---- control ----
    def fill_subnet(self, subnet_id, leave=0):
        with self.lock:
            subnet = self.subnets[subnet_id]
            n = int(subnet.cidr.network_address)
            while subnet.free_count() > leave:
                if not subnet._taken(n):
                    subnet.phantom.add(n)
                n += 1

    def free_subnet(self, subnet_id):
        with self.lock:
            self.subnets[subnet_id].phantom.clear()

    def dump(self):
        with self.lock:
            return {"vpc": self.vpc,
                    "subnets": [s.describe() for s in self.subnets.values()],
                    "instances": [{k: v for k, v in i.items()} for i in self.instances.values()],
                    "network_interfaces": [self.eni_description(e) for e in self.enis.values()]}
