"""Helpers of the TUI tests: a Source fed from the recorded Snapshot, a fixed clock, a recorder."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from debugtool_tui.commands import Finished

from debugtool.audit import Record
from debugtool.errors import ContainerNotRunning
from debugtool.model import Container
from debugtool.runtimes import Discovery
from debugtool.snapshot import CgroupStats, Process, Snapshot

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tui" / "snapshot.json"
NOW = 1795000000.0  # the recorded snapshot's time: 2026-11-18 11:06:40 UTC


def recorded() -> Snapshot:
    """Return the Snapshot recorded from a real Docker container (tests/tui/record_fixture.py)."""
    return Snapshot.from_json(FIXTURE.read_text())


def other_containers() -> list[Container]:
    """Return hand-made neighbours of the recorded container: a pod, an exited one, a sandbox."""
    return [
        Container(
            id="7a1c" + "0" * 60,
            name="api",
            runtime="containerd",
            namespace="k8s.io",
            image="registry.local/shop/api:1.4.2",
            status="running",
            pid=4242,
            pod="api-7f9c6d-x2x4q",
            pod_namespace="shop",
            k8s_container="api",
            created=NOW - 86400,
        ),
        Container(
            id="9e3b" + "1" * 60,
            name="nightly-report",
            runtime="docker",
            image="debugtool-test/busybox:latest",
            status="exited",
            created=NOW - 7200,
            # Its last run failed an hour ago (issue 18).
            exit_code=1,
            restart_count=0,
            started_at=NOW - 3700,
            finished_at=NOW - 3600,
        ),
        Container(
            id="pid-5151",
            name="unshare",
            runtime="none",
            status="running",
            pid=5151,
            backends=["none"],
        ),
    ]


def crash_looping() -> Container:
    """A Docker container caught in a crash loop: restarting, 14 restarts in 280 s."""
    return Container(
        id="c4a5" + "2" * 60,
        name="queue-worker",
        runtime="docker",
        image="registry.local/shop/worker:2.0",
        status="restarting",
        created=NOW - 280,
        exit_code=3,
        restart_count=14,
        started_at=NOW - 12,
        finished_at=NOW - 11,
    )


def oom_killed() -> Container:
    """A Docker container the kernel OOM-killed under its memory limit, ten minutes ago."""
    return Container(
        id="0e11" + "3" * 60,
        name="image-resizer",
        runtime="docker",
        image="registry.local/shop/resizer:1.1",
        status="exited",
        created=NOW - 900,
        exit_code=137,
        oom_killed=True,
        restart_count=0,
        started_at=NOW - 660,
        finished_at=NOW - 600,
    )


def sample(cpu_ns: int, at: float, memory: int, limit: int | None) -> CgroupStats:
    return CgroupStats(
        version="hybrid",
        sampled_at=at,
        memory_usage=memory,
        memory_limit=limit,
        cpu_usage_ns=cpu_ns,
        pids_current=3,
        pids_max=None,
        io_read_bytes=1000,
        io_write_bytes=2000,
    )


def host_sample(at: float) -> CgroupStats:
    """A sample of a cgroup shared with the host: no usage (``LiveSource.cgroup``)."""
    return CgroupStats(version="hybrid", sampled_at=at, shared_with_host=True)


WEB_ID = recorded().container.id

AUDIT = [
    {
        "time": "2026-11-18T08:20:00+0000",
        "user": "root",
        "sudo_user": "alice",
        "login_user": "alice",
        "action": "exec",
        "mode": "runtime",
        "target_id": WEB_ID,
        "argv": ["/bin/sh"],
        "exit_code": 0,
        "session": "5e55c0de5e55c0de",
        "reason": "INC-4711: web answers 502",
        "recording": "recordings/5e55c0de5e55c0de.cast",
        "recording_sha256": "0" * 64,
    },
    {
        "time": "2026-11-18T08:22:10+0000",
        "user": "root",
        "action": "trace",
        "mode": "ptrace",
        "target_id": WEB_ID,
        "argv": ["trace", "--pid", "7"],
        "exit_code": 130,
    },
    {"time": "2026-11-18T08:23:00+0000", "user": "root", "target_id": "other", "argv": ["x"]},
]


class FixtureSource:
    """A Source that answers from the recorded Snapshot and fixed records; counts its calls."""

    def __init__(
        self,
        live: bool = False,
        read_only: bool = False,
        banner: str = "",
        extra_processes: int = 0,
    ) -> None:
        self.live = live
        self.read_only = read_only
        self._banner = banner
        self.snapshot_calls: list[tuple[str, bool]] = []
        self.listing_calls = 0
        self.cgroup_calls = 0
        self.fail_next: Exception | None = None
        self.removed: set[str] = set()
        self.added: list[Container] = []
        self.base = recorded()
        if extra_processes:
            init = self.base.processes[0]
            for n in range(extra_processes):
                self.base.processes.append(
                    Process(
                        pid=100000 + n,
                        nspid=1000 + n,
                        ppid=init.pid,
                        nsppid=1,
                        user="app",
                        state="S",
                        name="worker",
                        cmdline=["worker", f"--shard={n}"],
                        cpu_percent=float(n % 7),
                        rss=1024 * (n + 1),
                    )
                )

    def banner(self, now: float) -> str:
        return self._banner

    def containers(self) -> Discovery:
        self.listing_calls += 1
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        found = [copy.deepcopy(self.base.container), *other_containers(), *self.added]
        return Discovery(containers=[c for c in found if c.id not in self.removed])

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        self.snapshot_calls.append((container.id, network))
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        if container.id == self.base.container.id:
            return copy.deepcopy(self.base)
        if not container.running:
            raise ContainerNotRunning(f"container {container.name} is not running.")
        return Snapshot(container=container, taken_at=NOW)

    def cgroup(self, container: Container) -> CgroupStats | None:
        self.cgroup_calls += 1
        if container.id == self.base.container.id:
            return copy.deepcopy(self.base.cgroup)
        if container.runtime == "none":
            return host_sample(NOW)  # a bare sandbox left in its parent's cgroup
        if container.running:
            return sample(5_000_000_000, NOW, 50 * 1024 * 1024, 256 * 1024 * 1024)
        return None

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        return []

    def audit(self, container: Container) -> list[dict[str, Any]]:
        return [r for r in map(Record.from_dict, AUDIT) if r.about(container)]

    def close(self) -> None:
        pass


def seed_usage(app: Any) -> None:
    """Give every running fixture container an earlier sample, so CPU % shows at once."""
    base = recorded()
    earlier = copy.deepcopy(base.cgroup)
    earlier.sampled_at -= 1.0
    earlier.cpu_usage_ns -= 125_000_000  # 12.5% of a core over that second
    app.usage.add(base.container.id, earlier)
    for c in other_containers():
        if c.runtime == "none":
            app.usage.add(c.id, host_sample(NOW - 1))
        elif c.running:
            app.usage.add(c.id, sample(4_600_000_000, NOW - 1, 50 * 1024 * 1024, None))


class Recorder:
    """Captures the command lines the app would run, instead of running them."""

    def __init__(self) -> None:
        self.terminal: list[tuple[list[str], bool]] = []
        self.hints: list[str] = []
        self.background: list[list[str]] = []

    def run_terminal(self, app: Any, argv: list[str], pause: bool, hint: str = "") -> int:
        self.terminal.append((argv, pause))
        self.hints.append(hint)
        return 0

    def run_background(self, argv: list[str], progress: Callable[[str], None]) -> Finished:
        self.background.append(argv)
        progress("collecting processes")
        path = argv[argv.index("-o") + 1]
        return Finished(0, f'{{"path": "{path}"}}', "collecting processes\n")


async def settle(pilot: Any) -> None:
    """Wait until the workers finished and their messages were handled."""
    from textual.worker import WorkerFailed

    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the app reports it as a notice; the test looks at that
        await pilot.pause()
