"""Benchmark ``debugtool net`` on a container holding 10,000 TCP sockets, against ``ss -tanp``.

A Docker busybox container gets a socket holder: the host's Python, entered into the container's
network and PID namespaces with nsenter (the image has no Python), opens a listener on
127.0.0.1 and connects 4,999 clients to it, all on the container's own loopback, then holds the
sockets until its stdin closes (or ten minutes pass). Both tools then list every socket with its
owning process, interleaved: ``debugtool net ID --json`` (every section: interfaces, routes,
TCP/UDP/raw/UNIX sockets, owners, DNS) and ``nsenter -t PID -n ss -tanp`` (TCP only), beside
floor_net.py, the smallest Python program that does the socket work (the same dumps, owners and
JSON fields). ``DEBUGTOOL_BENCH_BEFORE=/path/to/other/venv/bin/debugtool`` adds that build's
``net ID --json`` to the same rounds.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

from common import DEBUGTOOL, FLOOR_NET, cpu_report, interleaved, measure_call, report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.target import Target

harness = importlib.import_module("harness")  # importable once common put tests/ on sys.path

PAIRS = 4999  # + their accepted ends + the listener = 9,999 sockets, plus the runtime's own

HOLDER = r"""
import resource, select, socket, sys, time
pairs = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (2 * pairs + 100, 2 * pairs + 100))
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1024)
port = listener.getsockname()[1]
keep = [listener]
for _ in range(pairs):
    client = socket.create_connection(("127.0.0.1", port))
    keep += [client, listener.accept()[0]]
print("ready", len(keep), flush=True)
select.select([sys.stdin], [], [], 600)  # until the benchmark closes stdin, at most 10 min
"""


def phases(target_text: str) -> None:
    """Time the parts of one ``debugtool net --json`` in this process, to show where it goes."""
    import io

    from debugtool.collect.network import collect_network
    from debugtool.commands.net import write_json
    from debugtool.runtimes import discover
    from debugtool.target import find, pin

    found = discover(all=True)
    target = pin(find(target_text, found))
    # First, while no ten thousand sockets are kept alive to lengthen every garbage collection.
    collector_phases(target)
    network = collect_network(target)
    report(
        "where the time of debugtool net --json goes (in-process, no interpreter start)",
        [
            measure_call(
                "discover every runtime + pin",
                lambda: pin(find(target_text, discover(all=True))).close(),
                runs=10,
            ),
            measure_call("collect_network", lambda: collect_network(target), runs=10),
            measure_call("write_json", lambda: write_json(network, stream=io.StringIO()), runs=10),
        ],
    )
    target.close()


def collector_phases(target: Target) -> None:
    """Split collect_network: the sock_diag dumps and their parsing, the owner scan (one readlink
    an fd), attributing and sorting, and the owner scan's syscalls alone (the kernel's share)."""
    import os

    from debugtool import procfs
    from debugtool.collect import network as collector

    netns, pidns = target.namespaces["net"], target.namespaces.get("pid")
    route, diag = collector._open_sockets(target)
    if route is not None:
        route.close()

    def read_sockets() -> None:
        collector.read_sockets(target, diag, [])

    def scan_owners() -> None:
        collector.socket_owners(netns, pidns, target.pid)

    def readlinks_alone() -> None:
        for pid in procfs.members(netns, "net"):
            dirfd = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
            for name in os.listdir(dirfd):
                os.readlink(name, dir_fd=dirfd)
            os.close(dirfd)

    try:
        measures = [
            measure_call("collect_network", lambda: collector.collect_network(target)),
            measure_call("  read_sockets (sock_diag dumps, parsing)", read_sockets),
            measure_call("  socket_owners (ns/net scan, fd links)", scan_owners),
        ]
        # Only now, so that no row above pays garbage collections over these ten thousand.
        sockets = collector.read_sockets(target, diag, [])
        owners = collector.socket_owners(netns, pidns, target.pid)

        def attribute_and_sort() -> None:
            collector.attribute(sockets, owners)
            sorted(sockets, key=collector.sort_key)

        measures.append(measure_call("  attribute + sort", attribute_and_sort))
        measures.append(measure_call("  floor: listdir + readlink of those fds", readlinks_alone))
        report(f"where collect_network's time goes ({len(sockets)} sockets, in-process)", measures)
    finally:
        if diag is not None:
            diag.close()


def main() -> None:
    harness.ensure_images()
    with harness.Containers() as containers:
        c = containers.docker("--ulimit", "nofile=20000:20000")
        holder = subprocess.Popen(
            ["nsenter", "-t", str(c.pid), "-n", "-p", sys.executable, "-c", HOLDER, str(PAIRS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            line = holder.stdout.readline().split()
            if not line or line[0] != "ready":
                raise SystemExit("the socket holder did not start")
            count = harness.run("nsenter", "-t", str(c.pid), "-n", "ss", "-tanH").count("\n")
            print(f"container {c.name}: {count} TCP sockets in its network namespace\n")
            pairs = [
                ("debugtool net ID --json", [*DEBUGTOOL, "net", c.id, "--json"]),
                (
                    "debugtool net ID --sockets-only --json",
                    [*DEBUGTOOL, "net", c.id, "--sockets-only", "--json"],
                ),  # fmt: skip
                ("debugtool net ID (table)", [*DEBUGTOOL, "net", c.id]),
                ("nsenter -t PID -n ss -tanp", ["nsenter", "-t", str(c.pid), "-n", "ss", "-tanp"]),
                ("floor_net.py PID (the socket work)", [*FLOOR_NET, str(c.pid)]),
            ]
            before = os.environ.get("DEBUGTOOL_BENCH_BEFORE")
            if before:  # another build's debugtool (its venv's script), in the same rounds
                pairs.append(("BEFORE net ID --json", [before, "net", c.id, "--json"]))
            runs = int(os.environ.get("BENCH_RUNS", "10"))
            measures = interleaved(pairs, runs=runs, warmup=2)
            report(
                f"debugtool net vs ss -tanp, {count} TCP sockets with owners",
                measures,
                baseline=3,
                goal="debugtool within 2x of ss -tanp",
            )
            cpu_report(measures)
            phases(c.id)
        finally:
            if holder.stdin:
                holder.stdin.close()
            try:
                holder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()


if __name__ == "__main__":
    main()
