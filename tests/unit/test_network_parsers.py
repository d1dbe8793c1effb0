"""Network parsers on captured text and netlink replies (tests/fixtures/net/).

``docker/`` was captured from a Docker busybox container (httpd on 127.0.0.1:8080, an nc pair,
syslogd's /dev/log); ``sandbox/`` from a private network namespace with IPv6, v4-mapped, UDP,
raw and UNIX sockets (a path with spaces, abstract names); ``handmade/`` holds awkward and
broken lines. ``capture.py`` beside them recaptures the first two.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path

import pytest

from debugtool import netlink as nl
from debugtool import render
from debugtool.collect import network
from debugtool.commands import net as net_command
from debugtool.model import from_dict, to_dict
from debugtool.snapshot import DNSConfig, Network, Socket

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "net"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- rtnetlink ----------------------------------------------------------------------------------


def test_links_of_a_docker_container() -> None:
    links = {link.name: link for link in nl.parse_links(raw("docker/links.nl"))}
    assert set(links) == {"lo", "eth0"}
    eth0 = links["eth0"]
    assert (eth0.kind, eth0.operstate, eth0.mtu) == ("veth", "UP", 1500)
    assert eth0.mac == "02:42:ac:11:00:04"
    assert eth0.link == 27  # the host side of the veth pair, in the host's namespace
    assert eth0.stats["rx_packets"] == 9 and eth0.stats["rx_bytes"] == 726
    lo = links["lo"]
    assert (lo.kind, lo.operstate, lo.mtu, lo.index) == ("loopback", "UNKNOWN", 65536, 1)
    assert lo.stats["tx_bytes"] == 172


def test_veth_pair_links_point_at_each_other() -> None:
    links = {link.name: link for link in nl.parse_links(raw("sandbox/links.nl"))}
    assert links["dt0"].link == links["dt1"].index
    assert links["dt1"].link == links["dt0"].index
    assert links["dt0"].stats["tx_bytes"] == links["dt1"].stats["rx_bytes"] == 110


def test_addresses_v4_and_v6() -> None:
    addrs = nl.parse_addresses(raw("sandbox/addrs.nl"))
    found = {(a.family, a.address, a.prefixlen, a.scope) for a in addrs}
    assert ("inet", "192.0.2.1", 24, "global") in found
    assert ("inet6", "2001:db8::1", 64, "global") in found
    assert ("inet6", "::1", 128, "host") in found
    assert ("inet", "127.0.0.1", 8, "host") in found
    assert any(a.family == "inet6" and a.address.startswith("fe80::") for a in addrs)
    assert [a.label for a in addrs if a.address == "192.0.2.1"] == ["dt0"]


def test_routes_default_gateway_metric_and_tables() -> None:
    routes = nl.parse_routes(raw("sandbox/routes.nl"))
    main = [r for r in routes if r.table == "main"]
    default4 = next(r for r in main if r.family == "inet" and r.destination == "default")
    assert (default4.gateway, default4.oif, default4.metric) == ("192.0.2.254", 3, 0)
    via = next(r for r in main if r.destination == "198.51.100.0/24")
    assert (via.gateway, via.metric, via.protocol) == ("192.0.2.254", 50, "boot")
    connected = next(r for r in main if r.destination == "192.0.2.0/24")
    assert (connected.scope, connected.protocol, connected.prefsrc) == (
        "link",
        "kernel",
        "192.0.2.1",
    )
    default6 = next(r for r in main if r.family == "inet6" and r.destination == "default")
    assert (default6.gateway, default6.metric) == ("2001:db8::fe", 1024)
    local = [r for r in routes if r.table == "local"]
    assert {r.type for r in local} >= {"local", "broadcast", "multicast"}


def test_docker_routes() -> None:
    routes = nl.parse_routes(raw("docker/routes.nl"))
    default = next(r for r in routes if r.destination == "default")
    assert (default.gateway, default.table) == ("172.17.0.1", "main")
    assert any(r.destination == "172.17.0.0/16" and r.prefsrc == "172.17.0.4" for r in routes)


def test_interfaces_join_links_and_addresses() -> None:
    ifaces = network.interfaces_from_netlink(
        nl.parse_links(raw("docker/links.nl")), nl.parse_addresses(raw("docker/addrs.nl"))
    )
    assert [i.name for i in ifaces] == ["lo", "eth0"]
    eth0 = ifaces[1]
    assert [(a.address, a.prefixlen) for a in eth0.addresses] == [("172.17.0.4", 16)]
    assert (eth0.rx_bytes, eth0.rx_packets, eth0.tx_packets) == (726, 9, 0)
    routes = network.routes_from_netlink(
        nl.parse_routes(raw("docker/routes.nl")), {i.index: i.name for i in ifaces}
    )
    assert {r.interface for r in routes} == {"lo", "eth0"}


# --- sock_diag ----------------------------------------------------------------------------------


def test_inet_diag_docker_listener_and_v4_mapped_peer() -> None:
    tcp = nl.parse_inet_diag(raw("docker/tcp.nl"), "tcp")
    listener = next(s for s in tcp if s.state == "LISTEN")
    # for a listener the kernel reports the accept backlog (httpd's 9) as the send queue
    assert (listener.protocol, listener.uid, listener.rx_queue, listener.tx_queue) == (
        "tcp",
        0,
        0,
        9,
    )
    assert (listener.remote_address, listener.remote_port, listener.path) == ("0.0.0.0", 0, "")
    assert (listener.local_address, listener.local_port, listener.inode) == (
        "127.0.0.1",
        8080,
        21320,
    )
    tcp6 = nl.parse_inet_diag(raw("docker/tcp6.nl"), "tcp6")
    assert len(tcp6) == 1
    assert tcp6[0].local_address == "::ffff:127.0.0.1"
    assert (tcp6[0].local_port, tcp6[0].remote_port, tcp6[0].state) == (9000, 36886, "ESTABLISHED")
    assert nl.parse_inet_diag(raw("docker/udp.nl"), "udp") == []


def test_inet_diag_v6_and_udp() -> None:
    tcp6 = nl.parse_inet_diag(raw("sandbox/tcp6.nl"), "tcp6")
    listeners = {(s.local_address, s.local_port) for s in tcp6 if s.state == "LISTEN"}
    assert listeners == {("::", 9000), ("::1", 8443)}
    pair = {(s.local_port, s.remote_port) for s in tcp6 if s.state == "ESTABLISHED"}
    client = next(p for p in pair if p[1] == 8443)
    assert (8443, client[0]) in pair  # both ends of the ::1 connection
    udp = {s.state: s for s in nl.parse_inet_diag(raw("sandbox/udp.nl"), "udp")}
    assert (udp["UNCONN"].local_address, udp["UNCONN"].local_port) == ("0.0.0.0", 5353)
    assert udp["ESTABLISHED"].remote_port == 5353
    (udp6,) = nl.parse_inet_diag(raw("sandbox/udp6.nl"), "udp6")
    assert (udp6.local_address, udp6.local_port, udp6.state) == ("::1", 5300, "UNCONN")


def test_unix_diag_paths_abstract_and_peers() -> None:
    socks = nl.parse_unix_diag(raw("sandbox/unix.nl"))
    by_inode = {s.inode: s for s in socks}
    listener = by_inode[24111]
    assert (listener.path, listener.state, listener.socket_type) == (
        "/tmp/dt net fixture/api sock",
        "LISTEN",
        "stream",
    )
    assert by_inode[24114].path == "@dt-abstract"
    assert (by_inode[24115].path, by_inode[24115].socket_type) == ("@dt dgram@x", "dgram")
    assert by_inode[24115].state == "UNCONN"
    # socketpair(): no names, each the other's peer
    assert by_inode[24116].peer_inode == 24117 and by_inode[24117].peer_inode == 24116
    assert by_inode[24116].path == ""
    (docker,) = nl.parse_unix_diag(raw("docker/unix.nl"))
    assert (docker.path, docker.socket_type, docker.state) == ("/dev/log", "dgram", "UNCONN")


def test_netlink_and_proc_agree() -> None:
    """The two sources of the socket table must describe the same sockets."""
    for name in ("tcp", "tcp6", "udp", "udp6"):
        from_nl = {
            (s.state, s.local_address, s.local_port, s.remote_address, s.remote_port, s.inode)
            for s in nl.parse_inet_diag(raw(f"sandbox/{name}.nl"), name)
        }
        from_proc = {
            (s.state, s.local_address, s.local_port, s.remote_address, s.remote_port, s.inode)
            for s in network.parse_proc_inet(text(f"sandbox/{name}"), name)
        }
        assert from_nl == from_proc, name
    unix_nl = {(s.inode, s.path, s.state) for s in nl.parse_unix_diag(raw("sandbox/unix.nl"))}
    unix_proc = {(s.inode, s.path, s.state) for s in network.parse_proc_unix(text("sandbox/unix"))}
    assert unix_nl == unix_proc


def _nlmsg(mtype: int, payload: bytes, seq: int = 1) -> bytes:
    length = 16 + len(payload)
    pad = b"\0" * (((length + 3) & ~3) - length)
    return struct.pack("=IHHII", length, mtype, nl.NLM_F_MULTI, seq, 0) + payload + pad


def test_error_reply_raises_netlink_error_with_errno() -> None:
    reply = _nlmsg(nl.NLMSG_ERROR, struct.pack("=i", -2) + bytes(16))
    with pytest.raises(nl.NetlinkError) as err:
        nl.parse_inet_diag(reply, "raw")
    assert err.value.errno == 2
    assert "No such file or directory" in str(err.value)
    assert nl.is_unsupported(err.value)
    with pytest.raises(nl.NetlinkError):  # followed by sockets: still an error
        nl.parse_inet_diag(reply + raw("docker/tcp.nl"), "tcp")


def test_dump_end_detection_and_failed_dump() -> None:
    body = raw("docker/tcp.nl")
    done, kept = nl._until_done(body + _nlmsg(nl.NLMSG_DONE, struct.pack("=i", 0)), 1)
    assert done and kept == body
    done, kept = nl._until_done(body, 1)
    assert not done and kept == body
    assert nl._until_done(_nlmsg(nl.NLMSG_DONE, struct.pack("=i", 0)), 1) == (True, b"")
    # A message whose last bytes merely look like a DONE of this dump does not end it.
    lookalike = _nlmsg(nl.SOCK_DIAG_BY_FAMILY, bytes(72) + _nlmsg(nl.NLMSG_DONE, bytes(4)))
    assert nl._until_done(body + lookalike, 1) == (False, body + lookalike)
    assert nl._until_done(body + _nlmsg(nl.NLMSG_DONE, bytes(4), seq=2), 1)[0] is False
    with pytest.raises(nl.NetlinkError) as err:
        nl._until_done(_nlmsg(nl.NLMSG_DONE, struct.pack("=i", -16)), 1)
    assert err.value.errno == 16
    with pytest.raises(nl.NetlinkError) as err:
        nl._until_done(_nlmsg(nl.NLMSG_ERROR, struct.pack("=i", -95) + bytes(16)), 1)
    assert err.value.errno == 95 and nl.is_unsupported(err.value)


def test_truncated_reply_is_not_misread() -> None:
    body = raw("docker/tcp.nl")
    # A cut-off last message is ignored rather than parsed from garbage.
    assert len(nl.parse_inet_diag(body[:-10], "tcp")) == len(nl.parse_inet_diag(body, "tcp")) - 1


def test_requests_have_the_kernel_layouts() -> None:
    assert len(nl.inet_request(socket.AF_INET, socket.IPPROTO_TCP)) == 56  # inet_diag_req_v2
    assert len(nl.unix_request()) == 24  # unix_diag_req
    assert len(nl.link_request()) == 16 and len(nl.addr_request()) == 8
    assert len(nl.route_request()) == 12


def test_format_ip() -> None:
    mapped = b"\0" * 10 + b"\xff\xff" + bytes([10, 1, 2, 3])
    assert nl.format_ip(socket.AF_INET6, mapped) == "::ffff:10.1.2.3"
    assert nl.format_ip(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "2001:db8::1")) == (
        "2001:db8::1"
    )
    assert nl.format_ip(socket.AF_INET, bytes([192, 0, 2, 1]) + bytes(12)) == "192.0.2.1"
    assert nl.unix_path(b"\0name\0with\0nul") == "@name@with@nul"
    assert nl.unix_path(b"/run/a b.sock\0") == "/run/a b.sock"


# --- /proc/PID/net text -------------------------------------------------------------------------


def test_proc_tcp_docker() -> None:
    socks = network.parse_proc_inet(text("docker/tcp"), "tcp")
    assert [(s.state, s.local_address, s.local_port, s.inode) for s in socks] == [
        ("LISTEN", "127.0.0.1", 8080, 21320),
        ("ESTABLISHED", "127.0.0.1", 36886, 21808),
    ]
    assert socks[1].remote_port == 9000
    (mapped,) = network.parse_proc_inet(text("docker/tcp6"), "tcp6")
    assert (mapped.local_address, mapped.remote_address) == ("::ffff:127.0.0.1", "::ffff:127.0.0.1")


def test_proc_raw_ports_are_protocols() -> None:
    (icmp,) = network.parse_proc_inet(text("sandbox/raw"), "raw")
    assert (icmp.local_port, icmp.state, icmp.inode) == (1, "UNCONN", 24109)
    (icmp6,) = network.parse_proc_inet(text("sandbox/raw6"), "raw6")
    assert (icmp6.local_address, icmp6.local_port) == ("::", 58)


def test_proc_tcp_awkward_lines() -> None:
    socks = network.parse_proc_inet(text("handmade/tcp"), "tcp")
    # the bad port and the short line are skipped, the rest parse
    assert [s.inode for s in socks] == [41000, 0, 41002]
    assert socks[0].uid == 1000
    tw = socks[1]
    assert (tw.state, tw.remote_address, tw.remote_port) == ("TIME_WAIT", "192.0.2.1", 50000)
    queued = socks[2]
    assert (queued.tx_queue, queued.rx_queue, queued.uid) == (42, 16, 65534)


def test_proc_unix_sandbox() -> None:
    socks = {s.inode: s for s in network.parse_proc_unix(text("sandbox/unix"))}
    assert socks[24111].path == "/tmp/dt net fixture/api sock"
    assert socks[24111].state == "LISTEN"
    assert socks[24114].path == "@dt-abstract"
    assert socks[24115].path == "@dt dgram@x"
    assert socks[24116].path == "" and socks[24116].state == "ESTABLISHED"


def test_proc_unix_awkward_lines() -> None:
    socks = network.parse_proc_unix(text("handmade/unix"))
    assert [(s.inode, s.path, s.state, s.socket_type) for s in socks] == [
        (31001, "/run/two  spaces/seq packet", "LISTEN", "seqpacket"),
        (31002, "", "SYN_SENT", "stream"),
        (31003, "@dt@with@nul", "LISTEN", "stream"),
        (31004, "/tmp/trailing space ", "UNCONN", "dgram"),
    ]


def test_proc_dev() -> None:
    ifaces = {i.name: i for i in network.parse_proc_dev(text("docker/dev"))}
    assert set(ifaces) == {"lo", "eth0"}
    sandbox = {i.name: i for i in network.parse_proc_dev(text("sandbox/dev"))}
    assert (sandbox["dt0"].rx_bytes, sandbox["dt0"].rx_packets) == (180, 2)
    assert (sandbox["dt0"].tx_bytes, sandbox["dt0"].tx_packets) == (110, 1)
    assert sandbox["dt0"].rx_errors == 0 and sandbox["dt0"].tx_dropped == 0


# --- DNS ----------------------------------------------------------------------------------------


def test_resolv_conf_docker() -> None:
    dns = network.parse_resolv_conf(text("docker/resolv.conf"))
    assert dns.nameservers and all(ns.count(".") == 3 for ns in dns.nameservers)
    assert dns.resolv_conf == text("docker/resolv.conf")


def test_resolv_conf_awkward() -> None:
    dns = network.parse_resolv_conf(text("handmade/resolv.conf"))
    assert dns.nameservers == ["10.96.0.10", "2001:db8::53"]  # the bare "nameserver" is skipped
    assert dns.search == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert dns.options == ["ndots:5", "timeout:1", "attempts:2"]


def test_resolv_conf_empty() -> None:
    dns = network.parse_resolv_conf("")
    assert (dns.nameservers, dns.search, dns.options) == ([], [], [])


# --- owners, ordering, JSON, rendering ----------------------------------------------------------


def test_attribute_and_sort() -> None:
    socks = network.parse_proc_inet(text("docker/tcp"), "tcp") + network.parse_proc_unix(
        text("docker/unix")
    )
    owners = {
        21320: [(11623, 7, "httpd")],
        21800: [(11700, 9, "syslogd"), (11624, 8, "syslogd")],
        21808: [(5000, None, "nsenter-shell")],  # a holder outside the container's PID ns
    }
    network.attribute(socks, owners)
    by_inode = {s.inode: s for s in socks}
    assert (by_inode[21320].pids, by_inode[21320].nspids, by_inode[21320].process) == (
        [11623],
        [7],
        "httpd",
    )
    assert by_inode[21800].pids == [11624, 11700] and by_inode[21800].nspids == [8, 9]
    assert by_inode[21808].pids == [5000] and by_inode[21808].nspids == []
    mixed = [by_inode[21800], by_inode[21808], by_inode[21320]]
    assert [s.inode for s in sorted(mixed, key=network.sort_key)] == [21320, 21808, 21800]


def test_network_json_round_trip() -> None:
    ifaces = network.interfaces_from_netlink(
        nl.parse_links(raw("sandbox/links.nl")), nl.parse_addresses(raw("sandbox/addrs.nl"))
    )
    net = Network(
        interfaces=ifaces,
        routes=network.routes_from_netlink(nl.parse_routes(raw("sandbox/routes.nl")), {}),
        sockets=nl.parse_unix_diag(raw("sandbox/unix.nl")),
        dns=network.parse_resolv_conf(text("handmade/resolv.conf")),
        warnings=["a warning"],
    )
    again = from_dict(Network, json.loads(json.dumps(to_dict(net))))
    assert again == net


def test_endpoint_rendering() -> None:
    assert render.endpoint("127.0.0.1", 8080, "tcp") == "127.0.0.1:8080"
    assert render.endpoint("::1", 8443, "tcp6") == "[::1]:8443"
    assert render.endpoint("0.0.0.0", 0, "tcp") == "*:*"
    assert render.endpoint("::ffff:127.0.0.1", 9000, "tcp6") == "[::ffff:127.0.0.1]:9000"


def test_socket_rows_show_unix_peers_and_holders() -> None:
    a = Socket("unix", "ESTABLISHED", path="/run/app.sock", inode=1, peer_inode=2,
               socket_type="stream", pids=[100], nspids=[1], process="app")  # fmt: skip
    b = Socket("unix", "ESTABLISHED", inode=2, peer_inode=1, socket_type="stream",
               pids=[200, 201], nspids=[5, 6], process="client")  # fmt: skip
    rows = render.socket_rows([a, b])
    assert rows[0] == [
        "unix/stream",
        "ESTABLISHED",
        "/run/app.sock",
        "* (client)",
        "1",
        "100",
        "app",
    ]
    assert rows[1][3] == "/run/app.sock (app)"
    assert rows[1][4:] == ["5,6", "200,201", "client (+1)"]
    orphan = Socket("tcp", "TIME_WAIT", "127.0.0.1", 1, "127.0.0.1", 2)
    assert render.socket_rows([orphan])[0][4:] == ["-", "-", "-"]


def test_write_json_equals_to_dict() -> None:
    import io

    net = Network(
        interfaces=network.interfaces_from_netlink(
            nl.parse_links(raw("docker/links.nl")), nl.parse_addresses(raw("docker/addrs.nl"))
        ),
        routes=network.routes_from_netlink(nl.parse_routes(raw("docker/routes.nl")), {}),
        sockets=nl.parse_inet_diag(raw("sandbox/tcp6.nl"), "tcp6")
        + nl.parse_unix_diag(raw("sandbox/unix.nl")),
        dns=network.parse_resolv_conf(text("handmade/resolv.conf")),
    )
    net.sockets[0].pids, net.sockets[0].nspids = [100, 101], [1, 2]
    out = io.StringIO()
    net_command.write_json(net, stream=out)
    assert json.loads(out.getvalue()) == to_dict(net)
    assert list(json.loads(out.getvalue())) == [
        "interfaces",
        "routes",
        "sockets",
        "dns",
        "ports",
        "warnings",
    ]
    # one socket per line
    assert out.getvalue().count('{"protocol": ') == len(net.sockets)
    only = io.StringIO()
    net_command.write_json(net, sockets_only=True, stream=only)
    assert json.loads(only.getvalue()) == {"sockets": to_dict(net.sockets)}
    empty = io.StringIO()
    net_command.write_json(Network(), stream=empty)
    assert json.loads(empty.getvalue()) == to_dict(Network())


# --- the /proc fallback and the owner scan, on this test process's own namespace ---------------


class _Self:
    """Just enough of a Target for the readers: this process, in the host's namespaces."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.namespaces = {
            "net": os.stat("/proc/self/ns/net").st_ino,
            "pid": os.stat("/proc/self/ns/pid").st_ino,
        }


def test_proc_fallback_and_owners_find_our_own_sockets() -> None:
    """Without netlink (``diag=None``) the /proc tables are read; the owner scan finds this
    process. Only a listener on 127.0.0.1 and an unnamed UNIX pair: nothing is sent."""
    me = _Self()
    listener = socket.socket()
    pair = socket.socketpair()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        warnings: list[str] = []
        socks = network.read_sockets(me, None, warnings)  # type: ignore[arg-type]
        assert warnings == []
        inode = os.fstat(listener.fileno()).st_ino
        (mine,) = [s for s in socks if s.inode == inode]
        assert (mine.protocol, mine.state, mine.local_address) == ("tcp", "LISTEN", "127.0.0.1")
        assert mine.local_port == listener.getsockname()[1]
        pair_inodes = {os.fstat(s.fileno()).st_ino for s in pair}
        assert pair_inodes <= {s.inode for s in socks if s.protocol == "unix"}
        owners = network.socket_owners(me.namespaces["net"], me.namespaces["pid"])
        network.attribute(socks, owners)
        assert mine.pids == [os.getpid()]
        assert mine.process == Path("/proc/self/comm").read_text().strip()
        status = Path("/proc/self/status").read_text().splitlines()
        nspid = next(line for line in status if line.startswith("NSpid:")).split()[-1]
        assert mine.nspids == [int(nspid)]
    finally:
        listener.close()
        for s in pair:
            s.close()


def test_links_fall_back_to_proc_dev_without_rtnetlink() -> None:
    me = _Self()
    net = Network()
    network.read_links(me, None, net)  # type: ignore[arg-type]
    assert "lo" in {i.name for i in net.interfaces}
    assert net.routes == []
    assert net.warnings == ["rtnetlink is not available: interfaces without addresses, no routes."]


def test_read_dns_resolves_links_inside_the_root(tmp_path: Path) -> None:
    """An absolute symlink (systemd-resolved style) resolves inside the container's root."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "run" / "resolve").mkdir(parents=True)
    (root / "run" / "resolve" / "stub-resolv.conf").write_text("nameserver 127.0.0.53\n")
    (root / "etc" / "resolv.conf").symlink_to("/../../../../run/resolve/stub-resolv.conf")
    warnings: list[str] = []
    dns = network.read_dns(str(root), warnings)
    assert dns.nameservers == ["127.0.0.53"]
    assert dns.hosts == ""
    assert warnings == ["no hosts file: /etc/hosts: no such file or directory in the container."]


def test_read_dns_without_files(tmp_path: Path) -> None:
    warnings: list[str] = []
    dns = network.read_dns(str(tmp_path), warnings)
    assert dns == DNSConfig()
    assert len(warnings) == 2 and warnings[0].startswith("no resolver config: /etc/resolv.conf")


def test_veth_peer_namespace_ids() -> None:
    links = {link.name: link for link in nl.parse_links(raw("docker/links.nl"))}
    assert links["eth0"].link_netnsid == 0  # the host, as the container numbers it
    assert links["lo"].link_netnsid is None
    reply = raw("docker/nsid.nl")  # the container asked which number it gave the host's
    assert nl.parse_nsid(reply) == 0
    unassigned = reply[:-4] + struct.pack("=i", -1)
    assert nl.parse_nsid(unassigned) is None
    request = nl.nsid_request(7)
    assert len(request) == 12 and struct.unpack_from("=HHI", request, 4) == (8, nl.NETNSA_FD, 7)
