"""The VPC fabric's plumbing: ENIs as veths between the fabric netns and a node netns.

Runs inside the fabric netns (the fake EC2 process is started there with nsenter), so plain `ip`
commands act on the fabric; `ip -n NODE` on a node. An attached ENI is a veth: the node end is
`eth<device index>` with the ENI's MAC, the fabric end `e<12 hex of the ENI id>`. Every private IP
of the ENI is a /32 route on the fabric end plus a permanent neighbour entry to the ENI's MAC
(the VPC delivers to the ENI without ARP, as AWS does: pods behind a node never answer ARP);
a delegated /28 prefix is routed via the ENI's primary IP. The fabric end answers ARP for the
gateway and for other nodes (proxy_arp), so nodes reach each other and the gateway through it.
"""
import subprocess

MTU = 9001  # what EC2 gives an ENI


def run(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def fabric_end(eni_id):
    return "e" + eni_id.split("-", 1)[1][-12:]


def plug(eni_id, mac, node_netns, device_index):
    """Creates the ENI's veth; the node end stays down without addresses (vpcrid configures it)."""
    fab = fabric_end(eni_id)
    run("link", "add", fab, "mtu", str(MTU), "type", "veth", "peer", "name", f"eth{device_index}",
        "address", mac, "mtu", str(MTU), "netns", node_netns)
    with open(f"/proc/sys/net/ipv4/conf/{fab}/proxy_arp", "w") as f:
        f.write("1")
    run("link", "set", fab, "up")


def configure_primary(node_netns, ip, prefix_len, gateway):
    """What the instance's OS does at boot for the primary ENI: eth0 up with its address and the default route."""
    run("-n", node_netns, "link", "set", "lo", "up")
    run("-n", node_netns, "addr", "add", f"{ip}/{prefix_len}", "dev", "eth0")
    run("-n", node_netns, "link", "set", "eth0", "up")
    run("-n", node_netns, "route", "add", "default", "via", gateway, "dev", "eth0")


def unplug(eni_id):
    # Deleting one end deletes the pair, and with it the routes and neighbours of the fabric end.
    run("link", "del", fabric_end(eni_id), check=False)


def route_ip(eni_id, mac, ip):
    fab = fabric_end(eni_id)
    run("route", "replace", f"{ip}/32", "dev", fab)
    run("neigh", "replace", ip, "lladdr", mac, "dev", fab, "nud", "permanent")


def unroute_ip(eni_id, ip):
    fab = fabric_end(eni_id)
    run("route", "del", f"{ip}/32", "dev", fab, check=False)
    run("neigh", "del", ip, "dev", fab, check=False)


def route_prefix(eni_id, prefix, via):
    run("route", "replace", prefix, "via", via, "dev", fabric_end(eni_id), "onlink")


def unroute_prefix(eni_id, prefix):
    run("route", "del", prefix, "dev", fabric_end(eni_id), check=False)
