# The Docker SDK for Python against netloomd (DOCKER_HOST), driven by test/priv/compat.test.ts.
# Each check prints "ok <what>"; the first failure raises (traceback, non-zero exit). Statuses and
# exception classes are what Docker 20.10 gives for the same calls (docker.errors: NotFound for
# 404, APIError otherwise; status_code on both).
import os
import time

import docker
from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool

SANDBOX = os.environ["NL_SANDBOX"]  # a sandbox the test made, on no network
c = docker.from_env()


def ok(what):
    print(f"ok {what}", flush=True)


def refused(fn, cls, status, text=None):
    try:
        fn()
    except cls as e:
        assert e.status_code == status, (e.status_code, str(e))
        if text is not None:
            assert text in str(e.explanation), (text, e.explanation)
        return e
    raise AssertionError(f"no {cls.__name__} {status}")


def names(**kw):
    return sorted(n.name for n in c.networks.list(**kw))


assert c.ping() is True
v = c.version()
assert v["ApiVersion"] == "1.41" and v["Version"], v
info = c.info()
assert "bridge" in info["Plugins"]["Network"] and info["Swarm"]["LocalNodeState"] == "inactive", info
ok("ping, version, info")

t0 = time.time() - 1
ipam = IPAMConfig(
    driver="default",
    pool_configs=[
        IPAMPool(subnet="10.71.0.0/24", iprange="10.71.0.128/25", gateway="10.71.0.254", aux_addresses={"r": "10.71.0.5"}),
        IPAMPool(subnet="fd71::/64", gateway="fd71::1"),
    ],
    options={"x": "y"},
)
opts = {
    "com.docker.network.bridge.name": "nlsdk1",
    "com.docker.network.driver.mtu": "1400",
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1",
    "com.docker.network.bridge.inhibit_ipv4": "false",
    "com.docker.network.container_iface_prefix": "sdk",
    "com.example.unknown": "kept",
}
n = c.networks.create("sdk one", driver="bridge", ipam=ipam, options=opts, labels={"team": "a"}, enable_ipv6=True, attachable=True, scope="local")
a = n.attrs
assert a["Name"] == "sdk one" and a["Options"] == opts and a["Labels"] == {"team": "a"} and a["EnableIPv6"] and a["Attachable"], a
assert a["IPAM"] == {
    "Driver": "default",
    "Options": {"x": "y"},
    "Config": [
        {"Subnet": "10.71.0.0/24", "IPRange": "10.71.0.128/25", "Gateway": "10.71.0.254", "AuxiliaryAddresses": {"r": "10.71.0.5"}},
        {"Subnet": "fd71::/64", "Gateway": "fd71::1"},
    ],
}, a["IPAM"]
ok("create with every IPAM and driver option, a name with a space")

plain = c.networks.create("sdk2", labels={"team": "b"}, ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="10.72.0.0/24")]))
assert plain.attrs["IPAM"] == {"Driver": "default", "Options": None, "Config": [{"Subnet": "10.72.0.0/24"}]}, plain.attrs["IPAM"]
keep = c.networks.create("sdk3", labels={"keep": "1"})
assert keep.attrs["IPAM"]["Options"] is None and set(keep.attrs["IPAM"]["Config"][0]) == {"Subnet", "Gateway"}, keep.attrs["IPAM"]
ok("IPAM view: Options null when none given, Gateway only when given or chosen")

assert c.networks.get("sdk one").id == n.id
assert c.networks.get(n.id[:12]).name == "sdk one"
n.reload()
assert n.attrs["Id"] == n.id
e = refused(lambda: c.networks.get("nosuch"), NotFound, 404, "network nosuch not found")
ok("get by name and ID prefix, reload, NotFound")

refused(lambda: c.networks.create("sdk2"), APIError, 409, "already exists")
refused(lambda: c.networks.create("overlap", ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="10.71.0.0/16")])), APIError, 403)
e = refused(lambda: c.networks.create("badsub", ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="10.94.999.0/24")])), APIError, 500)
assert e.is_server_error()
refused(lambda: c.networks.create("sw", scope="swarm"), APIError, 403, "swarm")
refused(lambda: c.networks.create("bad", options={"com.docker.network.driver.mtu": "abc"}), APIError, 400, '"abc"')
refused(lambda: c.networks.get("bridge").remove(), APIError, 403, "pre-defined")
ok("create and remove refusals: 409, 403, 500, 400 as Docker")

n.connect(SANDBOX)
refused(lambda: n.connect(SANDBOX), APIError, 403, "already exists")
refused(lambda: n.remove(), APIError, 403, "active endpoints")
refused(lambda: n.disconnect("ghost"), NotFound, 404)
n.reload()
assert [x["Name"] for x in n.attrs["Containers"].values()] == [SANDBOX], n.attrs["Containers"]
ok("connect, connect twice 403, remove in use 403, disconnect unknown 404")

assert names(names=["sdk"]) == ["sdk one", "sdk2", "sdk3"]
assert names(names=["^sdk[23]$"]) == ["sdk2", "sdk3"]
assert names(ids=[n.id[:6]]) == ["sdk one"]
assert "sdk2" in names(filters={"driver": "bridge"}) and names(filters={"driver": "host"}) == ["host"]
assert names(filters={"label": "team=b"}) == ["sdk2"]
assert names(filters={"label": "team"}) == ["sdk one", "sdk2"]
assert len(names(filters={"scope": "local"})) == len(names())
assert names(filters={"type": "builtin"}) == ["bridge", "host", "none"]
assert names(filters={"type": "custom"}) == ["sdk one", "sdk2", "sdk3"]
assert names(filters={"dangling": True}) == ["sdk2", "sdk3"]
assert "sdk one" in names(filters={"dangling": False})
refused(lambda: c.networks.list(filters={"lable": "x"}), APIError, 400, "Invalid filter 'lable'")
refused(lambda: c.networks.list(filters={"type": "other"}), APIError, 500, "invalid filter: 'type'='other'")
ok("list with every filter, Docker's errors for bad ones")

before = names()
refused(lambda: c.networks.prune(filters={"lable": "keep"}), APIError, 400, "Invalid filter 'lable'")
refused(lambda: c.networks.prune(filters={"until": "1d"}), APIError, 500, 'failed to parse value as time or duration: "1d"')
assert names() == before
assert c.networks.prune(filters={"until": "24h"}) == {"NetworksDeleted": None}
assert c.networks.prune(filters={"until": "2000-01-01T00:00:00Z"}) == {"NetworksDeleted": None}
assert c.networks.prune(filters={"label": "team=b"}) == {"NetworksDeleted": ["sdk2"]}
assert c.networks.prune(filters={"label!": "keep"}) == {"NetworksDeleted": None}  # sdk one is in use
assert names() == sorted(set(before) - {"sdk2"})
ok("prune: a bad filter deletes nothing; until, label, label! as Docker")

n.disconnect(SANDBOX)
n.remove()
refused(lambda: n.reload(), NotFound, 404)
assert c.networks.prune(filters={"until": str(int(time.time()) + 60)}) == {"NetworksDeleted": ["sdk3"]}
ok("disconnect, remove, prune until a unix timestamp")

events = list(c.events(since=t0, until=time.time() + 0.5, filters={"type": "network"}, decode=True))
acts = [(ev["Action"], ev["Actor"]["Attributes"]["name"]) for ev in events]
for want in [("create", "sdk one"), ("connect", "sdk one"), ("disconnect", "sdk one"), ("destroy", "sdk one"), ("destroy", "sdk2")]:
    assert want in acts, (want, acts)
assert all(ev["Type"] == "network" and ev["scope"] == "local" for ev in events)
ok("events: network create, connect, disconnect, destroy")

refused(lambda: c.swarm.leave(), APIError, 503, "This node is not part of a swarm")
assert c.swarm.leave(force=True) is True  # the SDK reads a 503 on a forced leave as "left" (its teardown)
refused(lambda: c.containers.list(), NotFound, 404, "netloom serves Docker's network API only")
ok("swarm leave 503, containers 404")
