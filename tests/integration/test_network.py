"""``debugtool net`` on real containers: sockets attributed to their processes, a Docker eth0 and
its routes and DNS, a runc container in a network namespace made here with a veth, a distroless
container, and bad input.

All traffic stays on a container's own loopback. The veth's documentation-range address
(198.51.100.2, TEST-NET-2) is only assigned, never sent to.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

from debugtool.model import from_dict
from debugtool.snapshot import Network

# Inside the container: httpd listening on loopback only, syslogd's /dev/log (a UNIX datagram
# socket), and an nc listener with an nc client connected to it over 127.0.0.1. Applets run
# through symlinks in /tmp so each process is named after its applet, not "busybox".
SERVICES = (
    "busybox ln -s /bin/busybox /tmp/httpd; busybox ln -s /bin/busybox /tmp/syslogd; "
    "/tmp/httpd -f -p 127.0.0.1:8080 -h /tmp & echo $! > /tmp/httpd.pid; "
    "/tmp/syslogd -n -O /tmp/messages & echo $! > /tmp/syslogd.pid; "
    "sleep 100000 | nc -l -p 9000 & echo $! > /tmp/server.pid; "
    "sleep 1; sleep 100000 | nc 127.0.0.1 9000 & echo $! > /tmp/client.pid; "
    "wait"
)


def _tcp_states(pid: int) -> str:
    return Path(f"/proc/{pid}/net/tcp").read_text() + Path(f"/proc/{pid}/net/tcp6").read_text()


@pytest.fixture(scope="module")
def services(module_containers: harness.Containers) -> harness.Started:
    c = module_containers.docker(cmd=("sh", "-c", SERVICES))
    deadline = time.monotonic() + 20
    # Wait until the client has connected (":2328 " is port 9000 in /proc's hex) and every pid
    # file is written.
    pidfiles = [Path(f"/proc/{c.pid}/root/tmp/{n}.pid") for n in ("httpd", "syslogd", "client")]
    while time.monotonic() < deadline:
        established = any(
            ":2328 " in line and line.split()[3] == "01"
            for line in _tcp_states(c.pid).splitlines()[1:]
        )
        if established and all(p.exists() and p.read_text().strip() for p in pidfiles):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the services in the test container did not start")
    return c


def container_pid(c: harness.Started, name: str) -> int:
    """Return the PID (as the container sees it) that the container's shell wrote for ``name``."""
    return int(Path(f"/proc/{c.pid}/root/tmp/{name}.pid").read_text())


def host_pid(c: harness.Started, nspid: int) -> int:
    """Return the host PID of the container's process ``nspid`` (by NSpid, read independently)."""
    pidns = os.stat(f"/proc/{c.pid}/ns/pid").st_ino
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/pid").st_ino != pidns:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        if int(fields.split()[-1]) == nspid:
            return int(entry)
    raise AssertionError(f"no process {nspid} in the container")


def net_json(cli, target: str, *flags: str) -> Network:
    result = cli("net", target, "--json", *flags)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return from_dict(Network, json.loads(result.stdout))


@pytest.fixture(scope="module")
def services_net(services: harness.Started) -> Network:
    from harness import run_cli

    return net_json(run_cli, services.id)


def test_loopback_listener_attributed_to_its_process(
    services: harness.Started, services_net: Network
) -> None:
    listeners = [
        s
        for s in services_net.sockets
        if s.protocol == "tcp" and s.state == "LISTEN" and s.local_port == 8080
    ]
    assert len(listeners) == 1
    sock = listeners[0]
    assert sock.local_address == "127.0.0.1"
    httpd = container_pid(services, "httpd")
    assert sock.nspids == [httpd]
    assert sock.pids == [host_pid(services, httpd)]
    assert sock.process == "httpd"


def test_connected_pair_is_established_both_ways(
    services: harness.Started, services_net: Network
) -> None:
    tcp = [s for s in services_net.sockets if s.protocol.startswith("tcp")]
    client = next(s for s in tcp if s.remote_port == 9000)
    server = next(s for s in tcp if s.local_port == 9000 and s.state != "LISTEN")
    assert client.state == server.state == "ESTABLISHED"
    assert client.local_address == "127.0.0.1"
    # busybox nc listens on [::], so the accepted side is an IPv4-mapped IPv6 socket.
    assert server.protocol == "tcp6" and server.local_address == "::ffff:127.0.0.1"
    assert server.remote_port == client.local_port
    assert client.nspids == [container_pid(services, "client")]
    assert client.process == server.process == "nc"
    assert server.nspids and server.nspids != client.nspids


def test_unix_datagram_socket_of_syslogd(services: harness.Started, services_net: Network) -> None:
    log = [s for s in services_net.sockets if s.protocol == "unix" and s.path == "/dev/log"]
    assert len(log) == 1
    assert (log[0].socket_type, log[0].state) == ("dgram", "UNCONN")
    assert log[0].nspids == [container_pid(services, "syslogd")]
    assert log[0].process == "syslogd"


def test_docker_eth0_address_route_and_dns(
    services: harness.Started, services_net: Network
) -> None:
    info = json.loads(harness.run("docker", "inspect", services.id))[0]
    settings = info["NetworkSettings"]
    eth0 = next(i for i in services_net.interfaces if i.name == "eth0")
    assert (eth0.kind, eth0.state) == ("veth", "UP")
    assert eth0.mac == settings["MacAddress"]
    # the host side of the veth pair, named as the host names it, points back at eth0
    assert int(Path(f"/sys/class/net/{eth0.peer}/iflink").read_text()) == eth0.index
    assert [(a.address, a.prefixlen) for a in eth0.addresses if a.family == "inet"] == [
        (settings["IPAddress"], settings["IPPrefixLen"])
    ]
    lo = next(i for i in services_net.interfaces if i.name == "lo")
    assert lo.kind == "loopback" and lo.rx_packets > 0  # the nc pair's handshake went over it
    default = [r for r in services_net.routes if r.destination == "default"]
    assert [(r.gateway, r.interface) for r in default] == [(settings["Gateway"], "eth0")]
    # Docker writes the container's resolv.conf itself; the container sees that file.
    resolv = Path(info["ResolvConfPath"]).read_text()
    assert services_net.dns.resolv_conf == resolv
    expected = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert services_net.dns.nameservers == expected and expected
    assert settings["IPAddress"] in services_net.dns.hosts


def test_table_output(services: harness.Started, cli) -> None:
    result = cli("net", services.name)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("INTERFACES", "ROUTES", "SOCKETS", "DNS"):
        assert f"{section}\n" in out
    httpd = container_pid(services, "httpd")
    row = next(line for line in out.splitlines() if "127.0.0.1:8080" in line)
    assert row.split() == [
        "tcp",
        "LISTEN",
        "127.0.0.1:8080",
        "*:*",
        str(httpd),
        str(host_pid(services, httpd)),
        "httpd",
    ]
    assert "/dev/log" in out


def test_listening_and_sockets_only(services: harness.Started, cli) -> None:
    result = cli("net", services.id, "--json", "--listening", "--sockets-only")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["sockets"]
    states = {(s["protocol"], s["state"]) for s in data["sockets"]}
    assert ("tcp", "LISTEN") in states and ("unix", "UNCONN") in states
    assert all(state in ("LISTEN", "UNCONN") for _, state in states)
    text = cli("net", services.id, "--sockets-only", "-l")
    assert text.returncode == 0
    assert "SOCKETS" in text.stdout and "INTERFACES" not in text.stdout
    assert "ESTABLISHED" not in text.stdout


UNIX_HOLDER = r"""
import socket, sys
tag = sys.argv[1]
path = f"/tmp/dt net {tag}.sock"
named = socket.socket(socket.AF_UNIX); named.bind(path); named.listen(1)
abstract = socket.socket(socket.AF_UNIX); abstract.bind(f"\0dt-abstract-{tag}"); abstract.listen(1)
pair = socket.socketpair()
print("ready", flush=True)
sys.stdin.read()
"""


def test_unix_stream_sockets_named_abstract_and_unnamed(
    containers: harness.Containers, cli
) -> None:
    """busybox has no UNIX stream listener, so the host's Python, entered into the container's
    network and PID namespaces, holds them; it belongs to the container's PID namespace."""
    c = containers.docker()
    tag = uuid.uuid4().hex[:8]
    holder = subprocess.Popen(
        ["nsenter", "-t", str(c.pid), "-n", "-p", "python3", "-c", UNIX_HOLDER, tag],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        # nsenter -p forks: the python is its child, in the container's PID namespace.
        (child,) = Path(f"/proc/{holder.pid}/task/{holder.pid}/children").read_text().split()
        status = Path(f"/proc/{child}/status").read_text().splitlines()
        nspid = int(next(line for line in status if line.startswith("NSpid:")).split()[-1])
        net = net_json(cli, c.id)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=20)
        Path(f"/tmp/dt net {tag}.sock").unlink(missing_ok=True)
    unix = [s for s in net.sockets if s.protocol == "unix"]
    named = next(s for s in unix if s.path == f"/tmp/dt net {tag}.sock")
    abstract = next(s for s in unix if s.path == f"@dt-abstract-{tag}")
    assert named.state == abstract.state == "LISTEN"
    assert named.socket_type == "stream"
    pair = [s for s in unix if not s.path and s.state == "ESTABLISHED"]
    assert len(pair) == 2
    assert {pair[0].peer_inode, pair[1].peer_inode} == {pair[0].inode, pair[1].inode}
    for sock in (named, abstract, *pair):
        assert (sock.process, sock.pids, sock.nspids) == ("python3", [int(child)], [nspid])
    assert nspid > 1


def test_distroless_container(containers: harness.Containers, cli) -> None:
    c = containers.docker(image=harness.DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000"))
    net = net_json(cli, c.id)
    assert {i.name for i in net.interfaces} == {"lo", "eth0"}
    assert net.sockets == []
    assert net.dns.nameservers


@pytest.fixture
def veth_netns() -> Iterator[tuple[str, str]]:
    """A network namespace made here with one end of a veth pair in it, at 198.51.100.2/24.

    IPv6 is off on both ends so the kernel sends nothing on its own; the address is only
    assigned. Removed by name afterwards.
    """
    tag = uuid.uuid4().hex[:8]
    ns, host_end, inner = f"dt-{tag}", f"dth{tag}", f"dtc{tag}"
    harness.run("ip", "netns", "add", ns)
    try:
        harness.run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inner)
        Path(f"/proc/sys/net/ipv6/conf/{host_end}/disable_ipv6").write_text("1")
        harness.run("ip", "link", "set", inner, "netns", ns)
        in_ns = ("ip", "netns", "exec", ns)
        harness.run(*in_ns, "sysctl", "-qw", f"net.ipv6.conf.{inner}.disable_ipv6=1")
        harness.run("ip", "-n", ns, "addr", "add", "198.51.100.2/24", "dev", inner)
        harness.run("ip", "-n", ns, "link", "set", "lo", "up")
        harness.run("ip", "-n", ns, "link", "set", inner, "up")
        harness.run("ip", "link", "set", host_end, "up")
        yield ns, inner
    finally:
        harness.run("ip", "link", "del", host_end, check=False)
        harness.run("ip", "netns", "del", ns, check=False)


def test_runc_container_in_a_prepared_network_namespace(
    containers: harness.Containers, veth_netns: tuple[str, str], cli
) -> None:
    ns, inner = veth_netns
    c = containers.runc(netns=f"/var/run/netns/{ns}")
    net = net_json(cli, c.id)
    veth = next(i for i in net.interfaces if i.name == inner)
    assert veth.kind == "veth"
    assert veth.peer == f"dth{inner[3:]}"  # the end left in the host's namespace
    assert veth.state in ("UP", "LOWERLAYERDOWN", "UNKNOWN")
    assert [(a.family, a.address, a.prefixlen) for a in veth.addresses] == [
        ("inet", "198.51.100.2", 24)
    ]
    connected = [r for r in net.routes if r.destination == "198.51.100.0/24" and r.table == "main"]
    assert [(r.interface, r.scope, r.prefsrc) for r in connected] == [
        (inner, "link", "198.51.100.2")
    ]
    assert not [r for r in net.routes if r.destination == "default"]
    # the harness's rootfs resolv.conf
    assert net.dns.nameservers == ["127.0.0.1"]


def test_process_outside_the_pid_namespace_but_in_the_netns(
    containers: harness.Containers, veth_netns: tuple[str, str], cli
) -> None:
    """A socket held by a host process that only joined the network namespace: host PID
    shown, no container PID."""
    ns, _ = veth_netns
    c = containers.runc(netns=f"/var/run/netns/{ns}")
    holder = subprocess.Popen(
        ["ip", "netns", "exec", ns, "busybox", "nc", "-l", "-p", "7070"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while ":1B9E " not in _tcp_states(c.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        net = net_json(cli, c.id)
        sock = next(s for s in net.sockets if s.local_port == 7070 and s.state == "LISTEN")
        assert sock.pids == [holder.pid] and sock.nspids == []
    finally:
        holder.kill()
        holder.wait()


def test_container_gone_while_collecting(containers: harness.Containers) -> None:
    from debugtool.collect.network import collect_network
    from debugtool.errors import ContainerGone
    from debugtool.source import LiveSource

    c = containers.sandbox()
    source = LiveSource()
    target = source.target(source.find(f"pid:{c.pid}", names_container=False))
    try:
        assert collect_network(target).interfaces  # alive: lo at least
        os.killpg(c.extra["unshare_pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{c.pid}/ns") and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(ContainerGone) as err:
            collect_network(target)
        assert "exited" in str(err.value)
    finally:
        source.close()


def test_unknown_target(cli) -> None:
    result = cli("net", "no-such-container-" + uuid.uuid4().hex[:6])
    assert result.returncode == 125
    assert "no container matches" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("net", "pid:notanumber")
    assert result.returncode == 125
    assert "is not a process id" in result.stderr
