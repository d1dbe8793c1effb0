"""Pseudonyms (issue 19): what is learnt from a bundle's members, how each kind is replaced,
that structured text stays parseable, and that a mapping file extends consistently."""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from pathlib import Path

import pytest

from debugtool.bundle import pseudonyms
from debugtool.bundle.pseudonyms import Pseudonyms
from debugtool.errors import BundleError, UsageError

SNAPSHOT = {
    "hostname": "web-frontend-7",
    "network": {
        "interfaces": [
            {
                "name": "eth0",
                "mac": "02:42:ac:11:00:02",
                "addresses": [
                    {"address": "172.17.0.2", "prefixlen": 16},
                    {"address": "fe80::42:acff:fe11:2", "prefixlen": 64},
                ],
            },
            {"name": "lo", "mac": "00:00:00:00:00:00", "addresses": [{"address": "127.0.0.1"}]},
        ],
        "sockets": [{"local": "172.17.0.2:8080", "remote": "10.9.8.7:51234"}],
    },
    "processes": [
        {"pid": 1, "user": "root", "uid": 0},
        {"pid": 7, "user": "alice", "uid": 1001},
        {"pid": 8, "user": "www-data", "uid": 33},
        {"pid": 9, "user": "nobody", "uid": 65534},
    ],
}
# /proc/net/route as a container shows it: 172.17.0.0/16 and the default via 172.17.0.1.
ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
)


def learnt(kinds: str = "all") -> Pseudonyms:
    mapper = Pseudonyms(pseudonyms.parse_kinds(kinds))
    mapper.learn_bundle(
        {
            "containers/docker-web-1/snapshot.json": json.dumps(SNAPSHOT).encode(),
            "containers/docker-web-1/raw/proc/net/route": ROUTE.encode(),
            "host/docker-info.json": b'{"Name": "node-3.prod.example.com"}',
        },
        host="vm",
    )
    return mapper


def test_what_is_learnt_from_a_bundle() -> None:
    mapper = learnt()
    assert set(mapper.maps["hosts"]) == {
        "vm",
        "web-frontend-7",
        "node-3.prod.example.com",
        "node-3",
    }
    assert {"172.17.0.2", "172.17.0.1", "172.17.0.0", "10.9.8.7", "fe80::42:acff:fe11:2"} <= set(
        mapper.maps["ips"]
    )
    assert "127.0.0.1" not in mapper.maps["ips"]  # loopback identifies nothing
    assert set(mapper.maps["macs"]) == {"02:42:ac:11:00:02"}
    assert set(mapper.maps["users"]) == {"alice"}  # site accounts only: not root, www-data, nobody


def test_pseudonyms_have_the_syntax_of_what_they_replace() -> None:
    mapper = learnt()
    for original, made in mapper.maps["ips"].items():
        address = ipaddress.ip_address(made)
        net = "fd00::/8" if ":" in original else "100.64.0.0/10"
        assert address in ipaddress.ip_network(net)
    mac = mapper.maps["macs"]["02:42:ac:11:00:02"]
    assert mac.startswith("02:") and len(mac.split(":")) == 6
    assert mapper.maps["hosts"]["vm"].startswith("host-")
    assert mapper.maps["users"]["alice"].startswith("user-")


def test_one_original_one_pseudonym_everywhere() -> None:
    mapper = learnt()
    ip, host = mapper.maps["ips"]["172.17.0.2"], mapper.maps["hosts"]["web-frontend-7"]
    log = "2026-12-06T10:00:00Z GET from 172.17.0.2 on web-frontend-7 (WEB-FRONTEND-7)\n"
    assert mapper.text(log) == f"2026-12-06T10:00:00Z GET from {ip} on {host} ({host})\n"
    doc = json.dumps(SNAPSHOT)
    out = json.loads(mapper.text(doc))  # JSON stays JSON, with the same keys
    assert out["hostname"] == host
    assert out["network"]["interfaces"][0]["addresses"][0]["address"] == ip
    assert out["network"]["sockets"][0]["local"] == f"{ip}:8080"
    assert out.keys() == SNAPSHOT.keys()
    assert "172.17.0.2" not in json.dumps(out) and "web-frontend-7" not in json.dumps(out)


def test_boundaries_leave_look_alikes_alone() -> None:
    mapper = learnt()
    # Not the same address, not the same name.
    text = "172.17.0.22 1172.17.0.2 172.17.0.2.5 web-frontend-70 alice2 malice"
    assert mapper.text(text) == text
    # A short host name ("vm") is not replaced inside ordinary words or dotted keys ...
    sysctl = "vm.swappiness = 60\ntotal-vm:1234kB\n/proc/sys/vm/x"
    assert mapper.text(sysctl).startswith("vm.swappiness = 60\ntotal-vm:1234kB")
    # ... but is as a word, also after a JSON escape.
    host = mapper.maps["hosts"]["vm"]
    assert (
        mapper.text('uname: Linux vm 6.18 "\\tvm\\n"') == f'uname: Linux {host} 6.18 "\\t{host}\\n"'
    )


def test_hex_forms_of_proc_net_are_replaced_too() -> None:
    mapper = learnt()
    out = mapper.text(ROUTE)
    gateway = mapper.maps["ips"]["172.17.0.1"]
    le_hex = ipaddress.IPv4Address(gateway).packed[::-1].hex().upper()
    assert f"\t{le_hex}\t" in out and "010011AC" not in out
    v6 = ipaddress.IPv6Address("fe80::42:acff:fe11:2")
    made = ipaddress.IPv6Address(mapper.maps["ips"][v6.compressed])
    assert mapper.text(v6.packed.hex()) == made.packed.hex()
    assert mapper.text(v6.exploded) == made.exploded


def test_only_the_kinds_asked_for_are_replaced() -> None:
    mapper = learnt("ips")
    assert mapper.maps["hosts"] == {} and mapper.maps["users"] == {}
    assert mapper.text("web-frontend-7 172.17.0.2").startswith("web-frontend-7 100.")


def test_a_short_id_host_name_is_left_alone() -> None:
    mapper = Pseudonyms(["hosts"])
    mapper.learn_host("4b9965b79d32")  # Docker's default host name: the container's short id
    mapper.learn_host("localhost")
    assert mapper.maps["hosts"] == {}


def test_members_and_root_are_renamed() -> None:
    mapper = learnt()
    files = mapper.members({"containers/docker-web-frontend-7-4b99/logs.txt": b"on vm\n"})
    host = mapper.maps["hosts"]["vm"]
    assert files == {
        f"containers/docker-{mapper.maps['hosts']['web-frontend-7']}-4b99/logs.txt": f"on {host}\n".encode()
    }
    root = pseudonyms.root(mapper, "debugtool-bundle-vm-20261206T093427Z")
    assert root == f"debugtool-bundle-{host}-20261206T093427Z"


def test_the_map_is_0600_and_extends_with_the_same_pseudonyms(tmp_path: Path) -> None:
    path = tmp_path / "b.map.json"
    first = learnt()
    first.save(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = Pseudonyms.load(str(path), pseudonyms.KINDS)
    assert second.maps == first.maps and second.key == first.key
    second.learn_host("db-2")
    assert second.maps["hosts"]["vm"] == first.maps["hosts"]["vm"]
    # The same key gives the same pseudonym to a name learnt later on another node.
    third = Pseudonyms.load(str(path), pseudonyms.KINDS)
    third.learn_host("db-2")
    assert third.maps["hosts"]["db-2"] == second.maps["hosts"]["db-2"]
    # A different key (another mapping) does not.
    other = Pseudonyms(pseudonyms.KINDS)
    other.learn_host("db-2")
    assert other.maps["hosts"]["db-2"] != second.maps["hosts"]["db-2"]


def test_a_file_that_is_not_a_map_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(BundleError, match="not a debugtool pseudonym map"):
        Pseudonyms.load(str(path), pseudonyms.KINDS)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.raises(BundleError):
        learnt().save(str(link))


def test_kinds_are_checked() -> None:
    assert pseudonyms.parse_kinds("all") == list(pseudonyms.KINDS)
    assert pseudonyms.parse_kinds("ip, host") == ["ips", "hosts"]
    with pytest.raises(UsageError):
        pseudonyms.parse_kinds("hosts,disks")
    with pytest.raises(UsageError):
        pseudonyms.parse_kinds("")


def test_survivors_are_found() -> None:
    mapper = learnt()
    assert mapper.survivors(b"x 10.9.8.7 y")
    assert not mapper.survivors(mapper.data(b"x 10.9.8.7 y"))
