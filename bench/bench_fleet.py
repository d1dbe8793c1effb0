"""`debugtool ps -H` over 10 nodes against one `ssh NODE debugtool ps`.

The nodes are network namespaces with an sshd each (tests/fleet.py), on this machine: they
share its two cores, so ten nodes answering at once compete for the CPU that one node has to
itself (each answer is an ssh handshake on both ends and a Python start on the node), and the
ten-node rows measure this machine's CPU as much as debugtool. The one-node rows say what
debugtool's transport costs over the same `ssh`; on real nodes, which answer in parallel on
CPUs of their own, `ps -H` over N nodes is about the slowest node's one-node time.

Rows, interleaved:

- the peer: `ssh NODE debugtool ps` with the installed debugtool of the benchmark venv (what a
  user does by hand on one node), and the same ten times in a row (by hand, or `sos collect`'s
  serial model);
- `debugtool ps -H n1`: one node through debugtool's transport, its zipapp cached on the node;
- `debugtool ps -H n1..n10` with `--forks 10`, and with the default 5;
- the same with the user's `ControlMaster auto` / `ControlPersist` in the ssh_config, which
  debugtool leaves to ssh as it is (the handshake is then paid once per node, not per run);
- the floor: the same ten `ssh NODE debugtool ps` started at once by the shell, with nothing of
  debugtool's on this side;
- `python3` as the node's PATH finds it (here a pyenv shim, see below) and `/usr/bin/python3`
  named by the inventory's `ansible_python_interpreter`.

Goal (issue 20): `ps -H` over 10 nodes within 1.5x of one `ssh NODE debugtool ps`.
Run with `bench/run fleet`; needs root and openssh-server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from common import DEBUGTOOL, ROOT, interleaved, report

NODES = 10
RUNS = 7


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import fleet

    with fleet.Fleet(NODES) as made:
        os.environ.update(made.env())  # every run below: the fleet's ssh_config and caches
        installed = DEBUGTOOL[0]
        every = made.names()
        shared = made.dir / "ssh_config.controlmaster"
        shared.write_text(
            made.config.read_text().replace(
                "Host *\n",
                f"Host *\n    ControlMaster auto\n    ControlPath {made.dir}/cm-%h\n"
                "    ControlPersist 600\n",
                1,
            )
        )

        def ssh(config: object, node: str) -> list[str]:
            return ["ssh", "-F", str(config), "-T", "-o", "BatchMode=yes", node, installed, "ps"]

        inv = ["--inventory", str(made.inventory())]  # the nodes' python named (see there)
        cm = ["--ssh-config", str(shared)]
        serial = " ; ".join(" ".join(ssh(made.config, n.name)) + " >/dev/null" for n in made.nodes)
        # The floor of "ten nodes at once": the same ten ssh commands started together by the
        # shell, with no debugtool on this side (no zipapp, no merging, no table).
        together = (
            " ".join(" ".join(ssh(made.config, n.name)) + " >/dev/null &" for n in made.nodes)
            + " wait"
        )
        pairs: list[tuple[str, list[str]]] = [
            ("ssh n1 debugtool ps (installed)", ssh(made.config, "n1")),
            ("ssh n1 debugtool ps, ControlMaster", ssh(shared, "n1")),
            ("debugtool ps -H n1 (python3 on PATH)", [*DEBUGTOOL, "ps", "-H", "n1"]),
            ("debugtool ps -H n1 (/usr/bin/python3)", [*DEBUGTOOL, "ps", "-H", "n1", *inv]),
            (
                "debugtool ps -H n1 (/usr/bin/python3), CM",
                [*DEBUGTOOL, "ps", "-H", "n1", *inv, *cm],
            ),
            (
                f"ps -H {NODES} nodes --forks {NODES} (python3 on PATH)",
                [*DEBUGTOOL, "ps", "-H", every, "--forks", str(NODES)],
            ),
            (
                f"ps -H {NODES} nodes --forks {NODES} (/usr/bin/python3)",
                [*DEBUGTOOL, "ps", "-H", "@nodes", "--forks", str(NODES), *inv],
            ),
            (
                f"ps -H {NODES} nodes --forks {NODES} (/usr/bin/python3), CM",
                [*DEBUGTOOL, "ps", "-H", "@nodes", "--forks", str(NODES), *inv, *cm],
            ),
            (
                f"ps -H {NODES} nodes (forks 5, /usr/bin/python3)",
                [*DEBUGTOOL, "ps", "-H", "@nodes", *inv],
            ),
            (f"ssh NODE debugtool ps, {NODES} in a row", ["sh", "-c", serial]),
            (f"ssh NODE debugtool ps, {NODES} at once (floor)", ["sh", "-c", together]),
        ]
        try:
            measures = interleaved(pairs, runs=RUNS, warmup=1)
        finally:
            for node in made.nodes:  # the masters run on this side: end each by its socket
                subprocess.run(
                    ["ssh", "-F", str(shared), "-O", "exit", node.name], capture_output=True
                )
        report(
            f"ps over {NODES} nodes (namespaces on this 2-core host) vs one ssh NODE debugtool ps",
            measures,
            goal="ps -H over 10 nodes <= 1.5x one ssh NODE debugtool ps",
        )


if __name__ == "__main__":
    main()
