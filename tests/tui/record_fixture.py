"""Record tests/fixtures/tui/snapshot.json: a real Snapshot of a Docker container, made stable.

Run as root: ``.venv/bin/python tests/tui/record_fixture.py``. It starts one busybox container
with a web server, a shell loop and a sleep, limits on memory, CPU and PIDs, a read-only root and
a bind mount, collects it with debugtool's collectors, removes it, and pins every value that
changes from run to run (times, CPU %, counters) so the TUI's pictures are deterministic.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

import harness  # noqa: E402

from debugtool.collect import collect_snapshot  # noqa: E402
from debugtool.runtimes import discover  # noqa: E402
from debugtool.target import find, pin  # noqa: E402

OUT = HERE.parent / "fixtures" / "tui" / "snapshot.json"
TAKEN_AT = 1795000000.0  # 2026-11-18 11:06:40 UTC


def main() -> None:
    harness.ensure_images()
    data = "/var/tmp/debugtool-tui-fixture"  # a fixed path: it shows in the Mounts picture
    Path(data).mkdir(parents=True, exist_ok=True)
    with harness.Containers() as containers:
        started = containers.docker(
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "100",
            "--read-only",
            "--cap-drop",
            "NET_RAW",
            "-v",
            f"{data}:/data",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            name="tui-fixture-web",
            cmd=(
                "/bin/sh",
                "-c",
                "/bin/busybox httpd -f -p 8080 & sleep 100000 | nc -l -p 9000 & sleep 0.3; "
                "sleep 100000 | nc 127.0.0.1 9000 & (while true; do sleep 5; done) & sleep 100000",
            ),
        )
        time.sleep(1.5)
        container = find(started.id, discover(["docker"]))
        with pin(container) as target:
            snap = collect_snapshot(target, network=True)
    snap.taken_at = TAKEN_AT
    snap.hostname = "debug-host"
    snap.container.created = TAKEN_AT - 3600
    snap.container.metadata = {}
    snap.cgroup.sampled_at = TAKEN_AT
    snap.cgroup.cpu_usage_ns = 123_456_789_000
    snap.cgroup.io_read_bytes, snap.cgroup.io_write_bytes = 4_096_000, 1_024_000
    for n, process in enumerate(sorted(snap.processes, key=lambda p: p.nspid or 0)):
        process.cpu_percent = [0.0, 2.5, 0.3, 0.0][n % 4]
        process.start_time = TAKEN_AT - 3600 + n
        process.rss = (n + 1) * 512 * 1024
    for interface in snap.network.interfaces:
        interface.rx_bytes, interface.rx_packets = 1_234_567, 2_345
        interface.tx_bytes, interface.tx_packets = 765_432, 1_234
    OUT.write_text(snap.to_json() + "\n")
    print(
        f"wrote {OUT}: {len(snap.processes)} processes, {len(snap.mounts)} mounts, "
        f"{len(snap.network.sockets)} sockets, errors {snap.errors}"
    )


if __name__ == "__main__":
    main()
