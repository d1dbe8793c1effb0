"""What one poll of ``tui -H`` costs: every node's ``ps -a --json --stats`` over ssh, with the
TUI's own ControlMaster per node and without it (a fresh ssh handshake per node per poll).

The nodes are network namespaces with an sshd each (tests/fleet.py) on this machine, so the
nodes' CPU is this machine's CPU too: the figures that carry are the ratios, and the CPU the
nodes spend (their sshd and the python started per poll), which is what polling every node
every 2 seconds costs a fleet. Rows, in blocks that alternate (masters, none, masters, ...):

- ``FleetSource``, masters on (as ``tui -H`` runs): one poll of every node, the masters
  started before the first measured poll;
- ``FleetSource(masters=False)``: the same polls, each an ssh connection of its own;
- ``FleetSource``, masters on, every node asked without ``--stats`` (as for a node whose
  debugtool predates it): what the CPU and MEM columns cost the nodes;
- the peer, ``ssh NODE debugtool ps -a --json --stats`` (the installed debugtool of the
  benchmark venv), every node in parallel: what a person polling by hand would run.

For each: the wall time of one poll of every node, the CPU of this side (this process and the
ssh clients it reaped) and of the nodes (what each node's sshd reaped: its sessions, and the
python each ran), per poll. Run with ``bench/run fleet_tui``; needs root and openssh-server.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from common import DEBUGTOOL, ROOT

ROUNDS = 8
BLOCKS = 3


def _node_cpu(made: object) -> float:
    """CPU seconds the nodes' sshd processes have reaped from their children so far."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for node in made.nodes:  # type: ignore[attr-defined]
        if node.sshd is None:
            continue
        with open(f"/proc/{node.sshd.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        total += (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime
    return total


def _local_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _block(made: object, poll, close) -> tuple[list[float], float, float]:
    """Run ``ROUNDS`` polls, then ``close``; return their wall times, and this side's and the
    nodes' CPU seconds per poll.

    A node's sshd adds a connection's CPU to its own count when that connection ends: with
    masters, once they are closed. So the count is read after ``close``, and it holds the
    masters' handshakes too (once per node per block: a TUI session pays them once).
    """
    node_before, local_before = _node_cpu(made), _local_cpu()
    walls = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        poll()
        walls.append(time.perf_counter() - start)
    close()
    time.sleep(1.0)  # each node's sshd reaps the connections that ended
    return walls, (_local_cpu() - local_before) / ROUNDS, (_node_cpu(made) - node_before) / ROUNDS


def main(count: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import fleet

    from debugtool.fleet import nodes as fleet_nodes
    from debugtool.fleet.source import FleetSource
    from debugtool.fleet.transport import Connection

    with fleet.Fleet(count) as made:
        os.environ.update(made.env())
        selected = fleet_nodes.select([made.names()], None)
        connection = Connection(ssh_config=str(made.config))
        results: dict[str, list[tuple[list[float], float, float]]] = {}

        def source_poll(masters: bool, stats: bool = True):
            source = FleetSource(
                selected, connection, forks=count, timeout=60, every=0.0, masters=masters
            )
            if not stats:
                source._plain.update(n.name for n in selected)  # listed as an old node is

            def poll() -> None:
                source.poll_due()
                source.wait(120)
                bad = [s.name for s in source.node_states() if not s.answering]
                if bad:
                    raise RuntimeError(f"nodes did not answer: {bad}")

            return source, poll

        def peer_poll() -> None:
            procs = [
                subprocess.Popen(
                    [
                        "ssh",
                        "-F",
                        str(made.config),
                        "-T",
                        "-o",
                        "BatchMode=yes",
                        n.name,
                        DEBUGTOOL[0],
                        "ps",
                        "-a",
                        "--json",
                        "--stats",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for n in made.nodes
            ]
            for proc in procs:
                if proc.wait() != 0:
                    raise RuntimeError("ssh NODE debugtool ps failed")

        # Warm-up: the zipapp cached on every node, the peer's debugtool read once.
        peer_poll()
        source, poll = source_poll(masters=False)
        try:
            poll()
        finally:
            source.close()
        for _ in range(BLOCKS):
            for label in (
                "tui -H poll, ControlMaster",
                "tui -H poll, no master",
                "tui -H poll, ControlMaster, without --stats",
                "peer",
            ):
                if label == "peer":
                    got = _block(made, peer_poll, lambda: None)
                else:
                    source, poll = source_poll(
                        masters="ControlMaster" in label, stats="--stats" not in label
                    )
                    try:
                        got = _block(made, poll, source.close)
                    finally:
                        source.close()
                results.setdefault(label, []).append(got)

        load = os.getloadavg()
        print(f"## one poll of {count} nodes (load average {load[0]:.2f} {load[1]:.2f})\n")
        print("| rows | median wall ms | this side CPU ms/poll | nodes' CPU ms/poll |")
        print("|---|---|---|---|")
        for label, blocks in results.items():
            walls = [w for block in blocks for w in block[0]]
            local = statistics.median(b[1] for b in blocks)
            node = statistics.median(b[2] for b in blocks)
            print(
                f"| {label} | {statistics.median(walls) * 1000:.0f} | {local * 1000:.0f} "
                f"| {node * 1000:.0f} |"
            )
        print()


if __name__ == "__main__":
    for n in (3, 10):
        main(n)
