"""Published ports: each runtime's record read into Port, and the host listener matched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debugtool.collect import ports as host_ports
from debugtool.collect.network import parse_proc_inet
from debugtool.model import Container, Port
from debugtool.runtimes import merge, ports
from debugtool.runtimes.containerd import ports_of
from debugtool.runtimes.docker import container_from_list
from debugtool.runtimes.podman import container_from_ps
from debugtool.views import ports as view

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ports"
CAPTURED = json.loads((FIXTURES / "captured.json").read_text())

DOCKER = [
    Port(53, "udp", "0.0.0.0", 18392),
    Port(53, "udp", "::", 18392),
    Port(8099, "tcp", "127.0.0.1", 18391),
]
PODMAN = [Port(8099, "tcp", "127.0.0.1", 18393)]


def test_docker_list_and_inspect_give_the_same_ports() -> None:
    assert ports.from_docker_list(CAPTURED["docker_list_ports"]) == DOCKER
    assert ports.from_inspect(CAPTURED["docker_inspect_ports"]) == DOCKER


def test_docker_list_record_fills_container_ports() -> None:
    item = {"Id": "a" * 64, "Names": ["/web"], "State": "running"}
    container = container_from_list({**item, "Ports": CAPTURED["docker_list_ports"]})
    assert container.ports == DOCKER
    assert container_from_list(item).ports == []


def test_podman_ps_inspect_and_libpod_give_the_same_ports() -> None:
    assert ports.from_podman(CAPTURED["podman_ps_ports"]) == PODMAN
    assert ports.from_inspect(CAPTURED["podman_inspect_ports"]) == PODMAN
    assert ports.from_podman(CAPTURED["libpod_new_port_mappings"]) == PODMAN
    item = {"Id": "b" * 64, "Names": ["db"], "Ports": CAPTURED["podman_ps_ports"]}
    assert container_from_ps(item).ports == PODMAN


def test_podman_ranges_protocol_lists_and_podman_3_spelling() -> None:
    mapping = {"host_ip": "", "container_port": 80, "host_port": 8080, "range": 3}
    assert ports.from_podman([{**mapping, "protocol": "tcp,udp"}]) == [
        Port(80, "tcp", "", 8080),
        Port(80, "udp", "", 8080),
        Port(81, "tcp", "", 8081),
        Port(81, "udp", "", 8081),
        Port(82, "tcp", "", 8082),
        Port(82, "udp", "", 8082),
    ]
    old = {"hostPort": 8443, "containerPort": 443, "protocol": "tcp", "hostIP": "10.0.0.1"}
    assert ports.from_podman([old]) == [Port(443, "tcp", "10.0.0.1", 8443)]


def test_exposed_only_ports_are_not_published() -> None:
    assert ports.from_docker_list([{"PrivatePort": 80, "Type": "tcp"}]) == []
    assert ports.from_inspect({"80/tcp": None}) == []


@pytest.mark.parametrize(
    "value",
    [
        None,
        "8099",
        [1, "x", None],
        [{"PrivatePort": "x", "PublicPort": 80}],
        [{"PrivatePort": 80, "PublicPort": 70000, "Type": "tcp"}],
        [{"PrivatePort": 80, "PublicPort": 8080, "Type": "gopher"}],
        [{"PrivatePort": 80, "PublicPort": 8080, "IP": ["a"]}],
        [{"PrivatePort": True, "PublicPort": 8080}],
    ],
)
def test_malformed_docker_ports_are_left_out(value) -> None:
    assert ports.from_docker_list(value) == []


def test_nerdctl_label_and_cri_sandbox() -> None:
    label = json.dumps(
        [{"HostPort": 18080, "ContainerPort": 80, "Protocol": "tcp", "HostIP": "127.0.0.1"}]
    )
    assert ports.from_nerdctl(label) == [Port(80, "tcp", "127.0.0.1", 18080)]
    assert ports.from_nerdctl("not json") == []
    # CRI leaves out zero values: protocol TCP (0) and no host IP.
    sandbox = {
        "Version": "v1",
        "Metadata": {
            "ID": "s1",
            "Config": {
                "port_mappings": [
                    {"container_port": 80, "host_port": 30080},
                    {"protocol": 1, "container_port": 53, "host_port": 30053, "host_ip": "::1"},
                ]
            },
        },
    }
    expected = [Port(53, "udp", "::1", 30053), Port(80, "tcp", "", 30080)]
    assert ports.from_cri_sandbox(sandbox) == expected
    raw = json.dumps(sandbox).encode()
    assert ports_of({}, {"io.cri-containerd.sandbox.metadata": ("", raw)}) == expected
    assert ports_of({"nerdctl/ports": label}, {}) == [Port(80, "tcp", "127.0.0.1", 18080)]
    assert ports_of({}, {}) == []


def test_merge_keeps_the_richest_backends_ports() -> None:
    docker = Container(id="c" * 64, name="web", runtime="docker", ports=list(DOCKER))
    containerd = Container(id="c" * 64, name="c" * 64, runtime="containerd")
    (merged,) = merge([containerd, docker], {"docker": 100, "containerd": 80}.get)
    assert merged.ports == DOCKER
    (merged,) = merge([Container(id="d", name="d", runtime="containerd", ports=PODMAN)], len)
    assert merged.ports == PODMAN


def host_sockets():
    return [
        s
        for table in ("tcp", "tcp6", "udp", "udp6")
        for s in parse_proc_inet((FIXTURES / f"host-{table}").read_text(), table)
    ]


def test_each_published_port_finds_its_docker_proxy_socket() -> None:
    sockets = host_sockets()
    found = {
        (p.host_ip, p.host_port): [s.inode for s in host_ports.listening_on(p, sockets)]
        for p in DOCKER
    }
    # The IPv4 wildcard port gets the IPv4 socket, the IPv6 one the IPv6 socket.
    assert found == {
        ("0.0.0.0", 18392): [4599372],
        ("::", 18392): [4599374],
        ("127.0.0.1", 18391): [4599332],
    }
    # A port on an address nobody listens on, another protocol, another port: nothing.
    assert host_ports.listening_on(Port(8099, "udp", "127.0.0.1", 18391), sockets) == []
    assert host_ports.listening_on(Port(8099, "tcp", "127.0.0.1", 18999), sockets) == []
    # A specific address is answered by a wildcard listener of its family.
    assert [
        s.inode for s in host_ports.listening_on(Port(53, "udp", "10.1.2.3", 18392), sockets)
    ] == [4599372]


def test_port_view_texts() -> None:
    process = Port(8099, "tcp", "127.0.0.1", 18391, "process", [4242], "docker-proxy")
    nat = Port(53, "udp", "::", 18392, "nat")
    unknown = Port(80, "tcp", "", 8080)
    assert view.COLUMNS[0].header == "PROTO"
    rows = [[c.text(p) for c in view.COLUMNS] for p in (process, nat, unknown)]
    assert rows == [
        ["tcp", "127.0.0.1:18391", "8099/tcp", "docker-proxy", "4242"],
        ["udp", "[::]:18392", "53/udp", "NAT rule only", "-"],
        ["tcp", "*:8080", "80/tcp", "-", "-"],
    ]


def test_report_shows_ports_with_listeners_else_the_runtimes_record() -> None:
    from debugtool.bundle import report
    from debugtool.snapshot import Network, Snapshot

    container = Container(id="e" * 64, name="web", runtime="docker", ports=list(DOCKER))
    html = report._ports(container, None)
    assert "127.0.0.1:18391" in html and "8099/tcp" in html and "LISTENER" in html
    found = Port(8099, "tcp", "127.0.0.1", 18391, "process", [77], "docker-proxy")
    snap = Snapshot(container=container, network=Network(ports=[found]))
    assert "docker-proxy" in report._ports(container, snap)
    assert "no port published" in report._ports(Container(id="f", name="f", runtime="x"), None)
