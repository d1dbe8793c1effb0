"""`debugtool ps -H` over 10 nodes against one `ssh NODE debugtool ps`.

The nodes are network namespaces with an sshd each (tests/fleet.py), on this machine: they
share its two cores, so ten nodes answering at once compete for the CPU that one node has to
itself. Rows:

- the peer: `ssh NODE debugtool ps` with the installed debugtool of the benchmark venv (what a
  user does by hand on one node);
- `debugtool ps -H n1`: one node through debugtool's transport, its zipapp cached on the node;
- `debugtool ps -H n1..n10` with `--forks 10` and the default 5;
- `--remote-debugtool PATH` over 10 nodes: the installed debugtool on every node, no zipapp.

Goal (issue 20): `ps -H` over 10 nodes within 1.5x of one `ssh NODE debugtool ps`.
Run with `bench/run fleet`; needs root and openssh-server.
"""

from __future__ import annotations

import os
import sys

from common import DEBUGTOOL, ROOT, interleaved, report

NODES = 10
RUNS = 10


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import fleet

    with fleet.Fleet(NODES) as made:
        os.environ.update(made.env())  # every run below: the fleet's ssh_config and caches
        installed = DEBUGTOOL[0]
        every = made.names()
        one = ["ssh", "-F", str(made.config), "-T", "-o", "BatchMode=yes", "n1", installed, "ps"]
        pairs: list[tuple[str, list[str]]] = [
            ("ssh n1 debugtool ps (installed)", one),
            ("debugtool ps -H n1 (zipapp, cached)", [*DEBUGTOOL, "ps", "-H", "n1"]),
            (
                f"debugtool ps -H {NODES} nodes --forks {NODES}",
                [*DEBUGTOOL, "ps", "-H", every, "--forks", str(NODES)],
            ),
            (f"debugtool ps -H {NODES} nodes (forks 5)", [*DEBUGTOOL, "ps", "-H", every]),
            (
                f"debugtool ps -H {NODES} nodes --remote-debugtool",
                [*DEBUGTOOL, "ps", "-H", every, "--forks", str(NODES)]
                + ["--remote-debugtool", installed],
            ),
        ]
        measures = interleaved(pairs, runs=RUNS, warmup=1)
        report(
            f"ps over {NODES} nodes (namespaces on this 2-core host) vs one ssh NODE debugtool ps",
            measures,
            goal="ps -H over 10 nodes <= 1.5x one ssh NODE debugtool ps",
        )


if __name__ == "__main__":
    main()
