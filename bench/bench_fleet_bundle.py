"""`debugtool bundle -H` over 3 and 10 nodes against one node's bundle, serial, and a floor.

The nodes are network namespaces with an sshd each (tests/fleet.py) on this machine: they
share its two cores, so N nodes bundling at once compete for the CPU one node has to itself
(a bundle is a Python start, the collectors and gzip on the node, and ssh's encryption at both
ends). That is why the floor matters more than the ratio to one node here: on real nodes,
each with CPUs of its own, a parallel fleet bundle takes about its slowest node's time.

Rows, interleaved (one Docker container bundled by name on every node):

- the peer: `ssh n1 debugtool bundle BOX -o - > file` with the installed debugtool of the
  benchmark venv, one node (every node is alike, so this is the slowest single node's time);
- `debugtool bundle -H` over N nodes (`--forks N`), the core sent as a zipapp (cached on the
  nodes) with `/usr/bin/python3` named by the inventory, as `bench_fleet` does it;
- the same with `--remote-debugtool` (the installed debugtool the peer and the floor run: the
  like-for-like row against the floor);
- the floor: N plain `ssh NODE debugtool bundle BOX -o - > file` started at once by a shell
  and waited for, with no debugtool fleet code (no index, no checks, no atomic write);
- serial: the same N ssh commands one after another (`sos collect`'s model).

Goal (issue 20): a fleet bundle within 1.3x of the slowest single node's bundle.
Run with `bench/run fleet_bundle`; needs root and openssh-server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from common import DEBUGTOOL, ROOT, interleaved, report

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import fleet
    import harness

    harness.ensure_images()
    with fleet.Fleet(10) as made, harness.Containers() as containers:
        os.environ.update(made.env())
        box = containers.docker(cmd=("/bin/sh", "-c", "echo bench-fleet; exec sleep 100000"))
        installed = DEBUGTOOL[0]
        out = tempfile.mkdtemp(prefix="bench-fleet-bundle-")
        inv = ["--inventory", str(made.inventory())]

        def ssh(node: str) -> str:
            argv = ["ssh", "-F", str(made.config), "-T", "-o", "BatchMode=yes", node]
            argv += [installed, "bundle", box.name, "-o", "-"]
            return " ".join(argv) + f" > {out}/{node}.tar.gz"

        def floor(n: int) -> list[str]:
            names = [node.name for node in made.nodes[:n]]
            return ["sh", "-c", " & ".join(ssh(name) for name in names) + " & wait"]

        def serial(n: int) -> list[str]:
            names = [node.name for node in made.nodes[:n]]
            return ["sh", "-c", " ; ".join(ssh(name) for name in names)]

        def fleet_bundle(n: int, *extra: str) -> list[str]:
            names = ",".join(node.name for node in made.nodes[:n])
            return [*DEBUGTOOL, "bundle", "-H", names, "--forks", str(n), *inv, *extra]

        tail = [box.name, "--force", "-o"]
        pairs: list[tuple[str, list[str]]] = [
            ("ssh n1 debugtool bundle -o - (one node)", ["sh", "-c", ssh("n1")]),
            ("bundle -H 3 nodes", fleet_bundle(3, *tail, f"{out}/f3.tar")),
            (
                "bundle -H 3 nodes --remote-debugtool",
                fleet_bundle(3, "--remote-debugtool", installed, *tail, f"{out}/f3r.tar"),
            ),
            ("floor: 3 ssh ... -o - at once", floor(3)),
            ("serial: 3 ssh ... -o - in a row", serial(3)),
            ("bundle -H 10 nodes", fleet_bundle(10, *tail, f"{out}/f10.tar")),
            (
                "bundle -H 10 nodes --remote-debugtool",
                fleet_bundle(10, "--remote-debugtool", installed, *tail, f"{out}/f10r.tar"),
            ),
            ("floor: 10 ssh ... -o - at once", floor(10)),
            ("serial: 10 ssh ... -o - in a row", serial(10)),
        ]
        load = os.getloadavg()
        try:
            measures = interleaved(pairs, runs=RUNS, warmup=1)
        finally:
            subprocess.run(["rm", "-rf", out], check=False)
        after = os.getloadavg()
        report(
            "fleet bundle over 3 and 10 nodes (namespaces on this 2-core host) vs one "
            f"ssh NODE debugtool bundle -o -; load {load[0]:.2f} before, {after[0]:.2f} after",
            measures,
            goal="bundle -H within 1.3x of the slowest single node's bundle",
        )
        by = {m.label: m.median for m in measures}
        one = by["ssh n1 debugtool bundle -o - (one node)"]
        for n in (3, 10):
            mine = by[f"bundle -H {n} nodes"]
            same = by[f"bundle -H {n} nodes --remote-debugtool"]  # the floor's debugtool
            floor_n = by[f"floor: {n} ssh ... -o - at once"]
            print(
                f"{n} nodes: debugtool / one node {mine / one:.2f} (floor / one node "
                f"{floor_n / one:.2f}); --remote-debugtool / floor {same / floor_n:.2f}; "
                f"zipapp / floor {mine / floor_n:.2f}; "
                f"debugtool / serial {mine / by[f'serial: {n} ssh ... -o - in a row']:.2f}"
            )
        cpu = {m.label: m.cpu_seconds / max(1, len(m.times)) for m in measures}
        print("CPU on this side per run (s):", {k: round(v, 2) for k, v in cpu.items()})


if __name__ == "__main__":
    main()
