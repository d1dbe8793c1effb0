"""Published ports on real runtimes (with the host listener) and one process in depth.

A Docker container started with ``-p 127.0.0.1:PORT:8099`` runs busybox ``nc`` listening on 8099
and holding ``/tmp/held.txt`` open (fd 3), with a secret in its environment: ``net``,
``inspect`` and ``top --pid`` are checked against it, in JSON and for people. podman's
``-p`` is checked the same way (its conmon holds the host port). A hostile container names a
held file and an environment value with escape sequences.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

import harness
import pytest

from debugtool.collect.ports import find_listeners
from debugtool.model import Port

SERVE = "exec 3>/tmp/held.txt; exec nc -ll -p 8099 -e /bin/cat"
SECRET = "hunter2-not-for-screens"
OSC52 = "\x1b]52;c;SGVsbG8=\x07"


def free_port() -> int:
    """Return a TCP port nothing on the host's loopback listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> harness.subprocess.CompletedProcess[str]:
    return harness.run_cli(*args)


def cli_json(*args: str):
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def web(module_containers: harness.Containers) -> tuple[harness.Started, int]:
    port = free_port()
    started = module_containers.docker(
        "-p",
        f"127.0.0.1:{port}:8099",
        "-e",
        f"DB_PASSWORD={SECRET}",
        cmd=("/bin/sh", "-c", SERVE),
    )
    wait_until(lambda: _listening(started.pid, 8099))
    return started, port


def wait_until(ready, tries: int = 200) -> None:
    """Poll ``ready`` (a readiness wait, not a timing check) until it is true."""
    for _ in range(tries):
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError("the container did not get ready")


def _listening(pid: int, port: int) -> bool:
    text = "".join(open(f"/proc/{pid}/net/{t}").read() for t in ("tcp", "tcp6"))
    return f":{port:04X} " in text and " 0A " in text


def _cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")


def test_net_json_names_the_published_port_and_its_docker_proxy(web) -> None:
    started, port = web
    (published,) = cli_json("net", started.id)["ports"]
    assert published["container_port"] == 8099
    assert (published["protocol"], published["host_ip"], published["host_port"]) == (
        "tcp",
        "127.0.0.1",
        port,
    )
    assert published["listener"] == "process"
    assert published["host_process"] == "docker-proxy"
    (proxy,) = published["host_pids"]
    argv = _cmdline(proxy)
    assert "docker-proxy" in argv[0] and str(port) in argv  # that very port's proxy


def test_net_and_inspect_show_ports_to_people(web) -> None:
    started, port = web
    for command in ("net", "inspect"):
        result = cli(command, started.id)
        assert result.returncode == 0, result.stderr
        line = next(line for line in result.stdout.splitlines() if f"127.0.0.1:{port}" in line)
        assert line.split()[:4] == ["tcp", f"127.0.0.1:{port}", "8099/tcp", "docker-proxy"]


def test_inspect_json_has_ports_with_listener_and_the_runtimes_record(web) -> None:
    started, port = web
    record = cli_json("inspect", started.id)
    assert [(p["host_port"], p["host_process"]) for p in record["ports"]] == [
        (port, "docker-proxy")
    ]
    # The runtime's own record, as ps lists it: the listener is not looked for there.
    assert [(p["host_port"], p["listener"]) for p in record["container"]["ports"]] == [(port, "")]
    (listed,) = [c for c in cli_json("ps") if c["id"] == started.id]
    assert [p["host_port"] for p in listed["ports"]] == [port]


def test_a_port_nobody_listens_on_is_a_nat_rule_only() -> None:
    (port,) = find_listeners([Port(8099, "tcp", "127.0.0.1", free_port())])
    assert (port.listener, port.host_pids) == ("nat", [])


def test_podman_publishes_ports_held_by_conmon(containers: harness.Containers) -> None:
    port = free_port()
    started = containers.podman(
        "-p", f"127.0.0.1:{port}:8099", cmd=("nc", "-ll", "-p", "8099", "-e", "/bin/cat")
    )
    (published,) = cli_json("net", started.id)["ports"]
    assert (published["host_ip"], published["host_port"], published["container_port"]) == (
        "127.0.0.1",
        port,
        8099,
    )
    assert published["listener"] == "process"
    assert published["host_process"] == "conmon"
    assert cli_json("inspect", started.id)["ports"] == [published]


def test_top_pid_json_shows_the_process_in_depth(web) -> None:
    started, _ = web
    detail = cli_json("top", started.id, "--pid", "1")
    assert (detail["pid"], detail["nspid"]) == (started.pid, 1)
    held = [f for f in detail["files"] if f["fd"] == 3]
    assert held == [
        {
            "fd": 3,
            "target": "/tmp/held.txt",  # as the container sees it, not /proc/PID/root/...
            "kind": "file",
            "mode": "w",
            "position": 0,
            "flags": held[0]["flags"],
            "deleted": False,
        }
    ]
    listening = [s for s in detail["sockets"] if s["state"] == "LISTEN"]
    assert [s["local_port"] for s in listening] == [8099]
    assert listening[0]["nspids"] == [1]
    assert len(detail["threads"]) >= 1 and detail["threads"][0]["tid"] == started.pid
    for key in ("rss", "uss", "pss", "vms"):
        assert detail[key] > 0, key
    assert detail["swap"] >= 0
    assert detail["read_chars"] >= 0 and detail["voluntary_switches"] >= 0
    assert detail["environment"]["DB_PASSWORD"] == "<redacted>"
    assert detail["masked"] == 1
    assert (detail["cwd"], detail["root"], detail["exe"]) == ("/", "/", "/bin/busybox")
    limits = {limit["name"]: limit for limit in detail["limits"]}
    assert limits["nofile"]["soft"] and limits["nofile"]["soft"] > 0
    assert detail["cmdline"][:2] == ["nc", "-ll"]
    # The same process by its host PID.
    again = cli_json("top", started.id, "--host-pid", str(started.pid))
    assert (again["pid"], again["nspid"]) == (started.pid, 1)


def test_top_pid_for_people_masks_the_secret(web) -> None:
    started, _ = web
    result = cli("top", started.id, "--pid", "1")
    assert result.returncode == 0, result.stderr
    for section in ("PROCESS", "OPEN FILES", "SOCKETS", "THREADS", "LIMITS", "ENVIRONMENT"):
        assert section in result.stdout.splitlines()
    assert "/tmp/held.txt" in result.stdout
    assert "DB_PASSWORD=<redacted>" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "redacted" in result.stderr  # the warning says so, and how to see it


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--pid", "4000"), "no process has PID 4000 inside the container"),
        (("--host-pid", str(os.getpid())), "is not a process of container"),
        (("--pid", "1", "--host-pid", "1"), "not both"),
    ],
)
def test_top_pid_refuses_processes_not_the_containers(web, args, says) -> None:
    started, _ = web
    result = cli("top", started.id, *args)
    assert result.returncode == 125
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_hostile_file_name_and_environment_are_shown_escaped(
    containers: harness.Containers,
) -> None:
    name = f"f{OSC52}x"
    started = containers.docker(
        "-e",
        f"EVIL={OSC52}",
        cmd=("/bin/sh", "-c", f'exec 3>"/tmp/{name}"; exec sleep 100000'),
    )
    proc = harness.subprocess.run(
        [sys.executable, "-m", "debugtool", "top", started.id, "--pid", "1"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    for byte in (b"\x1b", b"\x07", b"\x9b"):
        assert byte not in output
    text = output.decode()
    assert "/tmp/f\\x1b]52;c;SGVsbG8=\\x07x" in text
    assert "EVIL=\\x1b]52;c;SGVsbG8=\\x07" in text
    # JSON keeps the exact values.
    detail = cli_json("top", started.id, "--pid", "1")
    assert detail["environment"]["EVIL"] == OSC52
    assert any(f["target"] == f"/tmp/{name}" for f in detail["files"])
