"""Nodes for the fleet tests: network namespaces made here, each with an sshd of its own.

A ``Fleet`` makes a bridge on the host and, per node, a network namespace joined to it by a
veth pair, addressed in a /28 of 203.0.113.0/24 (TEST-NET-3: not this machine's uplink range,
TEST-NET-1, and used by nothing else here). The /28 also gets an ``unreachable``
route of a higher metric, so that if the bridge goes away nothing for it leaves by the default
route; adding that route first is also how two runs at once never take the same /28.

Each node runs Debian's ``sshd`` (``-D``, its own config, host key, pid file; no PAM, keys
only) inside its namespace. The keys (a host key per node, one client key) are made per run
with ``ssh-keygen``; the client's ``ssh_config`` and ``known_hosts`` are written here with
``StrictHostKeyChecking yes``, and every node is reached by its name through that config.

A namespace is not a VM: the nodes share the host's files and runtimes, so each node lists the
same containers. What makes a node itself is its sshd's ``SetEnv``: a zipapp cache and an audit
log of its own (``node.cache``, ``node.audit``). A node may be made ``hang`` (its forced
command sleeps) or ``nopython`` (its forced command runs with no python3 on PATH). With
``counted`` every ordinary node's forced command notes each session before it runs what was
asked (``node.sessions``: how many ssh sessions the node served, ControlMaster ones too).

Everything is undone by ``close``: every process in each namespace (sshd and its sessions)
killed by pid, the namespaces, the bridge and the route deleted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
RANGE = "203.0.113"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class Node:
    """One node: its name (an ssh_config Host), address, namespace and its own state paths."""

    name: str
    address: str
    netns: str
    dir: Path
    kind: str = "normal"  # normal, hang, nopython
    sshd: subprocess.Popen | None = None
    host_public: str = ""

    @property
    def cache(self) -> Path:
        return self.dir / "cache"

    @property
    def audit(self) -> Path:
        return self.dir / "audit.jsonl"

    @property
    def sessions(self) -> int:
        """How many ssh sessions ran a command on this node (a ``counted`` fleet's)."""
        try:
            return len((self.dir / "sessions").read_text().splitlines())
        except FileNotFoundError:
            return 0


@dataclass
class Fleet:
    """Nodes in namespaces with sshd; ``config`` is the client ssh_config to pass with -F."""

    count: int = 3
    kinds: dict[str, str] = field(default_factory=dict)  # node name -> hang / nopython
    counted: bool = False  # ordinary nodes count their sessions (Node.sessions)
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.bridge = f"dtfb{self.tag}"
        self.dir = Path(
            subprocess.run(
                ["mktemp", "-d", "/run/dt-fleet-XXXXXX"], capture_output=True, text=True
            ).stdout.strip()
        )
        os.chmod(self.dir, 0o700)
        self.route: str | None = None
        self.config = self.dir / "ssh_config"
        self.local_cache = self.dir / "local-cache"
        self.local_audit = self.dir / "local-audit.jsonl"
        try:
            self._network()
            self._keys()
            for node in self.nodes:
                self.start(node.name)
        except BaseException:
            self.close()
            raise

    # --- set-up --------------------------------------------------------------------------
    def _network(self) -> None:
        if self.count > 13:
            raise ValueError("a /28 holds 13 nodes beside the host")
        for block in [*range(1, 16)]:
            base = f"{RANGE}.{block * 16}/28"
            if _ip("route", "add", "unreachable", base, "metric", "4000", check=False).returncode:
                continue  # another run holds this /28
            self.route = base
            break
        else:
            raise RuntimeError(f"no free /28 in {RANGE}.0/24 for the fleet test")
        first = int(self.route.split(".")[3].split("/")[0])
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{RANGE}.{first + 1}/28", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(1, self.count + 1):
            name = f"n{i}"
            node = Node(
                name=name,
                address=f"{RANGE}.{first + 1 + i}",
                netns=f"dtf{self.tag}{name}",
                dir=self.dir / name,
                kind=self.kinds.get(name, "normal"),
            )
            node.dir.mkdir(mode=0o700)
            host_end, node_end = f"dtf{self.tag}h{i}", f"dtf{self.tag}v{i}"
            _ip("netns", "add", node.netns)
            self.nodes.append(node)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
            _ip("link", "set", node_end, "netns", node.netns)
            _ip("link", "set", host_end, "master", self.bridge, "up")
            _ip("-n", node.netns, "addr", "add", f"{node.address}/28", "dev", node_end)
            _ip("-n", node.netns, "link", "set", node_end, "up")
            _ip("-n", node.netns, "link", "set", "lo", "up")

    def _keys(self) -> None:
        client = _keygen(self.dir / "client_key", f"dt-fleet-{self.tag}")
        (self.dir / "authorized_keys").write_text(client + "\n")
        os.chmod(self.dir / "authorized_keys", 0o600)
        known = []
        for node in self.nodes:
            node.host_public = _keygen(node.dir / "host_key", node.name)
            kind, key = node.host_public.split()[:2]
            known.append(f"{node.address} {kind} {key}")
        (self.dir / "known_hosts").write_text("\n".join(known) + "\n")
        lines = [
            "Host *",
            "    User root",
            f"    IdentityFile {self.dir / 'client_key'}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {self.dir / 'known_hosts'}",
            "    GlobalKnownHostsFile /dev/null",
            "    StrictHostKeyChecking yes",
            "    UpdateHostKeys no",
            "    ConnectTimeout 5",
            "    LogLevel ERROR",
        ]
        for node in self.nodes:
            lines += [f"Host {node.name}", f"    HostName {node.address}"]
        self.config.write_text("\n".join(lines) + "\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir

    def _sshd_config(self, node: Node) -> Path:
        lines = [
            f"ListenAddress {node.address}:22",
            f"HostKey {node.dir / 'host_key'}",
            f"PidFile {node.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "LogLevel ERROR",
            f"SetEnv DEBUGTOOL_ZIPAPP_CACHE={node.cache} DEBUGTOOL_AUDIT_LOG={node.audit}",
        ]
        if node.kind == "hang":
            lines.append("ForceCommand exec sleep 3600")
        elif node.kind == "nopython":
            lines.append('ForceCommand PATH=/nonexistent-dt-fleet; eval "$SSH_ORIGINAL_COMMAND"')
        elif self.counted:
            lines.append(f'ForceCommand echo >> {node.dir}/sessions; eval "$SSH_ORIGINAL_COMMAND"')
        path = node.dir / "sshd_config"
        path.write_text("\n".join(lines) + "\n")
        return path

    # --- control ---------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def start(self, name: str) -> None:
        """Start node ``name``'s sshd and wait until it accepts connections."""
        node = self.node(name)
        config = self._sshd_config(node)
        log = open(node.dir / "sshd.log", "ab")
        # nsenter joins the node's network namespace alone: 'ip netns exec' would also mount a
        # sysfs of that namespace over /sys, hiding /sys/fs/cgroup, which a real node has.
        node.sshd = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{node.netns}",
                "--",
                SSHD,
                "-D",
                "-e",
                "-f",
                str(config),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if node.sshd.poll() is not None:
                raise RuntimeError(f"sshd of {name} exited: {(node.dir / 'sshd.log').read_text()}")
            try:
                socket.create_connection((node.address, 22), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd of {name} did not listen")

    def stop(self, name: str) -> None:
        """Stop node ``name``'s sshd (its address then refuses connections)."""
        node = self.node(name)
        if node.sshd is not None:
            node.sshd.send_signal(signal.SIGTERM)
            node.sshd.wait(timeout=20)
            node.sshd = None

    def cut(self, name: str) -> None:
        """Take node ``name`` away as a crash would: its sshd stopped and every session it
        served ended (a ControlMaster's connection to it closes too)."""
        self.stop(name)
        node = self.node(name)
        for pid in _ip("netns", "pids", node.netns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def env(self) -> dict[str, str]:
        """The environment for ``debugtool -H`` on this side: the test's ssh_config, a zipapp
        cache and an audit log of the run's own."""
        return {
            "DEBUGTOOL_SSH_CONFIG": str(self.config),
            "DEBUGTOOL_ZIPAPP_CACHE": str(self.local_cache),
            "DEBUGTOOL_AUDIT_LOG": str(self.local_audit),
        }

    def names(self, *only: str) -> str:
        return ",".join(only or [n.name for n in self.nodes])

    def inventory(self, python: str = "/usr/bin/python3") -> Path:
        """Write an Ansible-style inventory of every node, naming the nodes' interpreter as
        ``ansible_python_interpreter`` does; return its path. (This machine's root has pyenv's
        shims first on PATH, even for ssh commands, so a node's bare "python3" is a shell
        script that costs about 0.25 s a start.)"""
        path = self.dir / "inventory.ini"
        path.write_text(
            "[nodes]\n"
            + "".join(f"{n.name}\n" for n in self.nodes)
            + f"[all:vars]\nansible_python_interpreter={python}\n"
        )
        return path

    # --- tear-down -------------------------------------------------------------------------
    def close(self) -> None:
        for node in self.nodes:
            # sshd, and every session it started: all of them are in the namespace we made.
            pids = _ip("netns", "pids", node.netns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            if node.sshd is not None:
                try:
                    node.sshd.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
            _ip("netns", "del", node.netns, check=False)
        for i in range(1, len(self.nodes) + 1):  # one end of a veth takes the other with it
            _ip("link", "del", f"dtf{self.tag}h{i}", check=False)
        _ip("link", "del", self.bridge, check=False)
        if self.route:
            _ip("route", "del", "unreachable", self.route, "metric", "4000", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
